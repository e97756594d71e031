#include "api/journal_fields.h"

#include <cmath>
#include <initializer_list>

#include "core/strict_fields.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

enum class Type {
  kString,
  kUnsigned,      // a whole number >= 0
  kInteger,       // a whole number, either sign
  kNumber,        // any finite number
  kBool,
  kObject,
  kObjectOrNull,
  kStrings,       // an array of strings
  kIntegers,      // an array of whole numbers
  kCount,         // a whole number >= 0, or its decimal string (counts past 2^64)
};

struct Field {
  const char* name;
  Type type;
  bool required;
};

const char* type_name(Type type) {
  switch (type) {
    case Type::kString: return "a string";
    case Type::kUnsigned: return "a whole number >= 0";
    case Type::kInteger: return "an integer";
    case Type::kNumber: return "a number";
    case Type::kBool: return "true or false";
    case Type::kObject: return "an object";
    case Type::kObjectOrNull: return "an object or null";
    case Type::kStrings: return "an array of strings";
    case Type::kIntegers: return "an array of integers";
    case Type::kCount: return "a whole number >= 0 or its decimal string";
  }
  return "a value";
}

const char* json_type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_float()) return "a fractional number";
  if (v.is_number_integer() && !v.is_number_unsigned()) return "a negative number";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

bool all_of(const Json& v, bool (*test)(const Json&)) {
  if (!v.is_array()) return false;
  for (const Json& item : v)
    if (!test(item)) return false;
  return true;
}

bool has_type(const Json& v, Type type) {
  switch (type) {
    case Type::kString: return v.is_string();
    case Type::kUnsigned: return v.is_number_unsigned();
    case Type::kInteger: return v.is_number_integer();
    case Type::kNumber: return v.is_number() && std::isfinite(v.get<double>());
    case Type::kBool: return v.is_boolean();
    case Type::kObject: return v.is_object();
    case Type::kObjectOrNull: return v.is_object() || v.is_null();
    case Type::kStrings: return all_of(v, [](const Json& s) { return s.is_string(); });
    case Type::kIntegers: return all_of(v, [](const Json& s) { return s.is_number_integer(); });
    case Type::kCount: {
      if (v.is_number_unsigned()) return true;
      if (!v.is_string()) return false;
      const std::string& s = v.get_ref<const std::string&>();
      return !s.empty() && s.size() <= 40 && s.find_first_not_of("0123456789") == std::string::npos;
    }
  }
  return false;
}

Status check_fields(const Json& object, const std::string& where, const std::string& prefix,
                    std::initializer_list<Field> fields) {
  for (const Field& f : fields) {
    const auto it = object.find(f.name);
    if (it == object.end()) {
      if (f.required) return Status::ParseError(where + ": field '" + prefix + f.name + "' is missing");
      continue;
    }
    if (!has_type(*it, f.type)) {
      return Status::ParseError(where + ": field '" + prefix + f.name + "': expected " + type_name(f.type) + ", got " +
                                json_type_name(*it));
    }
  }
  return Status();
}

// A member that must be an object when present, checked with `fields`.
Status check_member(const Json& line, const char* name, const std::string& where,
                    std::initializer_list<Field> fields) {
  const auto it = line.find(name);
  if (it == line.end() || !it->is_object()) return Status();  // presence and type: the line's own fields
  return check_fields(*it, where, std::string(name) + ".", fields);
}

Status check_begin(const Json& line, const std::string& where) {
  FM_RETURN_IF_ERROR(check_fields(line, where, "",
                                  {{"run_id", Type::kString, true},
                                   {"t", Type::kNumber, true},
                                   {"time", Type::kString, false},
                                   {"host", Type::kString, true},
                                   {"pid", Type::kInteger, true},
                                   {"rank", Type::kUnsigned, true},
                                   {"world_size", Type::kUnsigned, true},
                                   {"local_rank", Type::kUnsigned, false},
                                   {"tool_version", Type::kString, false},
                                   {"rules_version", Type::kString, false},
                                   {"options", Type::kObject, true},
                                   {"accounting", Type::kObject, false},
                                   {"sampler", Type::kObject, false},
                                   {"token_source", Type::kString, false},
                                   {"provenance", Type::kObject, false},
                                   {"resumed_from", Type::kObjectOrNull, false}}));
  if (line["world_size"].get<uint64_t>() == 0) return Status::ParseError(where + ": field 'world_size' is 0");
  FM_RETURN_IF_ERROR(check_member(line, "resumed_from", where,
                                  {{"segment", Type::kUnsigned, true},
                                   {"seq", Type::kUnsigned, true},
                                   {"step", Type::kUnsigned, false},
                                   {"checkpoint", Type::kString, false},
                                   {"exact", Type::kBool, false}}));
  FM_RETURN_IF_ERROR(check_member(line, "sampler", where,
                                  {{"enabled", Type::kBool, false},
                                   {"driver_version", Type::kString, false},
                                   {"hz", Type::kNumber, false},
                                   {"library", Type::kString, false},
                                   {"notes", Type::kStrings, false},
                                   {"error", Type::kString, false},
                                   {"note", Type::kString, false}}));
  return check_member(line, "accounting", where,
                      {{"n_total", Type::kUnsigned, false},
                       {"n_trainable", Type::kUnsigned, false},
                       {"counts_source", Type::kString, false},
                       {"notes", Type::kStrings, false},
                       {"base", Type::kObject, false},
                       {"probe", Type::kObjectOrNull, false}});
}

Status check_gpus(const Json& gpus, const std::string& where) {
  if (!gpus.is_array()) return Status::ParseError(where + ": field 'gpus': expected an array of objects");
  for (size_t i = 0; i < gpus.size(); ++i) {
    const Json& g = gpus[i];
    const std::string at = "gpus[" + std::to_string(i) + "].";
    if (!g.is_object()) return Status::ParseError(where + ": field 'gpus[" + std::to_string(i) + "]': expected an object");
    FM_RETURN_IF_ERROR(check_fields(g, where, at,
                                    {{"index", Type::kUnsigned, false},
                                     {"uuid", Type::kString, false},
                                     {"name", Type::kString, false},
                                     {"pci_bus_id", Type::kString, false},
                                     {"catalog_id", Type::kString, false},
                                     {"peak_flop_per_s", Type::kNumber, false},
                                     {"peak_source", Type::kString, false},
                                     {"max_sm_clock_mhz", Type::kUnsigned, false},
                                     {"samples", Type::kUnsigned, false},
                                     {"attributed_seconds", Type::kNumber, false},
                                     {"bound_flop", Type::kNumber, false},
                                     {"utilization_flop", Type::kNumber, false},
                                     {"mean_utilization", Type::kNumber, false},
                                     {"mean_sm_clock_mhz", Type::kNumber, false},
                                     {"max_power_w", Type::kNumber, false},
                                     {"energy_j", Type::kNumber, false},
                                     {"energy_method", Type::kString, false},
                                     {"pids_seen", Type::kIntegers, false},
                                     {"lost", Type::kBool, false},
                                     {"notes", Type::kStrings, false}}));
    for (const char* figure : {"bound_flop", "utilization_flop", "energy_j"}) {
      if (g.contains(figure) && g[figure].get<double>() < 0) {
        return Status::ParseError(where + ": field '" + at + figure + "' is negative");
      }
    }
  }
  return Status();
}

Status check_counts_line(const Json& line, const std::string& where, const std::string& kind) {
  FM_RETURN_IF_ERROR(check_fields(line, where, "",
                                  {{"t", Type::kNumber, true},
                                   {"step", Type::kUnsigned, true},
                                   {"tokens", Type::kCount, true},
                                   {"positions", Type::kCount, true},
                                   {"micro_batches", Type::kUnsigned, false},
                                   {"executed_forward", Type::kCount, false},
                                   {"executed_backward", Type::kCount, false},
                                   {"executed_recompute", Type::kCount, false},
                                   {"sampler_notes", Type::kStrings, false},
                                   {"checkpoint", Type::kString, kind == "checkpoint"},
                                   {"status", Type::kString, kind == "end"},
                                   {"notes", Type::kStrings, false},
                                   {"token_source", Type::kString, false}}));
  if (kind == "end" && !is_end_status(line["status"].get<std::string>())) {
    return Status::ParseError(where + ": field 'status': '" + printable(line["status"].get<std::string>()) +
                              "' is not an end status (completed, stopped_by_budget, failed, interrupted)");
  }
  if (line.contains("sequences")) {
    const Json& pairs = line["sequences"];
    if (!pairs.is_array()) return Status::ParseError(where + ": field 'sequences': expected [length, count] pairs");
    for (const Json& pair : pairs) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() || !pair[1].is_number_unsigned()) {
        return Status::ParseError(where + ": field 'sequences': expected [length, count] pairs");
      }
    }
  }
  if (line.contains("events")) {
    const Json& events = line["events"];
    if (!events.is_array()) return Status::ParseError(where + ": field 'events': expected {\"kind\", \"message\"} objects");
    for (const Json& e : events) {
      if (!e.is_object() || !has_type(e.value("kind", Json()), Type::kString) ||
          !has_type(e.value("message", Json()), Type::kString)) {
        return Status::ParseError(where + ": field 'events': expected {\"kind\", \"message\"} objects");
      }
    }
  }
  if (line.contains("gpus")) FM_RETURN_IF_ERROR(check_gpus(line["gpus"], where));
  return Status();
}

}  // namespace

bool is_end_status(const std::string& status) {
  return status == "completed" || status == "stopped_by_budget" || status == "failed" || status == "interrupted";
}

Status check_line_fields(const Json& line, const std::string& where) {
  FM_RETURN_IF_ERROR(check_fields(line, where, "", {{"kind", Type::kString, true}, {"segment", Type::kUnsigned, true}}));
  const std::string& kind = line["kind"].get_ref<const std::string&>();
  if (kind == "begin") return check_begin(line, where);
  if (kind == "progress" || kind == "checkpoint" || kind == "end") return check_counts_line(line, where, kind);
  return Status::ParseError(where + ": field 'kind': unknown kind '" + printable(kind) + "'");
}

}  // namespace flopsmeter
