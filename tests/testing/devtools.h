// Headless Chromium kept open on one page, driven over the DevTools
// Protocol (a WebSocket, Boost.Beast): a test reads the live page (what
// its own scripts made of it, without reloading) by evaluating
// expressions in it. Every step is bounded in time.
#pragma once

#include <signal.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "testing/daemon.h"

namespace dfs::testing {

class DevToolsPage {
 public:
  // Starts `chromium` headless on `url` with its profile in `profile`
  // (a folder of the test's); nothing (and `why`) when it does not come up
  // within `limit`.
  static std::unique_ptr<DevToolsPage> Open(
      const std::string& chromium, const std::string& url,
      const std::filesystem::path& profile, std::string& why,
      std::chrono::seconds limit = std::chrono::seconds(30),
      const std::string& window_size = "1100,860") {
    auto page = std::unique_ptr<DevToolsPage>(new DevToolsPage());
    page->browser_ = std::make_unique<Daemon>(std::vector<std::string>{
        chromium, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        "--window-size=" + window_size, "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0", "--user-data-dir=" + profile.string(),
        url});
    const auto deadline = std::chrono::steady_clock::now() + limit;
    // Chromium writes the port it took to DevToolsActivePort.
    std::string port;
    while (port.empty() && std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(profile / "DevToolsActivePort");
      if (!(in >> port)) {
        port.clear();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (port.empty()) {
      why = "chromium wrote no DevToolsActivePort: " +
            page->browser_->Stderr().substr(0, 2000);
      return nullptr;
    }
    page->port_ = port;
    // The page's own endpoint, once it is listed.
    while (std::chrono::steady_clock::now() < deadline) {
      auto list =
          nlohmann::json::parse(page->HttpGet("/json/list"), nullptr, false);
      if (list.is_array()) {
        for (const auto& target : list) {
          if (target.value("type", "") == "page" &&
              target.contains("webSocketDebuggerUrl")) {
            if (page->Connect(target["webSocketDebuggerUrl"], why)) return page;
            return nullptr;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    why = "chromium listed no page";
    return nullptr;
  }

  ~DevToolsPage() {
    if (ws_) {
      boost::system::error_code ignored;
      ws_->next_layer().socket().close(ignored);
    }
    // SIGTERM: chromium shuts its helper processes down with it.
    if (browser_) browser_->Kill(SIGTERM);
  }

  // The value of `expression` evaluated in the page (JSON of it; null
  // when it threw or did not answer within 10 s).
  nlohmann::json Evaluate(const std::string& expression) {
    auto result =
        Call("Runtime.evaluate",
             {{"expression", expression}, {"returnByValue", true}}, 10);
    if (!result || result->contains("exceptionDetails")) return nullptr;
    return (*result)["result"].value("value", nlohmann::json());
  }

  // Writes a PNG of the page as it is now.
  bool Screenshot(const std::filesystem::path& out) {
    auto result = Call("Page.captureScreenshot", {{"format", "png"}}, 20);
    const std::string data = result ? result->value("data", "") : "";
    if (data.empty()) return false;
    std::string png(boost::beast::detail::base64::decoded_size(data.size()),
                    '\0');
    auto [written, read] = boost::beast::detail::base64::decode(
        png.data(), data.data(), data.size());
    png.resize(written);
    std::ofstream(out, std::ios::binary) << png;
    return true;
  }

 private:
  DevToolsPage() = default;

  // One DevTools call: its "result" (nothing when the socket failed or no
  // answer came within `seconds`). Events in between are skipped.
  std::optional<nlohmann::json> Call(const std::string& method,
                                     const nlohmann::json& params,
                                     int seconds) {
    const int id = ++next_id_;
    const nlohmann::json call = {
        {"id", id}, {"method", method}, {"params", params}};
    boost::system::error_code ec;
    ws_->next_layer().expires_after(std::chrono::seconds(seconds));
    ws_->write(boost::asio::buffer(call.dump()), ec);
    while (!ec) {
      boost::beast::flat_buffer buffer;
      ws_->read(buffer, ec);
      if (ec) break;
      auto message = nlohmann::json::parse(
          boost::beast::buffers_to_string(buffer.data()), nullptr, false);
      if (message.is_discarded() || message.value("id", 0) != id) continue;
      return message.value("result", nlohmann::json::object());
    }
    return std::nullopt;
  }

  std::string HttpGet(const std::string& target) {
    namespace http = boost::beast::http;
    boost::beast::tcp_stream stream(io_);
    stream.expires_after(std::chrono::seconds(2));
    boost::system::error_code ec;
    stream.connect({boost::asio::ip::make_address("127.0.0.1"),
                    static_cast<uint16_t>(std::stoi(port_))},
                   ec);
    if (ec) return "";
    http::request<http::empty_body> request(http::verb::get, target, 11);
    request.set(http::field::host, "127.0.0.1:" + port_);
    http::write(stream, request, ec);
    if (ec) return "";
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response, ec);
    return ec ? "" : response.body();
  }

  bool Connect(const std::string& url, std::string& why) {
    // ws://127.0.0.1:PORT/devtools/page/ID
    const size_t path_at = url.find("/devtools/");
    if (path_at == std::string::npos) {
      why = "unexpected DevTools address " + url;
      return false;
    }
    ws_ = std::make_unique<
        boost::beast::websocket::stream<boost::beast::tcp_stream>>(io_);
    boost::system::error_code ec;
    ws_->next_layer().expires_after(std::chrono::seconds(5));
    ws_->next_layer().connect({boost::asio::ip::make_address("127.0.0.1"),
                               static_cast<uint16_t>(std::stoi(port_))},
                              ec);
    if (!ec) ws_->handshake("127.0.0.1:" + port_, url.substr(path_at), ec);
    if (ec) {
      why = "cannot open the DevTools socket: " + ec.message();
      return false;
    }
    // Chromium's messages (a screenshot) can be large.
    ws_->read_message_max(64 << 20);
    return true;
  }

  boost::asio::io_context io_;
  std::unique_ptr<Daemon> browser_;
  std::string port_;
  std::unique_ptr<boost::beast::websocket::stream<boost::beast::tcp_stream>>
      ws_;
  int next_id_ = 0;
};

}  // namespace dfs::testing
