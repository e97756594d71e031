// Tokenizer::Load: finds tokenizer.json and tokenizer_config.json on disk.
#include "adapters/files.h"
#include "core/json_doc.h"  // printable_text
#include "flopsmeter/tokenizer.h"

namespace flopsmeter {
Result<Tokenizer> Tokenizer::Load(const std::string& path) {
  std::string json_path = path;
  std::string dir;
  if (is_directory(path)) {
    dir = path;
    json_path = join_path(path, "tokenizer.json");
  } else {
    const size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : path.substr(0, slash);
  }
  Result<std::string> text = read_file(json_path, kMaxTokenizerFileBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound && !dir.empty() && json_path != path) {
      return Status::NotFound(printable_text(path) + ": no tokenizer.json in this directory (flopsmeter reads Hugging Face "
                                     "fast-tokenizer files; a directory with only tokenizer.model is not enough)");
    }
    return text.status();
  }
  std::string config;
  const std::string config_path = join_path(dir, "tokenizer_config.json");
  if (path_exists(config_path)) {
    FM_ASSIGN_OR_RETURN(config, read_file(config_path, kMaxTokenizerFileBytes));
  }
  FM_ASSIGN_OR_RETURN(Tokenizer tok, FromText(*text, config, json_path));
  return tok;
}

}  // namespace flopsmeter
