// The SigV4 signer (src/adapters/sigv4.h) against AWS's published
// Signature Version 4 test suite (credentials AKIDEXAMPLE /
// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1, service
// "service", 20150830T123600Z; the suite's .req, .creq, .sts and .authz
// files, as kept for instance in aws-c-auth's tests/aws-signing-test-suite
// and bazel's third_party/aws-sig-v4-test-suite).
//
// The vectors that apply: those about headers (order, case, duplicates,
// trimming), queries (order by name and value, empty values), unreserved
// characters, a body, and a session token signed as a header. Not the
// normalize-path ones: flopsmeter signs paths as S3 does (no dot-segment
// normalisation; it never sends such a path), nor the multi-line header
// value (it sends none). Every request the export tests send is also
// checked by an independent signer (tests/export/stores.js, npm aws4).
#include "adapters/sigv4.h"

#include <gtest/gtest.h>

#include "adapters/sha256.h"

namespace flopsmeter {
namespace {

const AwsCredentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", "the suite"};
constexpr const char* kDate = "20150830T123600Z";

struct Vector {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  std::vector<std::pair<std::string, std::string>> headers;  // besides host and x-amz-date
  const char* body;
  const char* signed_headers;
  const char* signature;
};

SigV4Signature sign(const Vector& v, const AwsCredentials& credentials = kExample) {
  SigV4Request r{v.method, v.path, v.query, {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kDate}},
                 sha256_hex(v.body)};
  r.headers.insert(r.headers.end(), v.headers.begin(), v.headers.end());
  return sigv4_sign(r, credentials, "us-east-1", "service", kDate);
}

std::string authorization(const char* signed_headers, const char* signature) {
  return std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=") +
         signed_headers + ", Signature=" + signature;
}

TEST(SigV4, TheSuitesVectorsThatApply) {
  const Vector vectors[] = {
      {"get-vanilla", "GET", "/", "", {}, "", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"post-vanilla", "POST", "/", "", {}, "", "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", {}, "", "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", {}, "", "host;x-amz-date",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
      {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", {}, "", "host;x-amz-date",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"post-vanilla-empty-query-value", "POST", "/", "Param1=value1", {}, "", "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", {}, "",
       "host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-header-value-trim", "GET", "/", "", {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, "",
       "host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-header-value-order", "GET", "/", "",
       {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}}, "",
       "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"post-header-key-sort", "POST", "/", "", {{"My-Header1", "value1"}}, "", "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-x-www-form-urlencoded", "POST", "/", "", {{"Content-Type", "application/x-www-form-urlencoded"}},
       "Param1=value1", "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
  };
  for (const Vector& v : vectors) {
    EXPECT_EQ(sign(v).authorization, authorization(v.signed_headers, v.signature)) << v.name;
  }
}

TEST(SigV4, CanonicalRequestAndStringToSignAsTheSuiteGivesThem) {
  const SigV4Signature s = sign({"post-x-www-form-urlencoded", "POST", "/", "",
                                 {{"Content-Type", "application/x-www-form-urlencoded"}}, "Param1=value1", "", ""});
  EXPECT_EQ(s.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  const SigV4Signature q = sign({"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", {}, "", "", ""});
  EXPECT_EQ(q.canonical_request,
            "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4, ASessionTokenIsASignedHeader) {
  // post-sts-header-before: the token is part of the canonical request.
  const std::string token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwt"
      "hAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHN"
      "VXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLx"
      "BA==";
  EXPECT_EQ(sign({"post-sts-header-before", "POST", "/", "", {{"X-Amz-Security-Token", token}}, "", "", ""}).authorization,
            authorization("host;x-amz-date;x-amz-security-token",
                          "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
}

TEST(SigV4, HeadersAreSignedInTheOrderOfTheirNamesEvenWhenOneBeginsAnother) {
  // What libcurl 7.88 gets wrong (it orders name:value lines): the shorter name first.
  const SigV4Signature s = sign({"sse-kms", "PUT", "/bucket/key", "",
                                 {{"x-amz-server-side-encryption-aws-kms-key-id", "alias/audit"},
                                  {"x-amz-server-side-encryption", "aws:kms"}},
                                 "", "", ""});
  EXPECT_NE(s.authorization.find("SignedHeaders=host;x-amz-date;x-amz-server-side-encryption;"
                                 "x-amz-server-side-encryption-aws-kms-key-id,"),
            std::string::npos)
      << s.authorization;
}

TEST(SigV4, TheSecretIsInNoPartOfTheSignature) {
  const SigV4Signature s = sign({"get-vanilla", "GET", "/", "", {}, "", "", ""});
  for (const std::string& text : {s.canonical_request, s.string_to_sign, s.authorization}) {
    EXPECT_EQ(text.find(kExample.secret_access_key), std::string::npos);
  }
}

}  // namespace
}  // namespace flopsmeter
