// The local Hugging Face Hub cache, read as huggingface_hub writes it
// (https://huggingface.co/docs/hub/local-cache):
//
//   $HF_HUB_CACHE (else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
//   else ~/.cache/huggingface/hub)
//     models--ORG--NAME/refs/main              the commit "main" points at
//     models--ORG--NAME/snapshots/COMMIT/...   the files (links into blobs/)
//     models--ORG--NAME/blobs/ETAG             their contents
//
// Nothing here touches the network (hub_fetch.h fills the cache). An empty
// variable counts as unset.
#ifndef FLOPSMETER_ADAPTERS_HUB_CACHE_H_
#define FLOPSMETER_ADAPTERS_HUB_CACHE_H_

#include <optional>
#include <string>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Whether `ref` has the form of a Hub repository id: NAME or ORG/NAME of
// letters, digits, '-', '_' and '.', no "..", at most 96 characters each.
bool is_hub_repo_id(const std::string& ref);

// Whether `s` is a full commit hash: 40 lower-case hex digits.
bool is_commit_hash(const std::string& s);

// huggingface_hub's home: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface (where its token file is kept too).
std::string hf_home();

// The cache directory the variables above name.
std::string hub_cache_dir();

// The cache's directory for model repository `repo_id`:
// hub_cache_dir()/models--ORG--NAME.
std::string hub_repo_dir(const std::string& repo_id);

struct HubSnapshot {
  std::string repo_id;   // "Qwen/Qwen2.5-7B"
  std::string revision;  // as asked: "main", a branch or tag, or a commit
  std::string commit;    // the snapshot's commit hash
  std::string dir;       // .../snapshots/COMMIT
  bool fetched = false;  // some of its files were just fetched from the Hub (hub_fetch.h)
};

// The snapshot of model repository `repo_id` at `revision` ("" is "main"):
// nullopt when the cache holds no such repository. Errors: kNotFound naming
// the revisions it does hold when the repository is cached but not at that
// revision; kInvalidArgument for a malformed revision or ref file.
Result<std::optional<HubSnapshot>> find_hub_snapshot(const std::string& repo_id, const std::string& revision);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_HUB_CACHE_H_
