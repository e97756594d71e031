// libFuzzer target for training recipes: the YAML reader (libyaml's events
// under our bounds) on any bytes, and, for what parses, both dialect readers
// over the file, as `estimate --recipe` and the meter read it.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "adapters/yaml_document.h"
#include "api/recipe.h"

namespace {

// One file per process, rewritten per input.
const std::string& recipe_file() {
  static const std::string path = [] {
    char name[] = "/tmp/recipe_fuzz-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd >= 0) ::close(fd);
    return std::string(name);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tree = flopsmeter::parse_yaml(text, "fuzz.yaml");
  if (!tree.ok()) return 0;
  if (std::FILE* f = std::fopen(recipe_file().c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    for (auto reader : {flopsmeter::RecipeReader::kEstimate, flopsmeter::RecipeReader::kMeter}) {
      (void)flopsmeter::read_recipe(recipe_file(), reader, "/nonexistent");
    }
  }
  return 0;
}
