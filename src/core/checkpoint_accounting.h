// Parameter accounting from a checkpoint's tensor headers (no weights read).
//
// With a config of a supported model_type, the config's module list is
// checked tensor by tensor against the checkpoint (logical shapes, so 4-bit
// packed weights match); a mismatch is an error naming the tensor. Without
// one, the tensors themselves are the parameter list (the detailed formula is
// then unavailable). Either way buffers (causal masks, rotary tables) and
// quantization side tensors (absmax, scales, zeros) are not parameters, and a
// head tied to its embedding is counted once, as transformers does.
#ifndef FLOPSMETER_CORE_CHECKPOINT_ACCOUNTING_H_
#define FLOPSMETER_CORE_CHECKPOINT_ACCOUNTING_H_

#include <optional>
#include <string>
#include <vector>

#include "core/json_doc.h"
#include "flopsmeter/model.h"

namespace flopsmeter {

struct StoredTensor {
  std::string name;
  std::string dtype;            // safetensors dtype, e.g. "BF16", "U8", "I32"
  std::vector<uint64_t> shape;  // as stored
};

// `config` may be null (no config.json). `origin` names the checkpoint.
Result<Model> model_from_checkpoint(const JsonDoc* config, const std::vector<StoredTensor>& tensors,
                                    const std::string& origin);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_CHECKPOINT_ACCOUNTING_H_
