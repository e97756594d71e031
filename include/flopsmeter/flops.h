// Training FLOP formulas, reported side by side.
//
//   eu_6nd      6 x N_total x D                 (GPAI Guidelines, Annex A.2.2)
//   peft_aware  (4 x N_total + 2 x N_trainable) x D   (the AWS toolkit's formula,
//               with N_total and N_trainable counted after the PEFT wrap)
//   detailed    counted from the architecture, matmul by matmul, so that it
//               equals the matmul FLOPs a training step executes: forward,
//               backward (input gradients only where something below needs
//               them, weight gradients only for trainable tensors), with
//               gradient-checkpointing recomputation and the optimizer step
//               reported separately.
//
// D is the number of training tokens (non-padding, all epochs). All figures
// are exact integers (FLOP, not FLOP/s). docs/formulas.md derives each one.
//
// Thread safety: pure functions over immutable values.
#ifndef FLOPSMETER_FLOPS_H_
#define FLOPSMETER_FLOPS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/method.h"
#include "flopsmeter/model.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// Which attention kernel executes QK^T and AV.
enum class AttentionKernel {
  // eager / math SDPA: the full seq x seq product even under a causal mask.
  kDense,
  // FlashAttention-style: masked blocks (and tokens outside a sliding window)
  // are skipped; the backward re-forms QK^T inside the kernel.
  kFlash,
};
const char* attention_kernel_name(AttentionKernel k);  // "dense" / "flash"
// Accepts "dense", "eager", "sdpa", "math" (dense) and "flash", "flash_attention_2", "flash_attention_3" (flash).
Result<AttentionKernel> parse_attention_kernel(const std::string& name);

// How gradient checkpointing recomputes (torch.utils.checkpoint's use_reentrant).
enum class CheckpointMode {
  // use_reentrant=True, transformers' default: transformers/PEFT make the
  // layers' inputs require grad (enable_input_require_grads), so every
  // decoder layer is recomputed and computes its input gradient.
  kReentrant,
  // use_reentrant=False: a layer is recomputed only when its backward runs,
  // and gradients flow only where something below trains: frozen bottom
  // layers under frozen embeddings run neither a backward nor a recompute.
  kNonReentrant,
};
const char* checkpoint_mode_name(CheckpointMode m);  // "reentrant" / "non-reentrant"
Result<CheckpointMode> parse_checkpoint_mode(const std::string& name);

// What training will execute.
struct Workload {
  // Executed sequences (attention units) by length, over all epochs:
  // sequences[512] = 1000 means 1000 sequences of 512 positions.
  std::map<uint64_t, uint64_t> sequences;
  // Non-padding tokens over all epochs (D of the simple formulas). Equals the
  // executed positions unless sequences are padded.
  Flop tokens = 0;
  AttentionKernel kernel = AttentionKernel::kDense;
  bool gradient_checkpointing = false;
  CheckpointMode checkpoint_mode = CheckpointMode::kReentrant;  // with gradient_checkpointing
  // Forward passes (micro-batches), for per-pass terms (DoRA's weight norm);
  // 0: unknown, one sequence per micro-batch assumed (an upper bound).
  uint64_t micro_batches = 0;
  // Optimizer steps; 0: unknown, the optimizer term is not reported.
  uint64_t optimizer_steps = 0;

  Flop executed_positions() const;  // sum of length x count
};

struct DetailedFlops {
  bool available = false;
  std::string unavailable_reason;  // when !available
  Flop forward = 0;
  Flop backward = 0;
  Flop forward_attention = 0;   // QK^T and AV share of forward
  Flop backward_attention = 0;
  Flop adapter_forward = 0;     // LoRA/DoRA adapter matmuls (inside forward)
  // Reported separately: the Guidelines allow leaving recomputation out.
  Flop recompute = 0;           // gradient checkpointing + flash backward's QK^T
  Flop optimizer = 0;           // AdamW update, when optimizer_steps is known
  Flop total() const { return forward + backward; }  // the compliance figure
  std::vector<std::string> assumptions;
};

struct FlopsEstimate {
  Flop tokens = 0;       // D
  Flop eu_6nd = 0;
  Flop peft_aware = 0;
  DetailedFlops detailed;
};

// AdamW's FLOP per trainable parameter per step (see docs/formulas.md).
inline constexpr uint64_t kAdamWFlopPerParam = 14;

// Errors: kOverflow when a figure exceeds 128 bits; kInvalidArgument for an
// empty workload.
Result<FlopsEstimate> estimate_flops(const Model& model, const TrainingPlan& plan, const Workload& workload);

}  // namespace flopsmeter

#endif  // FLOPSMETER_FLOPS_H_
