#include "api/export_options.h"


#include "api/meter_ledger.h"  // ledger_options
#include "core/export_target.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

constexpr uint32_t kMostAttempts = 10;
constexpr double kLongestTimeoutS = 3600;
const std::vector<std::string> kEncryptionNames = {"none", "AES256", "aws:kms"};  // by ServerSideEncryption

}  // namespace

const std::vector<std::string>& export_option_names() {
  static const std::vector<std::string> kNames = {"endpoint-url", "export-attempts", "export-timeout", "path-style",
                                                  "profile",      "region",          "sse",            "sse-kms-key-id"};
  return kNames;
}

Result<ExportOptions> export_options_from_map(const OptionMap& o, const std::string& url_option) {
  ExportOptions e;
  e.to = o.get(url_option);
  if (!e.to.empty()) FM_RETURN_IF_ERROR(parse_export_target(e.to).status());
  if (o.has("endpoint-url")) {
    FM_ASSIGN_OR_RETURN(e.endpoint_url, parse_endpoint_url(o.get("endpoint-url")));
  }
  e.region = o.get("region");
  if (o.has("region") && !plain_region(e.region)) {
    return Status::InvalidArgument("region '" + printable_text(e.region) + "': expected an AWS region such as eu-west-1");
  }
  e.profile = o.get("profile");
  e.path_style = o.has("path-style");
  if (o.has("sse")) {
    FM_ASSIGN_OR_RETURN(size_t i, option_choice(o, "sse", kEncryptionNames));
    e.sse = static_cast<ServerSideEncryption>(i);
  }
  e.sse_kms_key_id = o.get("sse-kms-key-id");
  if (!e.sse_kms_key_id.empty() && e.sse != ServerSideEncryption::kKms) {
    return Status::InvalidArgument("sse-kms-key-id names the key of sse aws:kms, which is not chosen");
  }
  if (e.sse != ServerSideEncryption::kNone && e.to.starts_with("dynamodb://")) {
    return Status::InvalidArgument("sse applies to objects in S3; a DynamoDB table is encrypted by its own settings");
  }
  if (o.has("export-timeout")) {
    FM_ASSIGN_OR_RETURN(e.timeout_s, option_double(o, "export-timeout"));
    if (!(e.timeout_s >= 1 && e.timeout_s <= kLongestTimeoutS)) {
      return Status::InvalidArgument("export-timeout must be between 1 and 3600 seconds");
    }
  }
  if (o.has("export-attempts")) {
    FM_ASSIGN_OR_RETURN(uint64_t n, option_uint(o, "export-attempts"));
    if (n < 1 || n > kMostAttempts) return Status::InvalidArgument("export-attempts must be between 1 and 10");
    e.attempts = static_cast<uint32_t>(n);
  }
  e.ledger = ledger_options(o);
  return e;
}

void add_export_options_json(const ExportOptions& e, const std::string& url_option, nlohmann::json& out) {
  if (e.to.empty()) return;
  out[url_option] = e.to;
  const ExportOptions defaults;
  for (const auto& [key, value] : {std::pair{"endpoint-url", e.endpoint_url}, {"region", e.region},
                                   {"profile", e.profile}, {"sse-kms-key-id", e.sse_kms_key_id}}) {
    if (!value.empty()) out[key] = value;
  }
  if (e.path_style) out["path-style"] = true;
  if (e.sse != defaults.sse) out["sse"] = kEncryptionNames[static_cast<size_t>(e.sse)];
  if (e.timeout_s != defaults.timeout_s) out["export-timeout"] = e.timeout_s;
  if (e.attempts != defaults.attempts) out["export-attempts"] = e.attempts;
}

}  // namespace flopsmeter
