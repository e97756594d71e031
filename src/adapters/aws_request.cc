#include "adapters/aws_request.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>
#include <thread>

#include <curl/curl.h>

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

}  // namespace

Result<AwsAnswer> aws_call(const AwsService& service, HttpRequest request, bool idempotent,
                           AwsErrorReader read_error, std::string_view what) {
  request.signing = AwsSigning{service.region, service.name, service.credentials};
  request.timeout_s = service.timeout_s;
  const uint32_t attempts = std::max<uint32_t>(1, service.attempts);
  const auto started = std::chrono::steady_clock::now();
  for (uint32_t attempt = 1;; ++attempt) {
    FM_ASSIGN_OR_RETURN(HttpResponse response, http_send(request));
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
        return Status::IoError(std::string(what) + ": " + shortened(response.error) + attempts_text(attempt) +
                               (attempt > 1 ? " over " + std::to_string(static_cast<long>(seconds)) + " s" : ""));
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
  if (skew) return Status::InvalidArgument(said + ": " + clock_offset(answer.response) + "; correct it (NTP)");
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
