// `flopsmeter train --nproc-per-node N`: the trainer started as N
// data-parallel ranks on this machine, as `torchrun --nproc-per-node N`
// starts a program: each rank is this program again with RANK, LOCAL_RANK,
// WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR (127.0.0.1) and a free
// MASTER_PORT in its environment. Several machines are torchrun's work
// (`torchrun --no-python ... flopsmeter-train ...`), whose variables the
// trainer reads the same way.
#ifndef FLOPSMETER_TRAINER_RANK_LAUNCHER_H_
#define FLOPSMETER_TRAINER_RANK_LAUNCHER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/option_map.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// With nproc-per-node above 1 in `o` and no launcher's RANK in the
// environment, runs `argv` (this program's command line) as that many ranks
// and returns the job's exit status: 0, or the first failing rank's (the
// others are then stopped, as torchrun stops them). SIGINT, SIGTERM and
// SIGHUP reach every rank, which each stop after the step with a
// checkpoint. nullopt: this process is itself a rank (or the only one) and
// trains; a rank this launcher started (FLOPSMETER_LAUNCHER_PID, its pid,
// in the rank's environment) then stops as after SIGTERM if the launcher
// dies without passing a signal on (Linux). Errors: a count that is not a whole number, one that disagrees
// with the launcher's LOCAL_WORLD_SIZE, or ranks that cannot be started.
Result<std::optional<int>> launch_local_ranks(const OptionMap& o, const std::vector<std::string>& argv,
                                              const std::function<void(const std::string&)>& say);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_RANK_LAUNCHER_H_
