// flopsmeter's settings from the environment: one prefix, FLOPSMETER_, with
// the AWS toolkit's names (PRETRAIN_FLOPS, FLOPS_METER_*) kept as aliases so
// its users can switch. An empty variable counts as unset; where both forms
// are set, FLOPSMETER_'s wins. Launcher variables (RANK, WORLD_SIZE,
// LOCAL_RANK, CUDA_VISIBLE_DEVICES, TRAINING_JOB_NAME) keep their own names,
// and so do the Hugging Face Hub's (HF_HOME, HF_HUB_CACHE, HF_TOKEN,
// HF_ENDPOINT, HF_HUB_OFFLINE...): they are huggingface_hub's settings,
// shared with every tool of that ecosystem, so flopsmeter reads them as
// that library does rather than under a FLOPSMETER_ name of its own.
#ifndef FLOPSMETER_ADAPTERS_ENVIRONMENT_H_
#define FLOPSMETER_ADAPTERS_ENVIRONMENT_H_

#include <optional>
#include <string>

namespace flopsmeter {

enum class EnvSetting {
  kPretrainFlops,  // FLOPSMETER_PRETRAIN_FLOPS, alias PRETRAIN_FLOPS
  kNvml,           // FLOPSMETER_NVML, alias FLOPS_METER_NVML
  kOut,            // FLOPSMETER_OUT, alias FLOPS_METER_OUT
  kPeakFlops,      // FLOPSMETER_PEAK_FLOPS, alias FLOPS_METER_PEAK_FLOPS
  kNvmlLibrary,    // FLOPSMETER_NVML_LIBRARY, alias FLOPS_METER_NVML_LIBRARY
  kRunId,          // FLOPSMETER_RUN_ID, alias FLOPS_METER_RUN_ID
  kExport,         // FLOPSMETER_EXPORT, alias FLOPS_METER_EXPORT
  kLedger,         // FLOPSMETER_LEDGER
  kLedgerKey,      // FLOPSMETER_LEDGER_KEY
  kOrganisation,   // FLOPSMETER_ORGANISATION
  kDataDir,        // FLOPSMETER_DATA_DIR
};

struct EnvValue {
  std::string value;
  std::string variable;  // the one read, for messages: "PRETRAIN_FLOPS"
};

// The setting's value, or nullopt when neither name is set (or both empty).
std::optional<EnvValue> env_setting(EnvSetting setting);

// A variable read by its own name (a launcher's, the Hugging Face Hub's):
// "" when unset.
std::string env_variable(const char* name);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_ENVIRONMENT_H_
