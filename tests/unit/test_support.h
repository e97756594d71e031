// Helpers shared by the unit tests: the built-in catalog, loading catalog
// models, parsing inline configs, temporary directories and golden files.
#ifndef FLOPSMETER_TESTS_UNIT_TEST_SUPPORT_H_
#define FLOPSMETER_TESTS_UNIT_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/architectures.h"
#include "core/json_doc.h"
#include "flopsmeter/catalog.h"
#include "flopsmeter/load.h"

namespace flopsmeter::testing {

inline const Catalog& builtin_catalog() {
  static const Catalog kCatalog = [] {
    auto c = Catalog::Load("");
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      std::abort();
    }
    return *c;
  }();
  return kCatalog;
}

inline Model catalog_model(const std::string& id) {
  auto m = load_model(id, builtin_catalog());
  EXPECT_TRUE(m.ok()) << id << ": " << m.status().ToString();
  return m.ok() ? m->model : Model{};
}

inline Result<Model> model_from_json(const nlohmann::json& config, const std::string& origin = "test-config.json") {
  FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(config.dump(), origin));
  return build_model_from_config(doc);
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return nlohmann::json::parse(s.str());
}

inline std::string source_path(const std::string& relative) { return std::string(FM_SOURCE_DIR) + "/" + relative; }

// The contents of a file in the source tree, or nullopt when it cannot be read.
inline std::optional<std::string> read_source_file(const std::string& relative) {
  std::ifstream in(source_path(relative), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "flopsmeter-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name, const std::string& contents) const {
    std::string p = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  // A FIFO nobody writes to: reading it would block forever.
  std::string fifo(const std::string& name) const {
    std::string p = path_ + "/" + name;
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0) << p;
    return p;
  }

 private:
  std::string path_;
};

// A tensor for safetensors_bytes(): the file gets zeroed data of the right size.
struct FakeTensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
};

inline uint64_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  return 1;
}

// A valid safetensors file holding `tensors` (zeros).
inline std::string safetensors_bytes(const std::vector<FakeTensor>& tensors) {
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
  uint64_t offset = 0;
  for (const FakeTensor& t : tensors) {
    uint64_t n = dtype_bytes(t.dtype);
    for (uint64_t d : t.shape) n *= d;
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  std::string out(8, '\0');
  uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
  return out + h + std::string(offset, '\0');
}

// The tensors a config's modules imply, in BF16.
inline std::vector<FakeTensor> tensors_of(const Model& m) {
  std::vector<FakeTensor> out;
  for (const Module& mod : m.modules)
    for (const Parameter& p : mod.params) out.push_back({p.name, "BF16", p.shape});
  return out;
}

}  // namespace flopsmeter::testing

#endif  // FLOPSMETER_TESTS_UNIT_TEST_SUPPORT_H_
