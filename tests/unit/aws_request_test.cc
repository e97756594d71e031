// Signed AWS calls (src/adapters/aws_request.h) and the HTTP client under
// them, against a loopback server that answers as a broken store would:
// retries only where safe, the server's Retry-After, timeouts, bounded
// answers, errors that say what happened, and the signature's headers.
#include "adapters/aws_request.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "core/xml_text.h"
#include "loopback_http.h"

namespace flopsmeter {
namespace {

using testing::http_answer;
using testing::LoopbackHttp;
using testing::LoopbackRequest;

const AwsCredentials kKeys{"AKIATEST", "secret/KEY+for=tests", "session/TOKEN", "the test"};

AwsError read_code(const HttpResponse& r) {
  return AwsError{xml_element_text(r.body, "Code").value_or(""), xml_element_text(r.body, "Message").value_or(""), false};
}

AwsService service(uint32_t attempts, double timeout_s = 5) { return AwsService{"s3", "eu-west-1", &kKeys, timeout_s, attempts}; }

HttpRequest put(const std::string& url) {
  HttpRequest r;
  r.method = "PUT";
  r.url = url + "/bucket/key";
  r.body = "payload";
  r.headers = {{"Content-Type", "text/plain"}};
  return r;
}

std::string error_xml(const char* code) {
  return std::string("<Error><Code>") + code + "</Code><Message>said by the test</Message></Error>";
}

TEST(AwsRequest, EachAttemptIsSignedWithTheHostDateAndToken) {
  LoopbackHttp server([](const LoopbackRequest&) { return http_answer(200, ""); });
  ASSERT_TRUE(aws_call(service(1), put(server.url()), true, read_code, "s3://bucket/key").ok());
  const LoopbackRequest r = server.requests().at(0);
  EXPECT_EQ(r.headers.at("host"), server.url().substr(7));
  EXPECT_EQ(r.headers.at("x-amz-security-token"), "session/TOKEN");
  EXPECT_EQ(r.headers.at("x-amz-date").size(), 16u);
  const std::string& auth = r.headers.at("authorization");
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIATEST/" + r.headers.at("x-amz-date").substr(0, 8) +
                               "/eu-west-1/s3/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                               "x-amz-security-token, Signature="))
      << auth;
  EXPECT_EQ(auth.find(kKeys.secret_access_key), std::string::npos);
}

TEST(AwsRequest, PassingFaultsAreTriedAgainAfterTheServersRetryAfter) {
  int calls = 0;
  LoopbackHttp server([&](const LoopbackRequest&) {
    return ++calls == 1 ? http_answer(503, error_xml("SlowDown"), "Retry-After: 1\r\n") : http_answer(200, "");
  });
  const auto start = std::chrono::steady_clock::now();
  Result<AwsAnswer> a = aws_call(service(3), put(server.url()), true, read_code, "s3://bucket/key");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->error.has_value());
  EXPECT_EQ(a->attempts, 2u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950));
}

TEST(AwsRequest, PastItsAttemptsTheStoresErrorWithTheCount) {
  LoopbackHttp server([](const LoopbackRequest&) { return http_answer(500, error_xml("InternalError")); });
  Result<AwsAnswer> a = aws_call(service(3), put(server.url()), true, read_code, "s3://bucket/key");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->error.has_value());
  EXPECT_EQ(server.requests().size(), 3u);
  const Status s = aws_error_status(service(3), "s3://bucket/key", *a);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), "s3://bucket/key: HTTP 500 InternalError: said by the test (after 3 attempts)");
}

TEST(AwsRequest, ARefusalIsNotTriedAgainAndSaysWhoseCredentials) {
  LoopbackHttp server([](const LoopbackRequest&) { return http_answer(403, error_xml("SignatureDoesNotMatch")); });
  Result<AwsAnswer> a = aws_call(service(4), put(server.url()), true, read_code, "s3://bucket/key");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(aws_error_status(service(4), "s3://bucket/key", *a).message(),
            "s3://bucket/key: HTTP 403 SignatureDoesNotMatch: said by the test (credentials from the test)");
}

TEST(AwsRequest, AnAnswerLostIsRepeatedOnlyWhenTheRequestIsSafeToRepeat) {
  LoopbackHttp server([](const LoopbackRequest&) { return std::string(); });  // closes without answering
  Result<AwsAnswer> unsafe = aws_call(service(4), put(server.url()), false, read_code, "s3://bucket/key");
  ASSERT_FALSE(unsafe.ok());
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_NE(unsafe.status().message().find("not tried again: the request is not safe to repeat"), std::string::npos);
  Result<AwsAnswer> safe = aws_call(service(2), put(server.url()), true, read_code, "s3://bucket/key");
  ASSERT_FALSE(safe.ok());
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_NE(safe.status().message().find("(after 2 attempts over "), std::string::npos) << safe.status().message();
}

TEST(AwsRequest, ASlowServerFailsTheAttemptAtItsTimeout) {
  LoopbackHttp server([](const LoopbackRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    return http_answer(200, "");
  });
  const auto start = std::chrono::steady_clock::now();
  Result<AwsAnswer> a = aws_call(service(1, 1), put(server.url()), true, read_code, "s3://bucket/key");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("s3://bucket/key: no answer within 1 s"), std::string::npos)
      << a.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2400));
}

TEST(AwsRequest, AnAskToWaitLongerThanFlopsmeterWaitsEndsTheCall) {
  LoopbackHttp server([](const LoopbackRequest&) { return http_answer(503, error_xml("SlowDown"), "Retry-After: 3600\r\n"); });
  Result<AwsAnswer> a = aws_call(service(4), put(server.url()), true, read_code, "s3://bucket/key");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_NE(aws_error_status(service(4), "s3://bucket/key", *a).message().find("asks to wait 3600 s, longer than"),
            std::string::npos);
}

TEST(AwsRequest, ErrorsByKind) {
  const auto status_of = [](int http, const char* code, const std::string& headers = "") {
    LoopbackHttp server([&](const LoopbackRequest&) { return http_answer(http, error_xml(code), headers); });
    Result<AwsAnswer> a = aws_call(service(1), put(server.url()), true, read_code, "s3://b/k");
    return aws_error_status(service(1), "s3://b/k", *a);
  };
  EXPECT_EQ(status_of(404, "NoSuchBucket").code(), StatusCode::kNotFound);
  EXPECT_EQ(status_of(400, "InvalidArgument").code(), StatusCode::kInvalidArgument);
  const Status skew = status_of(403, "RequestTimeTooSkewed", "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  EXPECT_EQ(skew.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(skew.message().find(" s ahead of the store's: correct it, with NTP)"), std::string::npos) << skew.message();
}

TEST(HttpClient, AnAnswerLongerThanItsBoundFailsTheAttempt) {
  LoopbackHttp server([](const LoopbackRequest&) { return http_answer(200, std::string(3 << 20, 'x')); });
  HttpRequest r;
  r.url = server.url() + "/";
  r.max_response_bytes = 1 << 20;
  Result<HttpResponse> answer = http_send(r);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->failure, HttpFailure::kOther);
  EXPECT_EQ(answer->error, "the answer is longer than 1048576 bytes");
}

TEST(HttpClient, NobodyListeningIsAFailureToConnect) {
  HttpRequest r;
  r.url = "http://127.0.0.1:1/";
  Result<HttpResponse> answer = http_send(r);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->failure, HttpFailure::kConnect);
}

TEST(HttpClient, RetryAfterInSecondsOrAsADate) {
  HttpResponse r;
  EXPECT_FALSE(r.retry_after_s().has_value());
  r.headers["retry-after"] = "7";
  EXPECT_EQ(r.retry_after_s(), 7.0);
  r.headers["retry-after"] = "Sun, 06 Nov 1994 08:49:37 GMT";  // past: now
  EXPECT_EQ(r.retry_after_s(), 0.0);
  r.headers["retry-after"] = "soon";
  EXPECT_FALSE(r.retry_after_s().has_value());
  EXPECT_EQ(uri_encoded("runs/a b+c/é", true), "runs/a%20b%2Bc/%C3%A9");
  EXPECT_EQ(uri_encoded("a/b", false), "a%2Fb");
}

TEST(HttpClient, RedirectsResolveAgainstTheAnsweringUrlAndOriginsNameTheServer) {
  const std::string base = "https://hub.example/acme/old/resolve/main/config.json";
  EXPECT_EQ(resolved_url(base, "/acme/new/resolve/main/config.json").value(),
            "https://hub.example/acme/new/resolve/main/config.json");
  EXPECT_EQ(resolved_url(base, "other.json").value(), "https://hub.example/acme/old/resolve/main/other.json");
  EXPECT_EQ(resolved_url(base, "http://cdn.example:8080/x?y=1").value(), "http://cdn.example:8080/x?y=1");
  EXPECT_FALSE(resolved_url(base, "file:///etc/passwd").ok());
  EXPECT_FALSE(resolved_url(base, "/a\r\nX-Injected: 1").ok());
  EXPECT_EQ(url_origin("https://Hub.Example/a/b").value(), "https://hub.example:443");
  EXPECT_EQ(url_origin("http://127.0.0.1:8080/").value(), "http://127.0.0.1:8080");
  EXPECT_NE(url_origin("https://hub.example/").value(), url_origin("http://hub.example/").value());
  EXPECT_FALSE(url_origin("not a url").ok());
}

}  // namespace
}  // namespace flopsmeter
