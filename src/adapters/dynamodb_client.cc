#include "adapters/dynamodb_client.h"

#include <zlib.h>

#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

AwsError read_dynamodb_error(const HttpResponse& answer) {
  const Json j = Json::parse(answer.body, nullptr, false);
  AwsError e;
  if (!j.is_object()) return e;
  const Json type = j.value("__type", Json());
  if (type.is_string()) e.code = type.get<std::string>().substr(type.get<std::string>().rfind('#') + 1);
  for (const char* key : {"message", "Message"}) {
    if (j.value(key, Json()).is_string()) e.message = j[key].get<std::string>();
  }
  for (const char* passing : {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                              "InternalServerError", "ServiceUnavailable"}) {
    e.passing = e.passing || e.code == passing;
  }
  return e;
}

// The answer's body is what the service sent: its x-amz-crc32 says so.
Status check_crc32(const HttpResponse& r, const std::string& what) {
  const auto sent = r.headers.find("x-amz-crc32");
  if (sent == r.headers.end()) return Status();
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(r.body.data()),
                          static_cast<uInt>(r.body.size()));
  if (sent->second != std::to_string(crc)) {
    return Status::IoError(what + ": the answer's CRC-32 (" + printable_text(sent->second) +
                           ") is not that of its body: damaged on the way");
  }
  return Status();
}

struct Called {
  Json body;                  // the 200 answer's
  std::optional<AwsAnswer> refused;  // the service's error answer
};

Result<Called> call(const AwsService& s, const DynamoDbTable& t, const char* operation, const Json& request,
                    const std::string& what) {
  const std::string body = request.dump(-1, ' ', false, Json::error_handler_t::replace);
  HttpRequest r;
  r.method = "POST";
  r.url = t.endpoint + "/";
  r.body = body;
  r.headers = {{"Content-Type", "application/x-amz-json-1.0"},
               {"X-Amz-Target", std::string("DynamoDB_20120810.") + operation}};
  // Both operations are safe to repeat: a read, and a write under a
  // condition that makes its repeat change nothing.
  FM_ASSIGN_OR_RETURN(AwsAnswer a, aws_call(s, std::move(r), true, read_dynamodb_error, what));
  FM_RETURN_IF_ERROR(check_crc32(a.response, what));
  if (a.error) return Called{Json(), std::move(a)};
  Called out{Json::parse(a.response.body, nullptr, false), std::nullopt};
  if (!out.body.is_object()) return Status::IoError(what + ": the answer is not a JSON object: not confirmed");
  return out;
}

}  // namespace

std::string dynamodb_url(const DynamoDbTable& table) { return "dynamodb://" + table.table; }

Result<bool> dynamodb_put_item(const AwsService& service, const DynamoDbTable& table, const nlohmann::json& item,
                               const std::string& condition) {
  const Json request = {{"TableName", table.table}, {"Item", item}, {"ConditionExpression", condition}};
  const std::string what = dynamodb_url(table);
  FM_ASSIGN_OR_RETURN(Called c, call(service, table, "PutItem", request, what));
  if (!c.refused) return true;
  if (c.refused->error->code == "ConditionalCheckFailedException") return false;
  return aws_error_status(service, what, *c.refused);
}

Result<std::optional<nlohmann::json>> dynamodb_get_item(const AwsService& service, const DynamoDbTable& table,
                                                        const nlohmann::json& key) {
  const Json request = {{"TableName", table.table}, {"Key", key}, {"ConsistentRead", true}};
  const std::string what = dynamodb_url(table);
  FM_ASSIGN_OR_RETURN(Called c, call(service, table, "GetItem", request, what));
  if (c.refused) return aws_error_status(service, what, *c.refused);
  if (!c.body.contains("Item")) return std::optional<Json>();
  if (!c.body["Item"].is_object()) return Status::IoError(what + ": the answer's Item is not an object");
  return std::optional<Json>(c.body["Item"]);
}

}  // namespace flopsmeter
