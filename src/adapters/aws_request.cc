#include "adapters/aws_request.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>
#include <thread>

#include <curl/curl.h>

#include "adapters/sha256.h"
#include "adapters/sigv4.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

// Backoff between attempts: 0.25 s doubling to at most 8 s, each wait
// between half and all of it (jitter, so that many clients retrying at
// once spread out). A server's Retry-After is waited for up to 30 s;
// asked to wait longer, the call gives up rather than hang a command.
constexpr double kFirstBackoffS = 0.25;
constexpr double kLongestBackoffS = 8;
constexpr double kLongestRetryAfterS = 30;
constexpr size_t kLongestQuotedMessage = 300;

double backoff_s(uint32_t attempt) {
  thread_local std::mt19937 random{std::random_device{}()};
  const double ceiling = std::min(kLongestBackoffS, kFirstBackoffS * std::pow(2.0, attempt - 1));
  return std::uniform_real_distribution<double>(ceiling / 2, ceiling)(random);
}

std::string shortened(std::string_view text) {
  std::string out = printable_text(text.substr(0, kLongestQuotedMessage));
  return text.size() > kLongestQuotedMessage ? out + "..." : out;
}

std::string attempts_text(uint32_t attempts) {
  return attempts > 1 ? " (after " + std::to_string(attempts) + " attempts)" : "";
}

bool passing_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

bool one_of(const std::string& code, std::initializer_list<const char*> codes) {
  return std::any_of(codes.begin(), codes.end(), [&](const char* c) { return code == c; });
}

// "ahead of" / "behind" the server's Date by how much, when it sent one.
std::string clock_offset(const HttpResponse& answer) {
  const auto date = answer.headers.find("date");
  const time_t server = date == answer.headers.end() ? -1 : curl_getdate(date->second.c_str(), nullptr);
  if (server < 0) return "this machine's clock is off";
  const double ahead = std::difftime(std::time(nullptr), server);
  return "this machine's clock is " + std::to_string(static_cast<long>(std::fabs(ahead))) + " s " +
         (ahead >= 0 ? "ahead of" : "behind") + " the store's";
}

// The time a request is signed at, as x-amz-date gives it.
std::string amz_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[20];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

// `request` signed for `service` now: the host, x-amz-date and session
// token headers it needs, then its Authorization. Each attempt is signed
// anew (a signature is good for minutes).
HttpRequest signed_request(const AwsService& service, const HttpRequest& request) {
  HttpRequest r = request;
  std::string payload;
  for (const auto& [name, value] : r.headers) {
    if (name == "x-amz-content-sha256") payload = value;
  }
  if (payload.empty()) payload = sha256_hex(r.body);
  const size_t authority = r.url.find("://") + 3;
  const size_t path = std::min(r.url.find('/', authority), r.url.size());
  const size_t query = std::min(r.url.find('?', path), r.url.size());
  const std::string date = amz_date_now();
  r.headers.emplace_back("Host", r.url.substr(authority, path - authority));
  r.headers.emplace_back("X-Amz-Date", date);
  const AwsCredentials& c = *service.credentials;
  if (!c.session_token.empty()) r.headers.emplace_back("X-Amz-Security-Token", c.session_token);
  const SigV4Request to_sign{r.method, r.url.substr(path, query - path),
                             query < r.url.size() ? r.url.substr(query + 1) : "", r.headers, payload};
  r.headers.emplace_back("Authorization", sigv4_sign(to_sign, c, service.region, service.name, date).authorization);
  return r;
}

}  // namespace

Result<AwsAnswer> aws_call(const AwsService& service, HttpRequest request, bool idempotent,
                           AwsErrorReader read_error, std::string_view what) {
  request.timeout_s = service.timeout_s;
  const uint32_t attempts = std::max<uint32_t>(1, service.attempts);
  const auto started = std::chrono::steady_clock::now();
  for (uint32_t attempt = 1;; ++attempt) {
    FM_ASSIGN_OR_RETURN(HttpResponse response, http_send(signed_request(service, request)));
    std::optional<double> wait;
    if (response.failure == HttpFailure::kNone) {
      if (response.status / 100 == 2) return AwsAnswer{std::move(response), std::nullopt, attempt};
      AwsError error = read_error(response);
      error.passing = error.passing || passing_status(response.status);
      wait = response.retry_after_s();
      if (!error.passing || attempt >= attempts || wait.value_or(0) > kLongestRetryAfterS) {
        return AwsAnswer{std::move(response), std::move(error), attempt};
      }
    } else {
      const bool never_left = response.failure == HttpFailure::kConnect;
      if (!idempotent && !never_left) {
        return Status::IoError(std::string(what) + ": " + shortened(response.error) +
                               "; not tried again: the request is not safe to repeat, and the store may have "
                               "acted on it");
      }
      if (attempt >= attempts) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return Status::IoError(std::string(what) + ": " + shortened(response.error) +
                               (attempt > 1 ? " (after " + std::to_string(attempt) + " attempts over " +
                                                  std::to_string(static_cast<long>(seconds)) + " s)"
                                            : ""));
      }
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(wait.value_or(backoff_s(attempt))));
  }
}

Status aws_error_status(const AwsService& service, std::string_view what, const AwsAnswer& answer) {
  const AwsError& e = *answer.error;
  const long status = answer.response.status;
  std::string said = std::string(what) + ": HTTP " + std::to_string(status) + (e.code.empty() ? "" : " " + shortened(e.code)) +
                     (e.message.empty() ? "" : ": " + shortened(e.message)) + attempts_text(answer.attempts);
  if (const auto wait = answer.response.retry_after_s(); wait && *wait > kLongestRetryAfterS) {
    said += "; the store asks to wait " + std::to_string(static_cast<long>(*wait)) + " s, longer than flopsmeter waits";
  }
  const bool skew = one_of(e.code, {"RequestTimeTooSkewed", "RequestExpired"}) ||
                    (e.code == "InvalidSignatureException" && e.message.find("Signature expired") != std::string::npos);
  if (skew) return Status::InvalidArgument(said + " (" + clock_offset(answer.response) + ": correct it, with NTP)");
  if (status == 404 || one_of(e.code, {"NoSuchBucket", "NoSuchKey", "NoSuchUpload", "ResourceNotFoundException"})) {
    return Status::NotFound(said);
  }
  if (status == 401 || status == 403 ||
      one_of(e.code, {"UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException",
                      "InvalidClientTokenId", "ExpiredTokenException", "MissingAuthenticationTokenException"})) {
    return Status::InvalidArgument(said + " (credentials from " + service.credentials->source + ")");
  }
  if (status / 100 == 4) return Status::InvalidArgument(said);
  return Status::IoError(said);
}

}  // namespace flopsmeter
