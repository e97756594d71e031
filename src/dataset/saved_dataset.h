// A directory written by Hugging Face datasets' save_to_disk, given where a
// dataset file is expected: it stands for its Arrow files.
//
//   DIR/state.json          {"_data_files": [{"filename": "data-00000-of-00002.arrow"}, ...], ...}
//   DIR/dataset_info.json   features, description, ...
//   DIR/data-0000N-of-0000M.arrow   Arrow IPC streams, read by arrow_reader.h
//
// A DatasetDict's directory (dataset_dict.json, one subdirectory per split)
// is refused with the splits named: which split is trained on is the
// user's choice, not ours.
#ifndef FLOPSMETER_DATASET_SAVED_DATASET_H_
#define FLOPSMETER_DATASET_SAVED_DATASET_H_

#include <string>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// `paths` with each save_to_disk directory replaced by its Arrow files, in
// the order state.json lists them; other paths as they are. Errors
// (InvalidArgument, ParseError) name the directory: a directory that is not
// a saved dataset, a DatasetDict, a state.json that is malformed or names
// a file outside its directory.
Result<std::vector<std::string>> expand_saved_datasets(const std::vector<std::string>& paths);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_SAVED_DATASET_H_
