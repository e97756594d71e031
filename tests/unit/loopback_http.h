// A loopback HTTP server for the tests of the HTTP client, the signed AWS
// calls and the credential chain: each request (one per connection) is
// recorded and answered with the bytes `respond` returns, raw, so a test
// can answer anything a hostile or broken server might: a status with
// headers, a huge body, nothing at all (the connection closed), after a
// delay. Also environment variables set for one test and restored after.
#ifndef FLOPSMETER_TESTS_UNIT_LOOPBACK_HTTP_H_
#define FLOPSMETER_TESTS_UNIT_LOOPBACK_HTTP_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace flopsmeter::testing {

struct LoopbackRequest {
  std::string method;
  std::string target;                         // path and query
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// "HTTP/1.1 STATUS X\r\nContent-Length: N\r\n" + headers + "\r\n" + body.
inline std::string http_answer(int status, const std::string& body, const std::string& headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + headers + "\r\n" + body;
}

class LoopbackHttp {
 public:
  // The bytes to answer with; "" closes the connection without an answer.
  using Responder = std::function<std::string(const LoopbackRequest&)>;

  explicit LoopbackHttp(Responder respond) : respond_(std::move(respond)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackHttp() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<LoopbackRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      std::optional<LoopbackRequest> request = read_request(connection);
      if (request) {
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(*request);
        }
        const std::string answer = respond_(*request);
        for (size_t sent = 0; sent < answer.size();) {
          const ssize_t n = ::send(connection, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
          if (n <= 0) break;
          sent += static_cast<size_t>(n);
        }
      }
      ::close(connection);
    }
  }

  static std::optional<LoopbackRequest> read_request(int connection) {
    std::string data;
    char buffer[65536];
    size_t header_end = std::string::npos;
    size_t wanted = 0;
    while (true) {
      pollfd p{connection, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return std::nullopt;
      const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
      if (n <= 0) return std::nullopt;
      data.append(buffer, static_cast<size_t>(n));
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        const size_t length = lower(data.substr(0, header_end)).find("content-length:");
        wanted = length == std::string::npos ? 0 : std::stoul(data.substr(length + 15));
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + wanted) break;
    }
    LoopbackRequest r;
    const std::string head = data.substr(0, header_end);
    r.method = head.substr(0, head.find(' '));
    r.target = head.substr(head.find(' ') + 1, head.find(' ', head.find(' ') + 1) - head.find(' ') - 1);
    for (size_t at = head.find("\r\n"); at != std::string::npos;) {
      const size_t next = head.find("\r\n", at + 2);
      const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) r.headers[lower(line.substr(0, colon))] = line.substr(line.find_first_not_of(' ', colon + 1));
      at = next;
    }
    r.body = data.substr(header_end + 4);
    return r;
  }

  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  Responder respond_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<LoopbackRequest> requests_;
};

// Sets (or, with nullptr, unsets) environment variables for its lifetime.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::initializer_list<std::pair<const char*, const char*>> values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old == nullptr ? std::nullopt : std::optional<std::string>(old));
      value == nullptr ? ::unsetenv(name) : ::setenv(name, value, 1);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) value ? ::setenv(name.c_str(), value->c_str(), 1) : ::unsetenv(name.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace flopsmeter::testing

#endif  // FLOPSMETER_TESTS_UNIT_LOOPBACK_HTTP_H_
