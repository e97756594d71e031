// Items into a DynamoDB table (AWS, or a compatible endpoint such as
// dynalite or DynamoDB Local): PutItem under a condition, GetItem with a
// consistent read. Items are JSON in DynamoDB's attribute-value form
// ({"run_id": {"S": "..."}, "N_total": {"N": "1000000"}}).
//
// Every answer is checked: HTTP 200, a JSON object, and its x-amz-crc32
// (the CRC-32 of the body, which DynamoDB sends and the SDKs check) equal
// to that of the body received.
#ifndef FLOPSMETER_ADAPTERS_DYNAMODB_CLIENT_H_
#define FLOPSMETER_ADAPTERS_DYNAMODB_CLIENT_H_

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/aws_request.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct DynamoDbTable {
  std::string endpoint;  // scheme://host[:port], e.g. https://dynamodb.eu-west-1.amazonaws.com
  std::string table;
};

// Writes `item` (attribute name -> attribute value) under `condition`, a
// ConditionExpression naming attributes directly (no placeholders).
// Returns true when written, false when the condition did not hold
// (ConditionalCheckFailedException: nothing was written). The write is
// tried again like any safe request: give a condition under which a repeat
// of the same write changes nothing (attribute_not_exists(KEY)).
Result<bool> dynamodb_put_item(const AwsService& service, const DynamoDbTable& table, const nlohmann::json& item,
                               const std::string& condition);

// The item with `key` (a consistent read), or nullopt when there is none.
Result<std::optional<nlohmann::json>> dynamodb_get_item(const AwsService& service, const DynamoDbTable& table,
                                                        const nlohmann::json& key);

// "dynamodb://table", for messages and reports.
std::string dynamodb_url(const DynamoDbTable& table);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_DYNAMODB_CLIENT_H_
