// `flopsmeter train`: supervised fine-tuning (or pretraining, from a config
// without weights) of a Llama-architecture model from a TRL / AWS recipe,
// metered when the recipe says compute_flops: true. The options are the
// CLI's, read by the same readers as every shell (the recipe reader, the
// method and dataset options, the meter's options).
#ifndef FLOPSMETER_TRAINER_TRAINER_H_
#define FLOPSMETER_TRAINER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api/option_map.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct TrainReport {
  std::string status;        // the meter's: "completed", "stopped_by_budget", "interrupted"
  std::string record_text;   // the run record's summary; empty without compute_flops
  std::string record_path;   // flops_meter.json; empty without compute_flops
  std::string saved;         // where the trained weights (or adapter) are
  uint64_t tokens = 0;       // non-padding tokens trained on, by every rank
  double seconds = 0;        // the training loop's wall time
  bool leader = true;        // rank 0, which writes the weights and the record and speaks for the job
  bool pretrained_base = false;  // from scratch, metered: the record measures a base's pretraining
};

// Trains as `o` says; `say` prints progress lines. `command` is the command
// line, for the record.
Result<TrainReport> run_training(OptionMap o, const std::vector<std::string>& command,
                                 const std::function<void(const std::string&)>& say);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_TRAINER_H_
