// Data-parallel ranks of the native trainer, as torchrun launches them
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): every rank holds
// the whole model and trains its share of each optimizer step's
// micro-batches; the ranks sum their gradients before each takes the same
// step, so the model stays identical everywhere. Collectives run over Gloo
// (TCP) on CPU tensors. A process without those variables is a world of one,
// for which every collective is a no-op.
//
// The collectives throw (libtorch's c10::Error) when a peer is gone; the
// trainer reports that as its error, and nothing throws past it.
#ifndef FLOPSMETER_TRAINER_DATA_PARALLEL_H_
#define FLOPSMETER_TRAINER_DATA_PARALLEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "flopsmeter/status.h"

namespace flopsmeter {

class DataParallel {
 public:
  // Joins the job the environment describes (the store at MASTER_ADDR:
  // MASTER_PORT, hosted by rank 0 or, under torchrun's elastic agent, by the
  // agent). Errors name the variable at fault.
  static Result<std::unique_ptr<DataParallel>> FromEnvironment();
  virtual ~DataParallel() = default;

  uint32_t rank() const { return rank_; }
  uint32_t world_size() const { return world_size_; }
  uint32_t local_rank() const { return local_rank_; }
  bool leader() const { return rank_ == 0; }

  // Sums (or takes the maximum of) `t` over the ranks, in place. `t` may
  // live on any device; the reduction runs on a CPU copy.
  virtual void sum(torch::Tensor& t) = 0;
  virtual void max(torch::Tensor& t) = 0;
  // Returns when every rank has called it.
  virtual void barrier() = 0;
  // Rank 0's `value` under `key`, on every rank (others' `value` is ignored).
  virtual std::string share(const std::string& key, const std::string& value) = 0;

 protected:
  DataParallel(uint32_t rank, uint32_t world_size, uint32_t local_rank)
      : rank_(rank), world_size_(world_size), local_rank_(local_rank) {}

 private:
  uint32_t rank_, world_size_, local_rank_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_DATA_PARALLEL_H_
