// The pure pieces of exports: the URLs and key parts checked before
// anything is sent (core/export_target.h), the AWS shared files' INI
// dialect (core/ini_text.h), S3's XML answers (core/xml_text.h), base64.
#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/export_target.h"
#include "core/ini_text.h"
#include "core/xml_text.h"

namespace flopsmeter {
namespace {

TEST(ExportTarget, ReadsS3AndDynamoDbUrls) {
  Result<ExportTarget> s3 = parse_export_target("s3://acme-audit/flops/runs/");
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  EXPECT_EQ(s3->store, ExportStore::kS3);
  EXPECT_EQ(s3->name, "acme-audit");
  EXPECT_EQ(s3->prefix, "flops/runs/");
  Result<ExportTarget> bare = parse_export_target("s3://acme.audit");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->prefix, "");
  Result<ExportTarget> table = parse_export_target("dynamodb://Flops_Runs.v2");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->store, ExportStore::kDynamoDb);
  EXPECT_EQ(table->name, "Flops_Runs.v2");
}

TEST(ExportTarget, RefusesWhatAStoreWouldRefuseOrMisread) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://acme/x", "expected s3://bucket/prefix or dynamodb://table"},
      {"s3://Acme/x", "a bucket's name is 3 to 63 lower-case letters"},
      {"s3://ab", "a bucket's name is 3 to 63"},
      {"s3://a..b/x", "a bucket's name"},
      {"s3://-ab/x", "a bucket's name"},
      {"s3://acme/a//b", "no empty, '.' or '..' segment"},
      {"s3://acme/a/../b", "no empty, '.' or '..' segment"},
      {"s3://acme/a\x1b[2Jb", "the prefix must be printable UTF-8"},
      {"dynamodb://t", "a DynamoDB table's name is 3 to 255"},
      {"dynamodb://runs/extra", "with nothing after it"},
  };
  for (const auto& [url, why] : cases) {
    Result<ExportTarget> t = parse_export_target(url);
    ASSERT_FALSE(t.ok()) << url;
    EXPECT_NE(t.status().message().find(why), std::string::npos) << t.status().message();
    EXPECT_EQ(t.status().message().find('\x1b'), std::string::npos) << "an escape reached the message";
  }
}

TEST(ExportTarget, EndpointUrlsCarryNoCredentials) {
  Result<std::string> e = parse_endpoint_url("http://127.0.0.1:9000/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, "http://127.0.0.1:9000");
  EXPECT_EQ(endpoint_host(*e), "127.0.0.1");
  EXPECT_EQ(endpoint_host("https://[::1]:9000/s3"), "[::1]");
  EXPECT_EQ(endpoint_host("https://minio.example.org"), "minio.example.org");
  for (const char* with_secret : {"https://AKIA:wJalrSECRET@minio.example.org", "https://AKIA:wJalr/SECRET@minio.example.org"}) {
    Result<std::string> secret = parse_endpoint_url(with_secret);
    ASSERT_FALSE(secret.ok()) << with_secret;
    EXPECT_EQ(secret.status().message().find("SECRET"), std::string::npos) << secret.status().message();
  }
  EXPECT_FALSE(parse_endpoint_url("ftp://host").ok());
  EXPECT_FALSE(parse_endpoint_url("http://host/x?y=1").ok());
  EXPECT_FALSE(parse_endpoint_url("http://").ok());
  EXPECT_FALSE(parse_endpoint_url("http://:9000").ok());
  EXPECT_FALSE(parse_endpoint_url("http://[::1:9000").ok());
}

TEST(ExportTarget, KeyPartsArePlainNames) {
  EXPECT_TRUE(plain_key_part("049a9746a9e6d7c5", false));
  EXPECT_TRUE(plain_key_part("aws:job-17", false));
  EXPECT_TRUE(plain_key_part("acme/llama-sft", true));
  EXPECT_FALSE(plain_key_part("acme/llama-sft", false));
  EXPECT_FALSE(plain_key_part("..", false));
  EXPECT_FALSE(plain_key_part("a/../b", true));
  EXPECT_FALSE(plain_key_part("a b", false));
  EXPECT_FALSE(plain_key_part("", false));
  EXPECT_FALSE(plain_key_part(std::string(201, 'a'), false));
}

TEST(IniText, ReadsTheSharedFilesDialect) {
  Result<IniSections> ini = parse_ini_text(
      "\xEF\xBB\xBF# credentials\n[default]\nAWS_Access_Key_ID = AKIA1\naws_secret_access_key=s/e+c=\n\n"
      "; another\n[profile ci]\nregion = eu-west-1\ns3 =\n  addressing_style = path\nmax_attempts = 3\n"
      "[default]\naws_session_token = tok\n",
      "credentials");
  ASSERT_TRUE(ini.ok()) << ini.status().ToString();
  EXPECT_EQ((*ini)["default"]["aws_access_key_id"], "AKIA1");
  EXPECT_EQ((*ini)["default"]["aws_secret_access_key"], "s/e+c=");
  EXPECT_EQ((*ini)["default"]["aws_session_token"], "tok");  // a later section of the same name adds
  EXPECT_EQ((*ini)["profile ci"]["s3.addressing_style"], "path");
  EXPECT_EQ((*ini)["profile ci"]["max_attempts"], "3");
}

TEST(IniText, ErrorsNameTheLineAndNeverItsContent) {
  const std::pair<const char*, const char*> cases[] = {
      {"[default]\naws_secret_access_key wJalrSECRET\n", "credentials:2: expected [section], key = value or a comment"},
      {"aws_secret_access_key = wJalrSECRET\n", "credentials:1: a setting before any [section]"},
      {"[default\naws_secret_access_key = wJalrSECRET\n", "credentials:1: a section header without its closing ']'"},
  };
  for (const auto& [text, want] : cases) {
    Result<IniSections> ini = parse_ini_text(text, "credentials");
    ASSERT_FALSE(ini.ok());
    EXPECT_EQ(ini.status().message(), want);
  }
}

TEST(XmlText, TheTextOfAnElementOrNothing) {
  const std::string error =
      "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The bucket &amp; &lt;key&gt; &#233;&#x1F600;"
      "</Message></Error>";
  EXPECT_EQ(xml_element_text(error, "Code"), "NoSuchBucket");
  EXPECT_EQ(xml_element_text(error, "Message"), "The bucket & <key> \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(xml_element_text("<R xmlns=\"x\"><UploadIdMarker>no</UploadIdMarker><UploadId>abc</UploadId></R>", "UploadId"),
            "abc");
  EXPECT_EQ(xml_element_text("<ETag attr=\"1\">\"9b2cf5\"</ETag>", "ETag"), "\"9b2cf5\"");
  // Malformed or hostile: absent, never a confirmation.
  for (const char* bad : {"<UploadId>abc", "<UploadId>a<b/>c</UploadId>", "<UploadId>a&bogus;</UploadId>",
                          "<UploadId>&#xD800;</UploadId>", "<UploadId>&#99999999999;</UploadId>", "<UploadId/>", ""}) {
    EXPECT_FALSE(xml_element_text(bad, "UploadId").has_value()) << bad;
  }
  EXPECT_EQ(xml_escaped("\"a\"&<b>'"), "&quot;a&quot;&amp;&lt;b&gt;&apos;");
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, out] : vectors) EXPECT_EQ(base64_encoded(in), out) << in;
  EXPECT_EQ(base64_encoded(std::string("\xff\xfe\x00", 3)), "//4A");
}

}  // namespace
}  // namespace flopsmeter
