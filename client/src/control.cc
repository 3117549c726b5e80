#include "dfs/client/control.h"

#include <nlohmann/json.hpp>

#include "dfs/common/error.h"

namespace dfs::client {

using Json = nlohmann::json;

Result<ControlRequest> ParseControlRequest(std::string_view line) {
  if (line.size() > kMaxControlRequestBytes) {
    return Fail(Errc::kLimitExceeded,
                "control request over " +
                    std::to_string(kMaxControlRequestBytes) + " bytes");
  }
  Json doc = Json::parse(line, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("command") ||
      !doc["command"].is_string()) {
    return Fail(Errc::kInvalidArgument,
                "control request: not {\"command\": ...}");
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "command" && key != "path") {
      return Fail(Errc::kInvalidArgument,
                  "control request: unknown key " + Json(key).dump());
    }
  }
  ControlRequest request;
  const std::string command = doc["command"].get<std::string>();
  if (command == "pktinfo") {
    request.command = ControlCommand::kPktInfo;
  } else if (command == "pktflush") {
    request.command = ControlCommand::kPktFlush;
  } else if (command == "fail") {
    request.command = ControlCommand::kFail;
  } else {
    return Fail(Errc::kInvalidArgument,
                "control request: unknown command " + Json(command).dump());
  }
  if (doc.contains("path")) {
    if (!doc["path"].is_string()) {
      return Fail(Errc::kInvalidArgument, "control request: path not a string");
    }
    request.path = doc["path"].get<std::string>();
    if (request.path.size() > kMaxControlPathBytes) {
      return Fail(Errc::kLimitExceeded, "control request: path too long");
    }
  }
  if (request.command == ControlCommand::kFail && request.path.empty()) {
    return Fail(Errc::kInvalidArgument, "control request: fail needs a path");
  }
  return request;
}

std::string EncodeControlRequest(const ControlRequest& request) {
  Json doc;
  switch (request.command) {
    case ControlCommand::kPktInfo:
      doc["command"] = "pktinfo";
      break;
    case ControlCommand::kPktFlush:
      doc["command"] = "pktflush";
      break;
    case ControlCommand::kFail:
      doc["command"] = "fail";
      break;
  }
  if (!request.path.empty()) doc["path"] = request.path;
  // Invalid UTF-8 in a path is replaced rather than thrown on: the
  // server then answers "not found" for it.
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace dfs::client
