// expand_saved_datasets(): state.json's list of Arrow files.
#include "dataset/saved_dataset.h"

#include "adapters/files.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

constexpr uint64_t kMaxStateJsonBytes = uint64_t{16} << 20;

// Why a directory is not read, naming the splits of a DatasetDict.
Status not_a_saved_dataset(const std::string& dir) {
  const std::string shown = printable_text(dir);
  const std::string dict = join_path(dir, "dataset_dict.json");
  if (!is_regular_file(dict)) {
    return Status::InvalidArgument(shown + ": is a directory, expected a dataset file or a directory written by "
                                   "datasets' save_to_disk (holding state.json)");
  }
  std::string splits;
  Result<std::string> text = read_file(dict, kMaxStateJsonBytes);
  Result<JsonDoc> doc = text.ok() ? parse_json_document(*text, printable_text(dict)) : Result<JsonDoc>(text.status());
  if (doc.ok() && doc->root.is_object() && doc->root.contains("splits") && doc->root["splits"].is_array()) {
    for (const auto& split : doc->root["splits"]) {
      if (split.is_string()) splits += (splits.empty() ? "" : ", ") + printable_text(split.get<std::string>());
    }
  }
  const std::string example = splits.empty() ? "train" : splits.substr(0, splits.find(','));
  return Status::InvalidArgument(shown + ": is a DatasetDict saved with save_to_disk" +
                                 (splits.empty() ? "" : " (splits " + splits + ")") +
                                 "; give the directory of the split that is trained on, e.g. " +
                                 printable_text(join_path(dir, example)));
}

Result<std::vector<std::string>> arrow_files_of(const std::string& dir) {
  const std::string state_path = join_path(dir, "state.json");
  if (!path_exists(state_path)) return not_a_saved_dataset(dir);
  FM_ASSIGN_OR_RETURN(const std::string text, read_file(state_path, kMaxStateJsonBytes));
  FM_ASSIGN_OR_RETURN(const JsonDoc doc, parse_json_document(text, printable_text(state_path)));
  if (!doc.root.is_object()) return doc.error("", "expected a JSON object");
  FM_ASSIGN_OR_RETURN(const nlohmann::json* files, doc.get_array(doc.root, "", "_data_files"));
  std::vector<std::string> paths;
  for (size_t i = 0; i < files->size(); ++i) {
    const std::string pointer = JsonDoc::child("/_data_files", std::to_string(i));
    if (!(*files)[i].is_object()) return doc.error(pointer, "expected an object");
    FM_ASSIGN_OR_RETURN(const std::string name, doc.get_string((*files)[i], pointer, "filename"));
    // A saved dataset's files sit beside state.json.
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return doc.error(JsonDoc::child(pointer, "filename"), "must name a file in the same directory");
    }
    paths.push_back(join_path(dir, name));
  }
  if (paths.empty()) return doc.error("/_data_files", "lists no data files");
  return paths;
}

}  // namespace

Result<std::vector<std::string>> expand_saved_datasets(const std::vector<std::string>& paths) {
  std::vector<std::string> expanded;
  for (const std::string& path : paths) {
    if (path == "-" || !is_directory(path)) {
      expanded.push_back(path);
      continue;
    }
    FM_ASSIGN_OR_RETURN(std::vector<std::string> files, arrow_files_of(path));
    expanded.insert(expanded.end(), files.begin(), files.end());
  }
  return expanded;
}

}  // namespace flopsmeter
