// The FLOP of every matrix product the trainer executes, counted where the
// product is dispatched, from its operands' shapes (2·m·k·n each), by pass.
//
// Every product of the model goes through counted_product. Its
// backward runs, and counts, only the products autograd asks for: a frozen
// weight gets no weight-gradient product, an input that needs no gradient no
// input-gradient product. So the count is what ran, decided by autograd, not
// by the accounting it is held against. A DispatchWatch counts the product
// kernels libtorch itself dispatched (aten::mm, aten::bmm, ...), so a test
// can prove that no product ran outside the count.
#ifndef FLOPSMETER_TRAINER_EXECUTED_FLOPS_H_
#define FLOPSMETER_TRAINER_EXECUTED_FLOPS_H_

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdint>

#include "flopsmeter/exact.h"

namespace flopsmeter {

struct ExecutedFlops {
  Flop forward = 0;
  Flop backward = 0;
  Flop recompute = 0;  // forward passes run again under gradient checkpointing
  uint64_t products = 0;
  Flop trained() const { return forward + backward; }  // what `detailed` counts
};

// The process's count since the last reset. The trainer runs one model at a
// time; backward on the CPU runs on the calling thread, and the counters are
// atomic for the autograd engine's device threads.
ExecutedFlops executed_flops();
void reset_executed_flops();

// Products made inside this scope (a checkpointed layer's forward run again
// in backward) count as recompute.
class RecomputeScope {
 public:
  RecomputeScope();
  ~RecomputeScope();
  RecomputeScope(const RecomputeScope&) = delete;
  RecomputeScope& operator=(const RecomputeScope&) = delete;

 private:
  bool previous_;
};

// a [m, k] @ b [k, n] (aten::mm), or a [B, m, k] @ b [B, k, n] (aten::bmm), counted.
torch::Tensor counted_product(const torch::Tensor& a, const torch::Tensor& b);

// Counts the matrix-product kernels dispatched to libtorch while it lives,
// forward and backward, whoever called them.
class DispatchWatch {
 public:
  DispatchWatch();
  ~DispatchWatch();
  DispatchWatch(const DispatchWatch&) = delete;
  DispatchWatch& operator=(const DispatchWatch&) = delete;
  uint64_t products() const;

 private:
  uint64_t start_;
  at::CallbackHandle handle_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_EXECUTED_FLOPS_H_
