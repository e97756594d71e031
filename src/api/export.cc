// Exporting: where the store is and who we are to it, the units put in
// order (each unit's main object last), each confirmed before the next,
// the ledger's `export` entries once a unit is confirmed, and the report.
#include "flopsmeter/export.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "adapters/aws_credentials.h"
#include "adapters/dynamodb_client.h"
#include "adapters/files.h"  // path_exists
#include "adapters/s3_client.h"
#include "api/export_internal.h"
#include "core/export_target.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

using Json = nlohmann::json;
using Kind = ExportUnit::Kind;

constexpr const char* kDefaultRegion = "us-east-1";

// An environment variable's value; "" when unset.
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::string first_set(std::initializer_list<std::string> candidates) {
  for (const std::string& c : candidates)
    if (!c.empty()) return c;
  return "";
}

// The store, and who we are to it.
struct Store {
  ExportTarget target;
  AwsCredentials credentials;
  AwsService service;
  std::string endpoint;
  S3Bucket bucket;
  DynamoDbTable table;
  S3Encryption encryption;
};

// A host that can have no bucket subdomain.
bool address_or_localhost(const std::string& host) {
  return host == "localhost" || host.starts_with("[") || host.find_first_not_of("0123456789.") == std::string::npos;
}

// The region and the endpoint: the options', else the environment's, else
// the profile's, else the default.
Status locate(const ExportOptions& o, const std::map<std::string, std::string>& profile, Store& s) {
  const bool s3 = s.target.store == ExportStore::kS3;
  const auto setting = [&](const char* key) {
    const auto it = profile.find(key);
    return it == profile.end() ? std::string() : it->second;
  };
  const std::string region =
      first_set({o.region, env("AWS_REGION"), env("AWS_DEFAULT_REGION"), setting("region"), kDefaultRegion});
  if (!plain_region(region)) {
    return Status::InvalidArgument("region '" + printable_text(region) + "' (from the environment or the profile): "
                                   "expected an AWS region such as eu-west-1");
  }
  const std::string from_environment =
      first_set({env(s3 ? "AWS_ENDPOINT_URL_S3" : "AWS_ENDPOINT_URL_DYNAMODB"), env("AWS_ENDPOINT_URL")});
  s.endpoint = o.endpoint_url;
  if (s.endpoint.empty() && !from_environment.empty()) {
    FM_ASSIGN_OR_RETURN(s.endpoint, parse_endpoint_url(from_environment));
  }
  if (s.endpoint.empty()) s.endpoint = std::string("https://") + (s3 ? "s3." : "dynamodb.") + region + ".amazonaws.com";
  s.service = AwsService{s3 ? "s3" : "dynamodb", region, &s.credentials, o.timeout_s, o.attempts};
  // Virtual-hosted addressing needs a DNS name per bucket, which an
  // address has not, and a dotted bucket breaks TLS's wildcard name.
  const bool dotted_https = s.endpoint.starts_with("https://") && s.target.name.find('.') != std::string::npos;
  s.bucket = S3Bucket{s.endpoint, s.target.name,
                      o.path_style || setting("s3.addressing_style") == "path" ||
                          address_or_localhost(endpoint_host(s.endpoint)) || dotted_https};
  s.table = DynamoDbTable{s.endpoint, s.target.name};
  s.encryption = S3Encryption{o.sse, o.sse_kms_key_id};
  return Status();
}

// Where the store is (credentials come once the payload is known to be sound).
Status connect(const ExportOptions& o, Store& s) {
  if (o.to.empty()) return Status::InvalidArgument("no export target: give s3://bucket/prefix or dynamodb://table");
  FM_ASSIGN_OR_RETURN(s.target, parse_export_target(o.to));
  const std::string profile = aws_profile_name(o.profile);
  FM_ASSIGN_OR_RETURN(auto settings, aws_profile_settings(profile));
  return locate(o, settings, s);
}

// What one unit came to.
struct Outcome {
  Json exported = Json::object();
  std::string url;      // what the ledger's entry names
  std::string version;  // and its version
  std::vector<std::string> stored;  // URLs, for a failure's message
};

Status put_objects(const Store& s, const ExportUnit& u, Outcome& out) {
  Json objects = Json::array();
  for (const ExportObject& o : u.objects) {
    const S3Object object{s.target.prefix + u.key_part + o.name, o.content_type};
    Result<S3Stored> put = o.file.empty() ? s3_put(s.service, s.bucket, object, s.encryption, o.text)
                                          : s3_put_file(s.service, s.bucket, object, s.encryption, o.file);
    if (!put.ok()) return put.status();
    out.stored.push_back(put->url);
    objects.push_back({{"url", put->url}, {"what", o.what}, {"bytes", put->bytes}, {"sha256", put->sha256},
                       {"etag", put->etag}, {"version_id", put->version_id.empty() ? Json() : Json(put->version_id)},
                       {"parts", put->parts}, {"check", put->check}});
    out.url = put->url;
    out.version = put->version_id.empty() ? "ETag " + put->etag : "VersionId " + put->version_id;
  }
  out.exported["objects"] = objects;
  return Status();
}

// The unit's item, written under a condition that never replaces an item:
// a repeat (a retry whose first try was stored after all) finds the same
// record there and is confirmed by it; another record of the same run and
// version is refused.
Status put_item(const Store& s, const ExportUnit& u, Outcome& out) {
  FM_ASSIGN_OR_RETURN(Json item, export_item(u));
  const std::string url = dynamodb_url(s.table);
  FM_ASSIGN_OR_RETURN(bool written, dynamodb_put_item(s.service, s.table, item, "attribute_not_exists(run_id)"));
  const std::string run_id = item["run_id"]["S"].get<std::string>();
  if (!written) {
    const Json key = {{"run_id", item["run_id"]}, {"record_version", item["record_version"]}};
    FM_ASSIGN_OR_RETURN(std::optional<Json> held, dynamodb_get_item(s.service, s.table, key));
    if (!held || held->value("record_sha256", Json()) != item["record_sha256"]) {
      const Json other = held ? held->value("record_sha256", Json()) : Json();
      return Status::InvalidArgument(url + ": the item run_id '" + printable_text(run_id) + "', record_version " +
                                     std::to_string(u.version) + " holds another record (record_sha256 " +
                                     printable_text(other.is_object() ? other.value("S", "?") : "?") +
                                     "): not overwritten; a record of the same journal lines was written twice");
    }
  }
  out.url = url;
  out.version = "run_id " + run_id + ", record_version " + std::to_string(u.version);
  out.exported["item"] = {{"url", url}, {"run_id", run_id}, {"record_version", u.version},
                          {"record_sha256", item["record_sha256"]["S"]}, {"already_there", !written}};
  return Status();
}

const char* unit_kind_name(Kind kind) {
  return kind == Kind::kRun ? "run" : kind == Kind::kDossier ? "dossier" : "ledger head";
}

const char* source_kind_name(ExportSource::Kind kind) {
  switch (kind) {
    case ExportSource::Kind::kRunDirectory: return "run_directory";
    case ExportSource::Kind::kModel: return "model";
    case ExportSource::Kind::kLedgerHead: return "ledger_head";
  }
  return "";
}

}  // namespace

ExportSource export_source_named(const std::string& name) {
  return {path_exists(name) ? ExportSource::Kind::kRunDirectory : ExportSource::Kind::kModel, name, ""};
}

Result<ExportReport> export_records(const ExportSource& source, const ExportOptions& options) {
  Store s;
  FM_RETURN_IF_ERROR(connect(options, s));
  FM_ASSIGN_OR_RETURN(ExportPayload payload, gather_export(source, options));
  FM_ASSIGN_OR_RETURN(s.credentials, resolve_aws_credentials(options.profile));
  const bool s3 = s.target.store == ExportStore::kS3;
  Json exported = Json::array();
  std::vector<std::string> stored;
  for (const ExportUnit& u : payload.units) {
    if (!s3 && u.kind == Kind::kDossier) {
      payload.notes.push_back("the dossier of model '" + printable_text(u.id) + "' goes to S3 only (an item holds a run)");
      continue;
    }
    Outcome out;
    Status sent = s3 ? put_objects(s, u, out) : put_item(s, u, out);
    stored.insert(stored.end(), out.stored.begin(), out.stored.end());
    if (!sent.ok()) {
      if (stored.empty()) return sent;
      std::string list;
      for (const std::string& url : stored) list += (list.empty() ? "" : ", ") + url;
      return sent.WithContext(std::to_string(stored.size()) + " object(s) stored before this failure, none recorded "
                              "as exported (" + list + ")");
    }
    out.exported["kind"] = unit_kind_name(u.kind);
    out.exported["id"] = u.id;
    out.exported["ledger_entry"] = Json();
    out.exported["about"] = u.about ? Json(*u.about) : Json();
    out.exported["not_recorded"] = u.about ? Json() : Json(u.not_recorded);
    if (u.about) {
      Result<LedgerAppend> recorded = payload.ledger->record_export(*u.about, out.url, out.version);
      if (!recorded.ok()) {
        return recorded.status().WithContext("exported and confirmed (" + out.url + ", " + out.version +
                                             "), but the ledger could not record it");
      }
      out.exported["ledger_entry"] = recorded->index;
    }
    exported.push_back(std::move(out.exported));
  }
  const Json report = {{"schema", "flopsmeter.export/1"},
                       {"to", options.to},
                       {"store", s3 ? "s3" : "dynamodb"},
                       {"region", s.service.region},
                       {"endpoint", s.endpoint},
                       {"credentials", s.credentials.source},
                       {"source", {{"kind", source_kind_name(source.kind)}, {"name", source.name}}},
                       {"exported", exported},
                       {"notes", payload.notes}};
  return ExportReport{report.dump(2, ' ', false, Json::error_handler_t::replace) + "\n"};
}

}  // namespace flopsmeter
