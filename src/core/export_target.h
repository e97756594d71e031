// The URLs exports go to, read and checked before anything is sent:
//
//   s3://bucket/prefix     objects under prefix/ in the bucket (the prefix may be empty)
//   dynamodb://table       items in the table
//
// and the names that become parts of object keys (run ids, model names).
// Pure: no I/O.
#ifndef FLOPSMETER_CORE_EXPORT_TARGET_H_
#define FLOPSMETER_CORE_EXPORT_TARGET_H_

#include <string>
#include <string_view>

#include "flopsmeter/export.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct ExportTarget {
  ExportStore store = ExportStore::kS3;
  std::string name;    // the bucket or the table
  std::string prefix;  // s3: "" or ending in '/'
};

// Errors (InvalidArgument) name the URL and say what a valid one is: S3's
// bucket rules (3 to 63 lower-case letters, digits, '.' and '-', starting
// and ending with a letter or digit), DynamoDB's table rules (3 to 255
// letters, digits, '_', '-' and '.'), a prefix of printable text without
// empty, "." or ".." segments, at most 512 bytes.
Result<ExportTarget> parse_export_target(std::string_view url);

// An endpoint URL: http:// or https://, a host, an optional port and path;
// no '@' at all (credentials do not travel in URLs, and a secret key with
// a '/' would hide where a user name ends) and no query.
// Returns it without a trailing '/'.
Result<std::string> parse_endpoint_url(std::string_view url);

// Whether `region` reads as an AWS region (lower-case letters, digits and
// '-', at most 40): it becomes part of a host name and a signature.
bool plain_region(std::string_view region);

// The host of a URL parse_endpoint_url() accepted ("127.0.0.1", "[::1]").
std::string endpoint_host(std::string_view endpoint);

// Whether `name` (a run id, a model name) can be part of an object key as
// it is: 1 to 200 bytes of letters, digits, '.', '_', '-', ':' and, with
// `slashes`, '/' between segments, none of them empty, "." or "..".
bool plain_key_part(std::string_view name, bool slashes);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_EXPORT_TARGET_H_
