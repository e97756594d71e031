// Objects into an S3 bucket: AWS S3 or a compatible store (MinIO, Ceph,
// s3rver), signed with SigV4 (aws_request.h).
//
//   S3Bucket bucket{"https://s3.eu-west-1.amazonaws.com", "acme-audit", false};
//   FM_ASSIGN_OR_RETURN(S3Stored stored, s3_put_file(service, bucket, {"runs/a/journal-rank0.jsonl",
//                                                     "application/x-ndjson"}, {}, "runs/a/journal-rank0.jsonl"));
//
// Every PUT carries Content-MD5 and the payload's SHA-256 (x-amz-content-sha256,
// which the signature covers and S3 checks), and its answer is checked
// against them: the returned ETag must be the MD5 of what was sent (an
// object encrypted with SSE-KMS has another ETag: there the store's SHA-256
// checksum, when it echoes one, else its own Content-MD5 check stands).
// A file above kMultipartThreshold goes up as a multipart upload of parts
// read one at a time (bounded memory), each part checked the same way and
// the whole by its multipart ETag; a failed multipart upload is aborted.
#ifndef FLOPSMETER_ADAPTERS_S3_CLIENT_H_
#define FLOPSMETER_ADAPTERS_S3_CLIENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/aws_request.h"
#include "flopsmeter/export.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// Files above this go up in parts of this size (or larger, to stay within
// S3's 10,000 parts); S3 requires parts of at least 5 MiB but the last.
inline constexpr uint64_t kMultipartThreshold = uint64_t{8} << 20;

struct S3Bucket {
  std::string endpoint;  // scheme://host[:port], e.g. https://s3.eu-west-1.amazonaws.com
  std::string bucket;
  bool path_style = false;  // endpoint/bucket/key; else bucket.host/key
};

struct S3Object {
  std::string key;
  std::string content_type;
};

struct S3Encryption {
  ServerSideEncryption mode = ServerSideEncryption::kNone;
  std::string kms_key_id;  // with kKms; "" is the bucket's key
};

// What the store confirmed.
struct S3Stored {
  std::string url;         // s3://bucket/key
  std::string etag;        // as answered, quotes included
  std::string version_id;  // "" when the bucket keeps no versions
  uint64_t bytes = 0;
  std::string sha256;      // hex, of what was sent
  uint32_t parts = 0;      // 0: one PUT; else the multipart upload's
  std::string check;       // how the answer was checked against what was sent
};

// "s3://bucket/key", for messages and reports.
std::string s3_url(const S3Bucket& bucket, const std::string& key);

// Puts `data` at `object.key` in one PUT.
Result<S3Stored> s3_put(const AwsService& service, const S3Bucket& bucket, const S3Object& object,
                        const S3Encryption& encryption, std::string_view data);

// Puts the regular file at `path` (as large as it was when opened): one PUT
// up to kMultipartThreshold, a multipart upload above.
Result<S3Stored> s3_put_file(const AwsService& service, const S3Bucket& bucket, const S3Object& object,
                             const S3Encryption& encryption, const std::string& path);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_S3_CLIENT_H_
