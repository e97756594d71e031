// The AWS credential chain (src/adapters/aws_credentials.h), each link on
// its own and in order, against files made here and a loopback server
// standing in for the container and instance metadata endpoints; the
// shared files as hostile input; no secret in any message.
#include "adapters/aws_credentials.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "loopback_http.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using testing::http_answer;
using testing::LoopbackHttp;
using testing::LoopbackRequest;
using testing::ScopedEnvironment;
using testing::TempDir;

constexpr const char* kSecret = "wJalr/Secret+Key=forTHEtests";
constexpr const char* kToken = "session/TOKEN+forTHEtests=";

std::string credentials_json(const char* id) {
  return std::string("{\"Code\":\"Success\",\"AccessKeyId\":\"") + id + "\",\"SecretAccessKey\":\"" + kSecret +
         "\",\"Token\":\"" + kToken + "\",\"Expiration\":\"2099-01-01T00:00:00Z\"}";
}

// Every variable the chain reads, unset; HOME a fresh directory; no
// instance metadata unless a test asks for it.
class AwsCredentialsTest : public ::testing::Test {
 protected:
  TempDir home_;
  ScopedEnvironment clean_{{"AWS_ACCESS_KEY_ID", nullptr},
                           {"AWS_SECRET_ACCESS_KEY", nullptr},
                           {"AWS_SESSION_TOKEN", nullptr},
                           {"AWS_PROFILE", nullptr},
                           {"AWS_SHARED_CREDENTIALS_FILE", nullptr},
                           {"AWS_CONFIG_FILE", nullptr},
                           {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", nullptr},
                           {"AWS_CONTAINER_CREDENTIALS_FULL_URI", nullptr},
                           {"AWS_CONTAINER_AUTHORIZATION_TOKEN", nullptr},
                           {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", nullptr},
                           {"AWS_EC2_METADATA_SERVICE_ENDPOINT", nullptr},
                           {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", nullptr},
                           {"AWS_EC2_METADATA_DISABLED", "true"}};
  ScopedEnvironment home_variable_{{"HOME", home_.path().c_str()}};

  static void expect_no_secret(const Status& s) {
    EXPECT_EQ(s.message().find(kSecret), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(kToken), std::string::npos) << s.message();
  }
};

TEST_F(AwsCredentialsTest, TheEnvironmentComesFirst) {
  home_.file(".aws/credentials", std::string("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = ") + kSecret);
  ScopedEnvironment keys{{"AWS_ACCESS_KEY_ID", "AKIAENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret}, {"AWS_SESSION_TOKEN", kToken}};
  Result<AwsCredentials> c = resolve_aws_credentials("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAENV");
  EXPECT_EQ(c->secret_access_key, kSecret);
  EXPECT_EQ(c->session_token, kToken);
  EXPECT_EQ(c->source, "the environment");
}

TEST_F(AwsCredentialsTest, HalfAKeyPairInTheEnvironmentIsAnError) {
  ScopedEnvironment half{{"AWS_SECRET_ACCESS_KEY", kSecret}};
  Result<AwsCredentials> c = resolve_aws_credentials("");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID: set both, or neither");
}

TEST_F(AwsCredentialsTest, ProfilesFromTheSharedFiles) {
  const std::string credentials =
      home_.file("creds", std::string("[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = ") + kSecret +
                              "\n[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = " + kSecret + "\n");
  const std::string config = home_.file("config", std::string("[profile ci]\naws_access_key_id = AKIASHADOWED\n"
                                                              "aws_secret_access_key = x\nregion = eu-west-1\n"
                                                              "[profile only-config]\naws_access_key_id = AKIACONFIG\n"
                                                              "aws_secret_access_key = ") + kSecret + "\n");
  ScopedEnvironment files{{"AWS_SHARED_CREDENTIALS_FILE", credentials.c_str()}, {"AWS_CONFIG_FILE", config.c_str()}};
  EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "AKIADEFAULT");
  // The credentials file wins over the config file; the settings merge.
  Result<AwsCredentials> ci = resolve_aws_credentials("ci");
  ASSERT_TRUE(ci.ok());
  EXPECT_EQ(ci->access_key_id, "AKIACI");
  EXPECT_EQ(ci->source, "profile 'ci' (" + credentials + ")");
  EXPECT_EQ(aws_profile_settings("ci")->at("region"), "eu-west-1");
  {
    ScopedEnvironment profile{{"AWS_PROFILE", "only-config"}};
    EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "AKIACONFIG");
  }
  // A profile named on purpose must exist.
  Result<AwsCredentials> missing = resolve_aws_credentials("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "AWS profile 'nope' is in neither " + credentials + " nor " + config);
}

TEST_F(AwsCredentialsTest, TheDefaultFilesUnderHome) {
  home_.file(".aws/credentials", std::string("[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = ") + kSecret);
  Result<AwsCredentials> c = resolve_aws_credentials("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAHOME");
}

TEST_F(AwsCredentialsTest, AProfileThatGetsItsKeysElsewhereIsRefusedWithTheWayOut) {
  const std::string config = home_.file("config", "[profile sso]\nsso_session = corp\nregion = eu-west-1\n");
  ScopedEnvironment files{{"AWS_CONFIG_FILE", config.c_str()}};
  Result<AwsCredentials> c = resolve_aws_credentials("sso");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(c.status().message().find("gets its credentials through sso_session, which flopsmeter does not follow; "
                                      "export them into the environment (aws configure export-credentials "
                                      "--profile sso --format env)"),
            std::string::npos)
      << c.status().message();
}

TEST_F(AwsCredentialsTest, HostileSharedFilesAreRefusedNamingTheFile) {
  const std::string fifo = home_.fifo("fifo");
  const std::string huge = home_.file("huge", "[default]\n" + std::string(2 << 20, '#'));
  const std::string link = home_.path() + "/link-to-fifo";
  ASSERT_EQ(::symlink(fifo.c_str(), link.c_str()), 0);
  const std::string malformed = home_.file("malformed", "[default]\naws_secret_access_key wJalrMALFORMEDsecret\n");
  const std::pair<std::string, std::string> cases[] = {
      {fifo, fifo + ": is a FIFO, expected a file"},
      {link, link + ": is a FIFO, expected a file"},
      {huge, "above the limit of 1048576 bytes"},
      {home_.path(), home_.path() + ": is a directory, expected a file"},
      {malformed, malformed + ":2: expected [section], key = value or a comment"},
  };
  for (const auto& [path, want] : cases) {
    ScopedEnvironment file{{"AWS_SHARED_CREDENTIALS_FILE", path.c_str()}};
    Result<AwsCredentials> c = resolve_aws_credentials("");  // returns at once: a FIFO is never opened for reading
    ASSERT_FALSE(c.ok()) << path;
    EXPECT_NE(c.status().message().find(want), std::string::npos) << c.status().message() << "\nwanted: " << want;
    expect_no_secret(c.status());
    EXPECT_EQ(c.status().message().find("wJalrMALFORMEDsecret"), std::string::npos);
  }
  // A link to a regular file is followed, as the SDKs follow it.
  const std::string real = home_.file("real", std::string("[default]\naws_access_key_id = AKIALINK\naws_secret_access_key = ") + kSecret);
  const std::string to_real = home_.path() + "/link-to-real";
  ASSERT_EQ(::symlink(real.c_str(), to_real.c_str()), 0);
  ScopedEnvironment file{{"AWS_SHARED_CREDENTIALS_FILE", to_real.c_str()}};
  EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "AKIALINK");
}

TEST_F(AwsCredentialsTest, TheContainerEndpointWithItsAuthorizationToken) {
  LoopbackHttp server([](const LoopbackRequest& r) {
    if (r.target != "/v2/credentials/abc") return http_answer(404, "{}");
    if (r.headers.count("authorization") == 0 || r.headers.at("authorization") != "from-the-file") {
      return http_answer(401, "{\"message\":\"unauthorized\"}");
    }
    return http_answer(200, credentials_json("ASIAECS"));
  });
  const std::string token_file = home_.file("token", "from-the-file\n");
  ScopedEnvironment ecs{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-the-variable"},
                        {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.c_str()}};
  Result<AwsCredentials> c = resolve_aws_credentials("", {server.url(), 1});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAECS");
  EXPECT_EQ(c->session_token, kToken);
  EXPECT_EQ(c->source, "the container credentials endpoint " + server.url() + "/v2/credentials/abc");
  // Without the file, the variable's token: refused here.
  ScopedEnvironment no_file{{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", nullptr}};
  Result<AwsCredentials> refused = resolve_aws_credentials("", {server.url(), 1});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("HTTP 401 (the authorization token is refused)"), std::string::npos);
}

TEST_F(AwsCredentialsTest, AFullUriInPlainHttpMustStayOnThisHost) {
  LoopbackHttp server([](const LoopbackRequest&) { return http_answer(200, credentials_json("ASIAFULL")); });
  {
    ScopedEnvironment full{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", (server.url() + "/creds").c_str()}};
    EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "ASIAFULL");
  }
  ScopedEnvironment remote{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.org/creds"}};
  Result<AwsCredentials> c = resolve_aws_credentials("");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("a plain-http endpoint must be on this host"), std::string::npos);
}

TEST_F(AwsCredentialsTest, InstanceMetadataIMDSv2WithItsToken) {
  LoopbackHttp server([](const LoopbackRequest& r) {
    if (r.method == "PUT" && r.target == "/latest/api/token") {
      return r.headers.count("x-aws-ec2-metadata-token-ttl-seconds") ? http_answer(200, "imds-token") : http_answer(400, "");
    }
    if (r.headers.count("x-aws-ec2-metadata-token") == 0 || r.headers.at("x-aws-ec2-metadata-token") != "imds-token") {
      return http_answer(401, "");
    }
    if (r.target == "/latest/meta-data/iam/security-credentials/") return http_answer(200, "train-role\n");
    if (r.target == "/latest/meta-data/iam/security-credentials/train-role") {
      return http_answer(200, credentials_json("ASIAIMDS"));
    }
    return http_answer(404, "");
  });
  ScopedEnvironment imds{{"AWS_EC2_METADATA_DISABLED", nullptr},
                         {"AWS_EC2_METADATA_SERVICE_ENDPOINT", (server.url() + "/").c_str()}};
  Result<AwsCredentials> c = resolve_aws_credentials("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS");
  EXPECT_EQ(c->source, "the EC2 instance metadata service at " + server.url() + ", role train-role");
  ASSERT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.requests()[0].method, "PUT");
}

TEST_F(AwsCredentialsTest, InstanceMetadataThatRefusesOrHasNoRoleEndsTheChain) {
  bool refuse_token = false;
  LoopbackHttp server([&](const LoopbackRequest& r) {
    if (r.target == "/latest/api/token") return refuse_token ? http_answer(403, "") : http_answer(200, "t");
    return http_answer(404, "");  // no role attached
  });
  ScopedEnvironment imds{{"AWS_EC2_METADATA_DISABLED", nullptr},
                         {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url().c_str()}};
  Result<AwsCredentials> none = resolve_aws_credentials("");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("no IAM role is attached to the instance"), std::string::npos);
  EXPECT_NE(none.status().message().find("tried the environment (AWS_ACCESS_KEY_ID is not set); profile 'default'"),
            std::string::npos)
      << none.status().message();
  refuse_token = true;
  EXPECT_NE(resolve_aws_credentials("").status().message().find("HTTP 403 to the IMDSv2 token request"),
            std::string::npos);
}

TEST_F(AwsCredentialsTest, MalformedEndpointAnswersAreErrorsThatQuoteNothing) {
  LoopbackHttp server([](const LoopbackRequest&) {
    return http_answer(200, std::string("{\"AccessKeyId\": 7, \"SecretAccessKey\": \"") + kSecret + "\"}");
  });
  ScopedEnvironment full{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url().c_str()}};
  Result<AwsCredentials> c = resolve_aws_credentials("");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("the answer has no AccessKeyId and SecretAccessKey"), std::string::npos);
  expect_no_secret(c.status());
}

TEST_F(AwsCredentialsTest, DisabledInstanceMetadataIsNeverAsked) {
  LoopbackHttp server([](const LoopbackRequest&) { return http_answer(200, "x"); });
  ScopedEnvironment imds{{"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url().c_str()}};
  Result<AwsCredentials> c = resolve_aws_credentials("");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("(AWS_EC2_METADATA_DISABLED=true)"), std::string::npos);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(AwsCredentialsTest, EachLinkInTheSdksOrder) {
  LoopbackHttp container([](const LoopbackRequest&) { return http_answer(200, credentials_json("ASIACONTAINER")); });
  LoopbackHttp instance([](const LoopbackRequest& r) {
    if (r.target == "/latest/api/token") return http_answer(200, "t");
    if (r.target.ends_with("/")) return http_answer(200, "role");
    return http_answer(200, credentials_json("ASIAINSTANCE"));
  });
  ScopedEnvironment imds{{"AWS_EC2_METADATA_DISABLED", nullptr},
                         {"AWS_EC2_METADATA_SERVICE_ENDPOINT", instance.url().c_str()}};
  EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "ASIAINSTANCE");
  ScopedEnvironment ecs{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url().c_str()}};
  EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "ASIACONTAINER");
  home_.file(".aws/credentials", std::string("[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = ") + kSecret);
  EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "AKIAPROFILE");
  ScopedEnvironment keys{{"AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT"}, {"AWS_SECRET_ACCESS_KEY", kSecret}};
  EXPECT_EQ(resolve_aws_credentials("")->access_key_id, "AKIAENVIRONMENT");
}

}  // namespace
}  // namespace flopsmeter
