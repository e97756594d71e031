// The jinja2 filters and tests chat templates use, with jinja2 3.1's
// behaviour (and transformers' own tojson). Filters jinja2 has but this
// subset does not are reported as unsupported rather than unknown.
#ifndef FLOPSMETER_TEMPLATE_FILTERS_H_
#define FLOPSMETER_TEMPLATE_FILTERS_H_

#include <optional>
#include <string_view>

#include "flopsmeter/status.h"
#include "template/builtins.h"
#include "template/value.h"

namespace flopsmeter::jinja {

enum class FilterId : uint8_t {
  kAbs,
  kAttr,
  kCapitalize,
  kDefault,  // also `d`
  kDictsort,
  kEscape,  // also `e`
  kFirst,
  kFloat,
  kIndent,
  kInt,
  kItems,
  kJoin,
  kLast,
  kLength,  // also `count`
  kList,
  kLower,
  kMap,
  kMax,
  kMin,
  kReject,
  kRejectattr,
  kReplace,
  kReverse,
  kRound,
  kSafe,
  kSelect,
  kSelectattr,
  kSort,
  kString,
  kSum,
  kTitle,
  kTojson,
  kTrim,
  kUnique,
  kUpper,
};

enum class TestId : uint8_t {
  kBoolean,
  kCallable,
  kDefined,
  kDivisibleby,
  kEq,  // also equalto, ==
  kEven,
  kFalse,
  kFilter,
  kFloat,
  kGe,  // also >=
  kGt,  // also greaterthan, >
  kIn,
  kInteger,
  kIterable,
  kLe,  // also <=
  kLower,
  kLt,  // also lessthan, <
  kMapping,
  kNe,  // also !=
  kNone,
  kNumber,
  kOdd,
  kSameas,
  kSequence,
  kString,
  kTest,
  kTrue,
  kUndefined,
  kUpper,
};

std::optional<FilterId> FindFilter(std::string_view name);
std::optional<TestId> FindTest(std::string_view name);

// The error for a filter or test name this subset does not know: jinja2's
// own ones are "not supported", others "no filter named ...".
Status UnknownFilter(std::string_view name);
Status UnknownTest(std::string_view name);

Result<Value> ApplyFilter(FilterId id, const Value& operand, const Arguments& args, RenderEnv* env);
Result<bool> ApplyTest(TestId id, const Value& operand, const Arguments& args, RenderEnv* env);

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_FILTERS_H_
