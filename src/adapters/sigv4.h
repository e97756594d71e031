// AWS Signature Version 4: the Authorization header of a request to an AWS
// service (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// computed here rather than by libcurl: libcurl 7.88's signer (Debian 12's)
// sorts the signed headers by "name:value" rather than by name, so a name
// that begins another (x-amz-server-side-encryption and
// x-amz-server-side-encryption-aws-kms-key-id) is signed out of AWS's
// order and the request refused, and it leaves query parameters unsorted.
// Checked against AWS's published test suite and, for every request the
// tests send, by an independent signer (tests/export/stores.js, aws4).
//
//   SigV4Request r{"PUT", "/bucket/key", "", {{"host", "s3.eu-west-1.amazonaws.com"}, ...}, payload_sha256_hex};
//   std::string authorization = sigv4_sign(r, credentials, "eu-west-1", "s3", "20261207T120000Z").authorization;
//
// Pure but for the HMAC and SHA-256 of OpenSSL's libcrypto: no I/O, no clock.
#ifndef FLOPSMETER_ADAPTERS_SIGV4_H_
#define FLOPSMETER_ADAPTERS_SIGV4_H_

#include <string>
#include <utility>
#include <vector>

namespace flopsmeter {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never printed
  std::string session_token;      // secret: never printed; "" for long-term keys
  std::string source;             // where they came from, for messages: "the environment", "profile 'ci' (...)"
};

struct SigV4Request {
  std::string method;
  // The path and query as sent, already URI-encoded (S3's rule: no second
  // encoding, no dot-segment normalisation; the query's parameters in any
  // order, "name" alone meaning "name=").
  std::string path;
  std::string query;
  // Every header to sign, as sent (the host and x-amz-date among them); a
  // name given twice is signed as AWS combines it, values joined by ','.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;  // hex
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;  // the Authorization header's value
};

// `amz_date` is the x-amz-date header's value (YYYYMMDDTHHMMSSZ).
SigV4Signature sigv4_sign(const SigV4Request& request, const AwsCredentials& credentials, const std::string& region,
                          const std::string& service, const std::string& amz_date);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_SIGV4_H_
