#include "trainer/tensor_files.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "adapters/files.h"
#include "adapters/safetensors.h"

namespace flopsmeter {
namespace {

Result<torch::ScalarType> torch_type(const TensorHeader& t, const std::string& path) {
  if (t.dtype == "F32") return torch::kFloat32;
  if (t.dtype == "F16") return torch::kFloat16;
  if (t.dtype == "BF16") return torch::kBFloat16;
  return Status::Unsupported(path + ": tensor '" + t.name + "' has dtype " + t.dtype +
                             "; the trainer reads F32, F16 and BF16 weights");
}

}  // namespace

Result<std::map<std::string, torch::Tensor>> read_tensors(const std::string& path) {
  FM_ASSIGN_OR_RETURN(InputFile file, InputFile::open(path));
  FM_ASSIGN_OR_RETURN(std::string prefix, file.read_at(0, 8));
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = header_length << 8 | static_cast<unsigned char>(prefix[i]);
  if (header_length > kMaxSafetensorsHeaderBytes || header_length > file.size() - 8) {
    return Status::ParseError(path + ": header length " + std::to_string(header_length) +
                              " runs past the end of the file");
  }
  FM_ASSIGN_OR_RETURN(std::string header, file.read_at(0, 8 + header_length));
  FM_ASSIGN_OR_RETURN(std::vector<TensorHeader> tensors, parse_safetensors_header(header, file.size(), path));
  std::map<std::string, torch::Tensor> out;
  for (const TensorHeader& t : tensors) {
    FM_ASSIGN_OR_RETURN(torch::ScalarType type, torch_type(t, path));
    FM_ASSIGN_OR_RETURN(std::string bytes, file.read_at(8 + header_length + t.data_begin, t.data_end - t.data_begin));
    std::vector<int64_t> shape(t.shape.begin(), t.shape.end());
    torch::Tensor raw = torch::empty(shape, torch::TensorOptions().dtype(type));
    std::memcpy(raw.data_ptr(), bytes.data(), bytes.size());  // safetensors is little-endian, as this host
    out.emplace(t.name, raw.to(torch::kFloat32));
  }
  return out;
}

Status write_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string contents(8, '\0');
  for (int i = 0; i < 8; ++i) contents[i] = static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i) & 0xff);
  contents += text;
  contents.reserve(contents.size() + offset);
  for (const torch::Tensor& t : data) {
    contents.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * sizeof(float));
  }
  return write_file_atomic(path, contents);
}

}  // namespace flopsmeter
