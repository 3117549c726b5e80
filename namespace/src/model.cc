#include "dfs/ns/model.h"

#include <algorithm>
#include <charconv>

#include "dfs/common/error.h"
#include "dfs/ns/path.h"

namespace dfs::ns {
namespace {

// Lowercases and drops `-`, `_` and spaces, so that "global-high",
// "GlobalHigh" and "global_high" are one spelling.
std::string Canon(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '-' || c == '_' || c == ' ') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  return out;
}

Result<uint64_t> ParseUnsigned(std::string_view s, std::string_view what,
                               uint64_t max) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return Fail(
        Errc::kInvalidArgument,
        std::string(what) + " '" + std::string(s) + "' is not a whole number");
  }
  if (v > max) {
    return Fail(Errc::kInvalidArgument,
                std::string(what) + " " + std::string(s) +
                    " is out of range (0-" + std::to_string(max) + ")");
  }
  return v;
}

}  // namespace

std::string Target::Key() const { return FoldCase(Unc()); }

std::string_view ToString(State s) {
  return s == State::kOnline ? "online" : "offline";
}

std::string_view ToString(PriorityClass c) {
  switch (c) {
    case PriorityClass::kGlobalHigh:
      return "globalHigh";
    case PriorityClass::kSiteCostHigh:
      return "siteCostHigh";
    case PriorityClass::kSiteCostNormal:
      return "siteCostNormal";
    case PriorityClass::kSiteCostLow:
      return "siteCostLow";
    case PriorityClass::kGlobalLow:
      return "globalLow";
  }
  return "siteCostNormal";
}

std::string_view ToString(OrderingMethod m) {
  switch (m) {
    case OrderingMethod::kLowestCost:
      return "lowestCost";
    case OrderingMethod::kRandom:
      return "random";
    case OrderingMethod::kInSiteOnly:
      return "inSiteOnly";
  }
  return "lowestCost";
}

std::string_view ToString(Failback f) {
  switch (f) {
    case Failback::kInherit:
      return "inherit";
    case Failback::kOn:
      return "on";
    case Failback::kOff:
      return "off";
  }
  return "inherit";
}

Result<State> ParseState(std::string_view s) {
  std::string c = Canon(s);
  if (c == "online" || c == "on") return State::kOnline;
  if (c == "offline" || c == "off") return State::kOffline;
  return Fail(Errc::kInvalidArgument,
              "state '" + std::string(s) + "' is not online or offline");
}

Result<PriorityClass> ParsePriorityClass(std::string_view s) {
  std::string c = Canon(s);
  if (c == "first" || c == "globalhigh") return PriorityClass::kGlobalHigh;
  if (c == "last" || c == "globallow") return PriorityClass::kGlobalLow;
  if (c == "high" || c == "sitecosthigh") return PriorityClass::kSiteCostHigh;
  if (c == "low" || c == "sitecostlow") return PriorityClass::kSiteCostLow;
  if (c == "normal" || c == "sitecostnormal" || c == "default") {
    return PriorityClass::kSiteCostNormal;
  }
  return Fail(Errc::kInvalidArgument,
              "priority class '" + std::string(s) +
                  "' is not one of first (globalHigh), high (siteCostHigh), "
                  "normal (siteCostNormal), low (siteCostLow), last "
                  "(globalLow)");
}

Result<OrderingMethod> ParseOrderingMethod(std::string_view s) {
  std::string c = Canon(s);
  if (c == "lowestcost" || c == "cost" || c == "site") {
    return OrderingMethod::kLowestCost;
  }
  if (c == "random") return OrderingMethod::kRandom;
  if (c == "insiteonly" || c == "insite") return OrderingMethod::kInSiteOnly;
  return Fail(Errc::kInvalidArgument,
              "ordering method '" + std::string(s) +
                  "' is not one of lowestCost, random, inSiteOnly");
}

Result<bool> ParseOnOff(std::string_view s) {
  std::string c = Canon(s);
  if (c == "on" || c == "true" || c == "yes" || c == "1" || c == "enable" ||
      c == "enabled") {
    return true;
  }
  if (c == "off" || c == "false" || c == "no" || c == "0" || c == "disable" ||
      c == "disabled") {
    return false;
  }
  return Fail(Errc::kInvalidArgument,
              "'" + std::string(s) + "' is not on or off");
}

Result<Failback> ParseFailback(std::string_view s) {
  if (Canon(s) == "inherit") return Failback::kInherit;
  auto on = ParseOnOff(s);
  if (!on) {
    return Fail(Errc::kInvalidArgument,
                "failback '" + std::string(s) + "' is not on, off or inherit");
  }
  return *on ? Failback::kOn : Failback::kOff;
}

Result<uint32_t> ParseTtl(std::string_view s) {
  DFS_ASSIGN_OR_RETURN(uint64_t v, ParseUnsigned(s, "TTL", kMaxTtlSeconds));
  return static_cast<uint32_t>(v);
}

Result<uint32_t> ParseSiteCost(std::string_view s) {
  DFS_ASSIGN_OR_RETURN(uint64_t v, ParseUnsigned(s, "site cost", kMaxSiteCost));
  return static_cast<uint32_t>(v);
}

Result<uint8_t> ParsePriorityRank(std::string_view s) {
  DFS_ASSIGN_OR_RETURN(uint64_t v,
                       ParseUnsigned(s, "priority rank", kMaxPriorityRank));
  return static_cast<uint8_t>(v);
}

}  // namespace dfs::ns
