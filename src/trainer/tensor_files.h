// Weights in safetensors files, as torch tensors: read (F32, F16, BF16,
// every header field checked by adapters/safetensors.h) and written
// atomically (F32, names sorted, the header padded to 8 bytes as the
// reference writer pads it).
#ifndef FLOPSMETER_TRAINER_TENSOR_FILES_H_
#define FLOPSMETER_TRAINER_TENSOR_FILES_H_

#include <torch/torch.h>

#include <map>
#include <string>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Float32 copies of the file's tensors, by name.
Result<std::map<std::string, torch::Tensor>> read_tensors(const std::string& path);

Status write_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors);

}  // namespace flopsmeter

#endif  // FLOPSMETER_TRAINER_TENSOR_FILES_H_
