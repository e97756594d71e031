// The workload an estimate evaluates: a counted dataset in the layout, batch
// and order the trainer runs it in, or a token or sample count, over epochs
// that may be fractional, stepped through as transformers' Trainer does; and
// the formulas evaluated on it (expected over shuffles, worst order beside).
#ifndef FLOPSMETER_API_ESTIMATE_WORKLOAD_H_
#define FLOPSMETER_API_ESTIMATE_WORKLOAD_H_

#include <optional>

#include "flopsmeter/estimate.h"

namespace flopsmeter {

// `dataset` is the counted dataset (counted with request.micro_batch_size as
// its padded batch), or null for tokens_per_epoch / samples.
Result<EstimateWorkload> build_workload(const EstimateRequest& request, const Model& model,
                                        const TokenCountReport* dataset);

struct WorkloadFlops {
  FlopsEstimate expected;                 // to the nearest FLOP when w.expected is fixed point
  std::optional<FlopsEstimate> worst_case;  // when w.worst_case
};
Result<WorkloadFlops> workload_flops(const Model& model, const TrainingPlan& plan, const EstimateWorkload& w);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_ESTIMATE_WORKLOAD_H_
