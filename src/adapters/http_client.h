// HTTP over libcurl, for the stores exports go to (S3, DynamoDB), the
// endpoints that hand out AWS credentials (ECS, EC2 instance metadata) and
// the Hugging Face Hub (hub_fetch.h).
//
//   HttpRequest r;
//   r.method = "PUT";
//   r.url = "https://bucket.s3.eu-west-1.amazonaws.com/runs/a/flops_meter.json";
//   r.headers = {{"Content-Type", "application/json"}};
//   r.body = record_text;
//   FM_ASSIGN_OR_RETURN(HttpResponse answer, http_send(r));
//   if (answer.failure != HttpFailure::kNone) ...;  // no answer: answer.error says why
//
// One attempt per call: retries are the caller's (aws_request.h), which
// knows which requests are safe to repeat. Every answer is bounded: a body
// longer than max_response_bytes, or headers past 64 KiB, fail the attempt
// instead of filling memory; an attempt that moves no byte for timeout_s,
// or that takes longer than timeout_s beyond its upload (a slow or stalled
// server; max_duration_s when given), fails.
// No redirect is followed (hub_fetch.h follows the Hub's itself, with
// resolved_url and url_origin below), only http and https are spoken, and
// the path is sent as given (no dot-segment clean-up: it is what a signature covers).
// Headers go as given; signing them is aws_request.h's. Error messages are
// libcurl's and name no header's value.
//
// Thread safety: http_send may be called from several threads at once.
#ifndef FLOPSMETER_ADAPTERS_HTTP_CLIENT_H_
#define FLOPSMETER_ADAPTERS_HTTP_CLIENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  // A body without a Content-Type goes as libcurl's form default.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // sent as it is with PUT and POST; must outlive the call
  double connect_timeout_s = 10;  // at most timeout_s
  // The attempt fails when no byte moves for this long, and when it takes
  // longer than this plus its body's upload at 256 KiB/s (a slow answer).
  double timeout_s = 30;
  // When positive, the attempt's whole bound instead of the one above: a
  // large download that keeps moving may take longer than a stall may last.
  double max_duration_s = 0;
  uint64_t max_response_bytes = uint64_t{1} << 20;
  bool use_proxy = true;  // the environment's http(s)_proxy; off for link-local metadata endpoints
};

// Why no answer came.
enum class HttpFailure {
  kNone,            // the server answered (any status)
  kConnect,         // no connection was made: the request never left
  kTimeout,         // stalled past the timeout (the request may have arrived)
  kConnectionLost,  // reset or closed mid-request (it may have arrived)
  kOther,           // anything else (TLS, an oversized answer)
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; a repeated header keeps its last value
  std::string body;
  HttpFailure failure = HttpFailure::kNone;
  std::string error;  // when failure != kNone
  // The server's Retry-After, in seconds from now (a number or an HTTP date).
  std::optional<double> retry_after_s() const;
};

// Sends `request` once. The Result fails only when the request cannot be
// made at all (a malformed URL or header, no libcurl); network failures are
// in HttpResponse::failure.
Result<HttpResponse> http_send(const HttpRequest& request);

// A redirect's Location resolved against the URL that answered with it
// (absolute, or relative as RFC 3986 resolves it); only http and https.
Result<std::string> resolved_url(const std::string& base, const std::string& reference);

// "scheme://host:port" of `url` (the scheme's default port spelled out):
// two URLs with the same origin are the same server.
Result<std::string> url_origin(const std::string& url);

// `text` with every byte outside A-Z a-z 0-9 - . _ ~ (and '/' when
// `keep_slash`) written as %XX: S3 object keys, query values.
std::string uri_encoded(std::string_view text, bool keep_slash);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_HTTP_CLIENT_H_
