// safetensors headers: length prefix, JSON, and the checks on each tensor.
#include "adapters/safetensors.h"

#include <algorithm>
#include <array>
#include <map>
#include <new>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "adapters/files.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr size_t kLengthPrefixBytes = 8;
constexpr uint64_t kMinHeaderBytes = 2;  // "{}"
constexpr std::string_view kIndexFileName = "model.safetensors.index.json";
constexpr std::string_view kMetadataKey = "__metadata__";

struct DtypeInfo {
  std::string_view name;
  uint64_t bytes;
};
constexpr std::array<DtypeInfo, 15> kDtypes = {{
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
    {"I32", 4}, {"U32", 4}, {"F32", 4},
    {"F64", 8}, {"I64", 8}, {"U64", 8},
}};

std::string known_dtypes() {
  std::string list;
  for (const DtypeInfo& dtype : kDtypes) {
    if (!list.empty()) list += ", ";
    list += dtype.name;
  }
  return list;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ",";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::string offsets_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// Short description of a JSON value for "got ..." messages.
std::string kind_of(const Json& value) {
  if (value.is_number()) return value.dump();
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  if (value.is_array()) return "an array";
  return "an object";
}

uint64_t read_little_endian_u64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return value;
}

// The header length N announced by the first 8 bytes, checked against the
// file size and the limit before anyone allocates N bytes.
Result<uint64_t> checked_header_length(std::string_view prefix, uint64_t file_size,
                                       const std::string& origin) {
  if (file_size < kLengthPrefixBytes) {
    return Status::ParseError(origin + ": file is " + std::to_string(file_size) +
                              " bytes, too small for a safetensors file (which starts with an "
                              "8-byte header length)");
  }
  if (prefix.size() < kLengthPrefixBytes) {
    return Status::InvalidArgument(origin + ": only " + std::to_string(prefix.size()) +
                                   " header bytes given, fewer than the 8-byte length prefix");
  }
  const uint64_t length = read_little_endian_u64(prefix);
  const uint64_t rest = file_size - kLengthPrefixBytes;
  if (length > rest) {
    return Status::ParseError(origin + ": header length " + std::to_string(length) +
                              " is larger than the " + std::to_string(rest) +
                              " bytes that follow it (truncated file, or not safetensors?)");
  }
  if (length > kMaxSafetensorsHeaderBytes) {
    return Status::ParseError(origin + ": header length " + std::to_string(length) +
                              " is above the limit of " +
                              std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  if (length < kMinHeaderBytes) {
    return Status::ParseError(origin + ": header length " + std::to_string(length) +
                              " is too small to hold a JSON object (not safetensors?)");
  }
  return length;
}

// Checks one tensor entry of the header and returns it.
Result<TensorHeader> parse_tensor(const std::string& name, const Json& entry,
                                  uint64_t data_region_bytes, const std::string& origin) {
  const std::string where = origin + ": tensor '" + printable_text(name) + "'";
  auto fail = [&where](const std::string& what) { return Status::ParseError(where + ": " + what); };

  if (!entry.is_object()) {
    return fail("expected an object with dtype, shape and data_offsets, got " + kind_of(entry));
  }
  TensorHeader tensor;
  tensor.name = name;

  auto dtype = entry.find("dtype");
  if (dtype == entry.end()) return fail("dtype is missing");
  if (!dtype->is_string()) return fail("dtype must be a string, got " + kind_of(*dtype));
  tensor.dtype = dtype->get<std::string>();
  const std::optional<uint64_t> item_bytes = safetensors_dtype_size(tensor.dtype);
  if (!item_bytes) {
    return Status::Unsupported(where + ": unknown dtype '" + printable_text(tensor.dtype) +
                               "' (known: " + known_dtypes() + ")");
  }

  auto shape = entry.find("shape");
  if (shape == entry.end()) return fail("shape is missing");
  if (!shape->is_array()) return fail("shape must be a list of integers, got " + kind_of(*shape));
  tensor.shape.reserve(shape->size());
  for (size_t i = 0; i < shape->size(); ++i) {
    const Json& dim = (*shape)[i];
    if (!dim.is_number_unsigned()) {
      return fail("shape dimension " + std::to_string(i) + " is " + kind_of(dim) +
                  ", expected a non-negative integer");
    }
    tensor.shape.push_back(dim.get<uint64_t>());
  }

  auto offsets = entry.find("data_offsets");
  if (offsets == entry.end()) return fail("data_offsets is missing");
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned()) {
    return fail("data_offsets must be two non-negative integers [begin, end], got " +
                offsets->dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 80));
  }
  tensor.data_begin = (*offsets)[0].get<uint64_t>();
  tensor.data_end = (*offsets)[1].get<uint64_t>();
  if (tensor.data_begin > tensor.data_end) {
    return fail("data_offsets " + offsets_text(tensor.data_begin, tensor.data_end) +
                " end before they begin");
  }

  // Bytes the shape and dtype need, without overflowing 64 bits.
  uint64_t elements = 1;
  const bool empty = std::find(tensor.shape.begin(), tensor.shape.end(), 0) != tensor.shape.end();
  uint64_t needed = 0;
  if (!empty) {
    for (uint64_t dim : tensor.shape) {
      if (__builtin_mul_overflow(elements, dim, &elements)) {
        return fail("shape " + shape_text(tensor.shape) + " has more than 2^64 elements");
      }
    }
    if (__builtin_mul_overflow(elements, *item_bytes, &needed)) {
      return fail("shape " + shape_text(tensor.shape) + " with dtype " + tensor.dtype +
                  " needs more than 2^64 bytes");
    }
  }
  const uint64_t span = tensor.data_end - tensor.data_begin;
  if (needed != span) {
    return fail("shape " + shape_text(tensor.shape) + " with dtype " + tensor.dtype + " needs " +
                std::to_string(needed) + " bytes but data_offsets span " + std::to_string(span));
  }
  if (tensor.data_end > data_region_bytes) {
    return fail("data_offsets " + offsets_text(tensor.data_begin, tensor.data_end) +
                " reach past the end of the data region, which holds " +
                std::to_string(data_region_bytes) + " bytes (truncated file?)");
  }
  return tensor;
}

Status check_metadata(const Json& metadata, const std::string& origin) {
  if (!metadata.is_object()) {
    return Status::ParseError(origin + ": __metadata__ must be an object of strings, got " +
                              kind_of(metadata));
  }
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string()) {
      return Status::ParseError(origin + ": __metadata__ entry '" + printable_text(key) +
                                "' must be a string, got " + kind_of(value));
    }
  }
  return Status::Ok();
}

// Fails when two tensors share bytes. An empty tensor placed strictly inside
// another's bytes counts as overlapping, as in the reference implementation.
Status check_no_overlap(const std::vector<TensorHeader>& tensors, const std::string& origin) {
  std::vector<const TensorHeader*> by_offset;
  by_offset.reserve(tensors.size());
  for (const TensorHeader& tensor : tensors) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorHeader* a, const TensorHeader* b) {
    return std::tie(a->data_begin, a->data_end, a->name) <
           std::tie(b->data_begin, b->data_end, b->name);
  });
  const TensorHeader* furthest = nullptr;  // the tensor reaching furthest so far
  for (const TensorHeader* tensor : by_offset) {
    if (furthest != nullptr && tensor->data_begin < furthest->data_end) {
      return Status::ParseError(
          origin + ": tensors '" + printable_text(furthest->name) + "' and '" +
          printable_text(tensor->name) + "' overlap: data_offsets " +
          offsets_text(furthest->data_begin, furthest->data_end) + " and " +
          offsets_text(tensor->data_begin, tensor->data_end));
    }
    if (furthest == nullptr || tensor->data_end > furthest->data_end) furthest = tensor;
  }
  return Status::Ok();
}

// A shard name from an index must name a file directly inside the
// checkpoint directory: a hostile index must not send us elsewhere.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

// Adds `shard`'s tensors to `by_name`, failing on a name already taken.
Status merge_tensors(std::vector<TensorHeader> shard, const std::string& path,
                     std::map<std::string, std::pair<TensorHeader, std::string>>* by_name) {
  for (TensorHeader& tensor : shard) {
    auto [it, inserted] = by_name->try_emplace(tensor.name);
    if (!inserted) {
      return Status::ParseError("tensor '" + printable_text(tensor.name) + "' is in both " +
                                it->second.second + " and " + path);
    }
    it->second = {std::move(tensor), path};
  }
  return Status::Ok();
}

// The shard files an index names, with the tensors it expects in each.
struct IndexPlan {
  std::map<std::string, std::vector<std::string>> tensors_by_shard;  // sorted by shard
  std::map<std::string, std::string> pointer_by_tensor;  // for messages
};

Result<IndexPlan> read_index(const std::string& index_path, JsonDoc* doc) {
  FM_ASSIGN_OR_RETURN(std::string text, read_file(index_path, kMaxJsonDocumentBytes));
  FM_ASSIGN_OR_RETURN(*doc, parse_json_document(text, index_path));
  FM_ASSIGN_OR_RETURN(const Json* weight_map, doc->get_object(doc->root, "", "weight_map"));
  const std::string map_pointer = JsonDoc::child("", "weight_map");
  IndexPlan plan;
  for (const auto& [tensor, shard_value] : weight_map->items()) {
    const std::string pointer = JsonDoc::child(map_pointer, tensor);
    FM_ASSIGN_OR_RETURN(std::string shard, doc->as_string(shard_value, pointer));
    if (!is_plain_file_name(shard)) {
      return doc->error(pointer, "shard '" + printable_text(shard) +
                                     "' is not a file name in the checkpoint directory");
    }
    plan.tensors_by_shard[shard].push_back(tensor);
    plan.pointer_by_tensor[tensor] = pointer;
  }
  if (plan.tensors_by_shard.empty()) {
    return doc->error(map_pointer, "lists no tensors");
  }
  return plan;
}

Result<CheckpointTensors> read_indexed_checkpoint(const std::string& dir) {
  const std::string index_path = join_path(dir, kIndexFileName);
  JsonDoc doc;
  FM_ASSIGN_OR_RETURN(IndexPlan plan, read_index(index_path, &doc));
  CheckpointTensors checkpoint;
  std::map<std::string, std::pair<TensorHeader, std::string>> by_name;
  for (const auto& [shard, expected] : plan.tensors_by_shard) {
    const std::string path = join_path(dir, shard);
    Result<std::vector<TensorHeader>> tensors = read_safetensors_file(path);
    if (!tensors.ok()) {
      if (tensors.status().code() == StatusCode::kNotFound) {
        return Status::NotFound(doc.where(plan.pointer_by_tensor[expected.front()]) +
                                ": shard '" + printable_text(shard) + "' does not exist in " +
                                dir);
      }
      return tensors.status();
    }
    std::set<std::string_view> present;
    for (const TensorHeader& tensor : *tensors) present.insert(tensor.name);
    for (const std::string& name : expected) {
      if (present.count(name) == 0) {
        return doc.error(plan.pointer_by_tensor[name],
                         "tensor is not in shard '" + printable_text(shard) + "'");
      }
    }
    FM_RETURN_IF_ERROR(merge_tensors(std::move(tensors).value(), path, &by_name));
    checkpoint.files.push_back(path);
  }
  for (auto& [name, entry] : by_name) checkpoint.tensors.push_back(std::move(entry.first));
  return checkpoint;
}

Result<CheckpointTensors> read_plain_checkpoint(const std::string& dir,
                                                const std::vector<std::string>& names) {
  constexpr std::string_view kSuffix = ".safetensors";
  CheckpointTensors checkpoint;
  std::map<std::string, std::pair<TensorHeader, std::string>> by_name;
  for (const std::string& name : names) {
    // Hidden files include macOS "._model.safetensors" resource forks.
    if (name.size() <= kSuffix.size() || name[0] == '.' ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    const std::string path = join_path(dir, name);
    FM_ASSIGN_OR_RETURN(std::vector<TensorHeader> tensors, read_safetensors_file(path));
    FM_RETURN_IF_ERROR(merge_tensors(std::move(tensors), path, &by_name));
    checkpoint.files.push_back(path);
  }
  if (checkpoint.files.empty()) {
    return Status::NotFound(dir + ": no *.safetensors files and no " +
                            std::string(kIndexFileName));
  }
  for (auto& [name, entry] : by_name) checkpoint.tensors.push_back(std::move(entry.first));
  return checkpoint;
}

}  // namespace

std::optional<uint64_t> safetensors_dtype_size(std::string_view dtype) {
  for (const DtypeInfo& known : kDtypes) {
    if (known.name == dtype) return known.bytes;
  }
  return std::nullopt;
}

uint64_t tensor_element_count(const TensorHeader& tensor) {
  uint64_t elements = 1;
  for (uint64_t dim : tensor.shape) elements *= dim;
  return elements;
}

Result<std::vector<TensorHeader>> parse_safetensors_header(std::string_view header_bytes,
                                                           uint64_t file_size,
                                                           std::string origin) {
  FM_ASSIGN_OR_RETURN(const uint64_t length,
                      checked_header_length(header_bytes, file_size, origin));
  if (header_bytes.size() - kLengthPrefixBytes < length) {
    return Status::InvalidArgument(origin + ": only " + std::to_string(header_bytes.size()) +
                                   " header bytes given, but the header ends at byte " +
                                   std::to_string(kLengthPrefixBytes + length));
  }
  const std::string_view json_text = header_bytes.substr(kLengthPrefixBytes, length);
  const uint64_t data_region_bytes = file_size - kLengthPrefixBytes - length;
  try {
    FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(json_text, origin + ": header JSON",
                                                         kMaxSafetensorsHeaderBytes));
    if (!doc.root.is_object()) {
      return Status::ParseError(origin + ": header is " + kind_of(doc.root) +
                                ", expected a JSON object of tensors");
    }
    std::vector<TensorHeader> tensors;
    tensors.reserve(doc.root.size());
    for (const auto& [name, entry] : doc.root.items()) {
      if (name == kMetadataKey) {
        FM_RETURN_IF_ERROR(check_metadata(entry, origin));
        continue;
      }
      FM_ASSIGN_OR_RETURN(TensorHeader tensor,
                          parse_tensor(name, entry, data_region_bytes, origin));
      tensors.push_back(std::move(tensor));
    }
    FM_RETURN_IF_ERROR(check_no_overlap(tensors, origin));
    return tensors;
  } catch (const std::bad_alloc&) {
    return Status::Unsupported(origin + ": out of memory reading the safetensors header");
  } catch (const std::exception& e) {
    return Status::Internal(origin + ": unexpected error reading the safetensors header: " +
                            e.what());
  }
}

Result<std::vector<TensorHeader>> read_safetensors_file(const std::string& path) {
  FM_ASSIGN_OR_RETURN(InputFile file, InputFile::open(path));
  const uint64_t prefix_bytes = std::min<uint64_t>(file.size(), kLengthPrefixBytes);
  FM_ASSIGN_OR_RETURN(std::string prefix, file.read_at(0, prefix_bytes));
  FM_ASSIGN_OR_RETURN(const uint64_t length, checked_header_length(prefix, file.size(), path));
  FM_ASSIGN_OR_RETURN(std::string header, file.read_at(0, kLengthPrefixBytes + length));
  return parse_safetensors_header(header, file.size(), path);
}

Result<CheckpointTensors> read_checkpoint_directory(const std::string& dir) {
  FM_ASSIGN_OR_RETURN(std::vector<std::string> names, list_directory(dir));
  if (std::binary_search(names.begin(), names.end(), std::string(kIndexFileName))) {
    return read_indexed_checkpoint(dir);
  }
  return read_plain_checkpoint(dir, names);
}

}  // namespace flopsmeter
