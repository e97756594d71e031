// Reading the tensor list of safetensors checkpoints without the weights.
//
// A safetensors file is an 8-byte little-endian header length N, then N
// bytes of JSON, then the raw tensor data:
//
//   {"__metadata__": {"format": "pt"},
//    "model.embed_tokens.weight": {"dtype": "BF16", "shape": [128256, 3072],
//                                  "data_offsets": [0, 788004864]}, ...}
//
// data_offsets are [begin, end) byte offsets into the data region that
// follows the header. flopsmeter needs names, dtypes and shapes only, so it
// reads the first 8 + N bytes of each file and never the weights.
//
// Every field is checked, and a file that breaks a rule fails with a message
// naming the file and the tensor:
//
//   model.safetensors: tensor 'x': shape [3,4] with dtype F32 needs 48 bytes
//   but data_offsets span 40
//
// Unlike the reference implementation, gaps between tensors in the data
// region are accepted (they do not change what the file holds); overlapping
// tensors are not.
//
// Thread safety: all functions may be called from several threads at once.
#ifndef FLOPSMETER_ADAPTERS_SAFETENSORS_H_
#define FLOPSMETER_ADAPTERS_SAFETENSORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Largest header accepted, as in the reference implementation; real
// checkpoints have headers of a few megabytes at most.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// One tensor as its file's header describes it.
struct TensorHeader {
  std::string name;            // e.g. "model.layers.0.self_attn.q_proj.weight"
  std::string dtype;           // one of the names safetensors_dtype_size() knows
  std::vector<uint64_t> shape;  // empty for a scalar
  uint64_t data_begin = 0;     // [data_begin, data_end): bytes in the data region,
  uint64_t data_end = 0;       // counted from the end of the header
};

// Bytes per element of a safetensors dtype name ("BF16" -> 2), or nullopt
// for a name this version does not know. Known: BOOL, U8, I8, F8_E4M3,
// F8_E5M2, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64.
std::optional<uint64_t> safetensors_dtype_size(std::string_view dtype);

// Number of elements (product of the shape; 1 for a scalar). Cannot
// overflow for a tensor returned by the functions below.
uint64_t tensor_element_count(const TensorHeader& tensor);

// Parses and checks a header. `header_bytes` starts at the beginning of the
// file and holds at least the 8-byte length prefix and the N header bytes
// it announces (more is ignored); `file_size` is the size of the whole file,
// used to check that every tensor lies inside it. `origin` names the file in
// messages. Returns the tensors sorted by name. Pure: no I/O.
//
// Fails with ParseError for a malformed header (length prefix below 2,
// above kMaxSafetensorsHeaderBytes or past the end of the file; JSON that is
// not an object; a bad dtype, shape or data_offsets; a byte size that does
// not fit 64 bits; offsets that disagree with shape and dtype, lie outside
// the data region or overlap another tensor), Unsupported for a dtype this
// version does not know, and InvalidArgument when `header_bytes` is shorter
// than the header it announces.
Result<std::vector<TensorHeader>> parse_safetensors_header(std::string_view header_bytes,
                                                           uint64_t file_size,
                                                           std::string origin);

// Reads and checks the header of the file at `path` (only its first 8 + N
// bytes). Errors as parse_safetensors_header() plus those of opening and
// reading the file.
Result<std::vector<TensorHeader>> read_safetensors_file(const std::string& path);

// All tensors of a checkpoint directory.
struct CheckpointTensors {
  std::vector<TensorHeader> tensors;  // sorted by name, each name once
  std::vector<std::string> files;     // paths of the files read, in reading order
};

// Reads the checkpoint in directory `dir`:
//  - With a model.safetensors.index.json, the shards its "weight_map" names
//    (each read once, sorted by file name). A shard that does not exist, a
//    shard name that is not a plain file name in `dir`, or a tensor the map
//    lists but its shard lacks is an error. Tensors a shard holds beyond the
//    map are kept: they are part of the checkpoint.
//  - Otherwise every *.safetensors file in `dir` (sorted, hidden files
//    skipped); NotFound when there is none.
// A tensor name found in two files is an error.
Result<CheckpointTensors> read_checkpoint_directory(const std::string& dir);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_SAFETENSORS_H_
