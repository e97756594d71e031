// A request to an AWS service (S3, DynamoDB), signed (sigv4.h) anew for each
// attempt, with bounded retries:
// an attempt that got no answer, or an answer the service marks as passing
// (HTTP 500, 502, 503, 504, 429, throttling), is tried again after an
// exponential backoff with jitter, or after the server's Retry-After, up to
// `attempts` in all. A request that is not safe to repeat is tried again
// only when it never left (no connection was made).
//
//   AwsService s3{"s3", region, &credentials, 30, 4};
//   FM_ASSIGN_OR_RETURN(AwsAnswer a, aws_call(s3, request, /*idempotent=*/true, read_s3_error, "s3://b/k"));
//   if (a.error) return aws_error_status(s3, "s3://b/k", a);  // 403, 404, ...
//
// Messages name what was asked (`what`, e.g. the object's URL), the
// service's error code and message (control bytes escaped, cut short), the
// HTTP status and the attempts made; never a secret.
#ifndef FLOPSMETER_ADAPTERS_AWS_REQUEST_H_
#define FLOPSMETER_ADAPTERS_AWS_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/http_client.h"
#include "adapters/sigv4.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct AwsService {
  std::string name;  // "s3", "dynamodb": the SigV4 service
  std::string region;
  const AwsCredentials* credentials = nullptr;
  double timeout_s = 30;  // per attempt: no byte moved for this long
  uint32_t attempts = 4;  // in all, the first included
};

// What a service's error answer says.
struct AwsError {
  std::string code;     // "NoSuchBucket", "ConditionalCheckFailedException"
  std::string message;
  bool passing = false;  // throttling or a server fault: worth another attempt
};
using AwsErrorReader = AwsError (*)(const HttpResponse& answer);

// The final answer: a 2xx one (error empty), or the service's error that
// was not worth (or ran out of) another attempt.
struct AwsAnswer {
  HttpResponse response;
  std::optional<AwsError> error;
  uint32_t attempts = 0;
};

// Sends `request` signed for `service`. Fails (IoError) when no answer came
// in `service.attempts` attempts, saying the last failure.
Result<AwsAnswer> aws_call(const AwsService& service, HttpRequest request, bool idempotent,
                           AwsErrorReader read_error, std::string_view what);

// The Status an error answer makes: NotFound for a missing bucket, key or
// table (HTTP 404, ResourceNotFoundException), InvalidArgument for refused
// credentials or a request the service rejects (with the clock's offset
// when the service says the request's time is off), IoError otherwise.
Status aws_error_status(const AwsService& service, std::string_view what, const AwsAnswer& answer);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_AWS_REQUEST_H_
