// The C ABI over the C++ meter: JSON in, JSON out, status codes, no throws.
#include "flopsmeter/c_api.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include <nlohmann/json.hpp>

#include "api/meter_options.h"
#include "capi/c_api_support.h"
#include "core/strict_fields.h"
#include "flopsmeter/meter.h"
#include "flopsmeter/version.h"

struct fm_meter {
  std::unique_ptr<flopsmeter::Meter> meter;
};

namespace {

using flopsmeter::Result;
using flopsmeter::Status;
using flopsmeter::capi::copy_string;
using flopsmeter::capi::guarded;

Result<flopsmeter::EndOptions> end_options(const char* json) {
  flopsmeter::EndOptions end;
  if (json == nullptr || *json == '\0') return end;
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return Status::ParseError("end options: expected a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "status" && value.is_string()) {
      end.status = value.get<std::string>();
      static const char* kStatuses[] = {"completed", "stopped_by_budget", "failed", "interrupted"};
      bool known = false;
      for (const char* s : kStatuses) known = known || end.status == s;
      if (!known) return Status::InvalidArgument("end options: status '" + flopsmeter::printable(end.status) + "': expected completed, stopped_by_budget, failed or interrupted");
    } else if (key == "global_step" && value.is_number_unsigned()) {
      end.global_step = value.get<uint64_t>();
    } else if (key == "world" && value.is_object()) {
      // `world`, not the binding itself: clang before 16 cannot capture structured bindings.
      auto count = [&world = value](const char* name) -> Result<std::optional<flopsmeter::Flop>> {
        if (!world.contains(name)) return std::optional<flopsmeter::Flop>();
        const auto& v = world[name];
        if (v.is_number_unsigned()) return std::optional<flopsmeter::Flop>(v.get<uint64_t>());
        if (v.is_string()) {
          FM_ASSIGN_OR_RETURN(flopsmeter::Flop f, flopsmeter::parse_exact_integer(v.get<std::string>(), std::string("world.") + name));
          return std::optional<flopsmeter::Flop>(f);
        }
        return Status::InvalidArgument(std::string("end options: world.") + name + ": expected a whole number");
      };
      FM_ASSIGN_OR_RETURN(end.world_tokens, count("tokens"));
      FM_ASSIGN_OR_RETURN(end.world_positions, count("positions"));
      FM_ASSIGN_OR_RETURN(auto micro, count("micro_batches"));
      if (micro) end.world_micro_batches = static_cast<uint64_t>(*micro);
      if (value.contains("sequences")) {
        for (const auto& pair : value["sequences"]) {
          if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() || !pair[1].is_number_unsigned()) {
            return Status::InvalidArgument("end options: world.sequences: expected [length, count] pairs");
          }
          end.world_sequences[pair[0].get<uint64_t>()] += pair[1].get<uint64_t>();
        }
      }
    } else if (key == "notes" && value.is_array()) {
      for (const auto& note : value) {
        if (!note.is_string()) return Status::InvalidArgument("end options: notes: expected strings");
        end.notes.push_back(note.get<std::string>());
      }
    } else if (key == "token_source" && value.is_string()) {
      end.token_source = value.get<std::string>();
    } else {
      return Status::InvalidArgument("end options: unknown or mistyped key '" + flopsmeter::printable(key) +
                                     "' (status, global_step, world, notes, token_source)");
    }
  }
  return end;
}

nlohmann::json budget_state_json(const flopsmeter::BudgetState& s) {
  nlohmann::json j = {{"global_step", s.global_step},
                      {"compute_flop", flopsmeter::to_decimal(s.compute_flop)},
                      {"budget_fraction", s.budget_fraction},
                      {"threshold_fraction", s.threshold_fraction},
                      {"threshold_flop", s.threshold_flop.to_string()},
                      {"new_warnings", s.new_warnings},
                      {"stop", s.stop}};
  j["budget_flop"] = s.budget_flop ? nlohmann::json(flopsmeter::to_decimal(*s.budget_flop)) : nlohmann::json();
  return j;
}

}  // namespace

extern "C" {

int fm_abi_version(void) { return FM_ABI_VERSION; }
const char* fm_version(void) { return FLOPSMETER_VERSION_STRING; }
void fm_free(void* p) { std::free(p); }

fm_status fm_meter_begin(const char* options_json, fm_meter** out, char** error) {
  return guarded(error, [&]() -> Status {
    if (out == nullptr) return Status::InvalidArgument("fm_meter_begin: out is NULL");
    *out = nullptr;
    if (options_json == nullptr) return Status::InvalidArgument("fm_meter_begin: options_json is NULL");
    FM_ASSIGN_OR_RETURN(flopsmeter::MeterOptions options,
                        flopsmeter::meter_options_from_json(options_json, "meter options"));
    FM_RETURN_IF_ERROR(flopsmeter::meter_options_from_environment(options));
    FM_ASSIGN_OR_RETURN(std::unique_ptr<flopsmeter::Meter> meter, flopsmeter::Meter::Begin(options));
    *out = new fm_meter{std::move(meter)};
    return Status();
  });
}

void fm_meter_add(fm_meter* m, uint64_t tokens, uint64_t positions, uint64_t micro_batches) {
  if (m != nullptr) m->meter->add(tokens, positions, micro_batches);
}
void fm_meter_add_positions(fm_meter* m, uint64_t positions, uint64_t micro_batches) {
  if (m != nullptr) m->meter->add_positions(positions, micro_batches);
}
void fm_meter_sync_tokens(fm_meter* m, uint64_t tokens) {
  if (m != nullptr) m->meter->sync_tokens(tokens);
}
void fm_meter_add_sequences(fm_meter* m, uint64_t length, uint64_t count) {
  if (m != nullptr) m->meter->add_sequences(length, count);
}

fm_status fm_meter_step(fm_meter* m, uint64_t global_step, char** state_json, char** error) {
  if (state_json != nullptr) *state_json = nullptr;
  return guarded(error, [&]() -> Status {
    if (m == nullptr) return Status::InvalidArgument("fm_meter_step: meter is NULL");
    FM_ASSIGN_OR_RETURN(flopsmeter::BudgetState s, m->meter->step(global_step));
    if (state_json != nullptr) *state_json = copy_string(budget_state_json(s).dump());
    return Status();
  });
}

fm_status fm_meter_step_budget(fm_meter* m, uint64_t global_step, int* stop, char** news_json, char** error) {
  if (stop != nullptr) *stop = 0;
  if (news_json != nullptr) *news_json = nullptr;
  return guarded(error, [&]() -> Status {
    if (m == nullptr) return Status::InvalidArgument("fm_meter_step_budget: meter is NULL");
    FM_ASSIGN_OR_RETURN(flopsmeter::BudgetState s, m->meter->step(global_step));
    if (stop != nullptr) *stop = s.stop ? 1 : 0;
    if (news_json != nullptr && (s.stop || !s.new_warnings.empty())) {
      *news_json = copy_string(budget_state_json(s).dump());
    }
    return Status();
  });
}

fm_status fm_meter_checkpoint(fm_meter* m, uint64_t global_step, const char* path, char** error) {
  return guarded(error, [&]() -> Status {
    if (m == nullptr) return Status::InvalidArgument("fm_meter_checkpoint: meter is NULL");
    return m->meter->checkpoint(global_step, path == nullptr ? "" : path);
  });
}

fm_status fm_meter_flush(fm_meter* m, char** error) {
  return guarded(error, [&]() -> Status {
    if (m == nullptr) return Status::InvalidArgument("fm_meter_flush: meter is NULL");
    return m->meter->flush();
  });
}

fm_status fm_meter_end(fm_meter* m, const char* end_json, char** record_json, char** error) {
  if (record_json != nullptr) *record_json = nullptr;
  return guarded(error, [&]() -> Status {
    if (m == nullptr) return Status::InvalidArgument("fm_meter_end: meter is NULL");
    FM_ASSIGN_OR_RETURN(flopsmeter::EndOptions end, end_options(end_json));
    FM_ASSIGN_OR_RETURN(flopsmeter::RunRecord record, m->meter->end(end));
    if (record_json != nullptr) *record_json = copy_string(record.json);
    return Status();
  });
}

void fm_meter_free(fm_meter* m) { delete m; }

const char* fm_meter_run_id(const fm_meter* m) { return m == nullptr ? nullptr : m->meter->run_id().c_str(); }

fm_status fm_report_run(const char* run_dir, const char* options_json, char** record_json, char** error) {
  if (record_json != nullptr) *record_json = nullptr;
  return guarded(error, [&]() -> Status {
    if (run_dir == nullptr) return Status::InvalidArgument("fm_report_run: run_dir is NULL");
    flopsmeter::ReportOptions options;
    if (options_json != nullptr && *options_json != '\0') {
      nlohmann::json j = nlohmann::json::parse(options_json, nullptr, false);
      if (!j.is_object()) return Status::ParseError("report options: expected a JSON object");
      for (const auto& [key, value] : j.items()) {
        if (key == "write" && value.is_boolean()) {
          options.write = value.get<bool>();
        } else if (key == "out" && value.is_string()) {
          options.output = value.get<std::string>();
        } else if (key == "data-dir" && value.is_string()) {
          options.data_dir = value.get<std::string>();
        } else {
          return Status::InvalidArgument("report options: unknown or mistyped key '" + flopsmeter::printable(key) + "' (write, out, data-dir)");
        }
      }
    }
    FM_ASSIGN_OR_RETURN(flopsmeter::RunRecord record, flopsmeter::report_run(run_dir, options));
    if (record_json != nullptr) *record_json = copy_string(record.json);
    return Status();
  });
}

}  // extern "C"
