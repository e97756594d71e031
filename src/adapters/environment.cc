#include "adapters/environment.h"

#include <cstdlib>

namespace flopsmeter {
namespace {

struct Names {
  EnvSetting setting;
  const char* name;
  const char* alias;  // nullptr: none
};

constexpr Names kNames[] = {
    {EnvSetting::kPretrainFlops, "FLOPSMETER_PRETRAIN_FLOPS", "PRETRAIN_FLOPS"},
    {EnvSetting::kNvml, "FLOPSMETER_NVML", "FLOPS_METER_NVML"},
    {EnvSetting::kOut, "FLOPSMETER_OUT", "FLOPS_METER_OUT"},
    {EnvSetting::kPeakFlops, "FLOPSMETER_PEAK_FLOPS", "FLOPS_METER_PEAK_FLOPS"},
    {EnvSetting::kNvmlLibrary, "FLOPSMETER_NVML_LIBRARY", "FLOPS_METER_NVML_LIBRARY"},
    {EnvSetting::kRunId, "FLOPSMETER_RUN_ID", "FLOPS_METER_RUN_ID"},
    {EnvSetting::kExport, "FLOPSMETER_EXPORT", "FLOPS_METER_EXPORT"},
    {EnvSetting::kLedger, "FLOPSMETER_LEDGER", nullptr},
    {EnvSetting::kLedgerKey, "FLOPSMETER_LEDGER_KEY", nullptr},
    {EnvSetting::kOrganisation, "FLOPSMETER_ORGANISATION", nullptr},
    {EnvSetting::kDataDir, "FLOPSMETER_DATA_DIR", nullptr},
};

std::optional<EnvValue> read(const char* name) {
  if (name == nullptr) return std::nullopt;
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return EnvValue{v, name};
}

}  // namespace

std::string env_variable(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::optional<EnvValue> env_setting(EnvSetting setting) {
  for (const Names& n : kNames) {
    if (n.setting != setting) continue;
    if (std::optional<EnvValue> v = read(n.name)) return v;
    return read(n.alias);
  }
  return std::nullopt;
}

}  // namespace flopsmeter
