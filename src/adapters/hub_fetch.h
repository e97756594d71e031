// Fetches a model repository's small files from the Hugging Face Hub into
// the local cache (hub_cache.h), in the layout huggingface_hub writes:
//
//   GET {endpoint}/{repo}/resolve/{revision}/{file}
//     the Hub's answer carries X-Repo-Commit (the commit) and X-Linked-Etag
//     or ETag (the blob's name); a redirect to a CDN or a renamed
//     repository is followed, at most 5 hops
//   blobs/ETAG                  the bytes, written to a temporary file and renamed
//   snapshots/COMMIT/FILE       a relative link ../../blobs/ETAG, renamed into place
//   refs/REVISION               the commit, written last (not for a commit hash)
//
// so a crash leaves no half file, and two processes fetching the same
// repository both succeed. The variables are huggingface_hub's, read under
// their own names (environment.h): HF_ENDPOINT (default
// https://huggingface.co), HF_HUB_OFFLINE, HF_HUB_DOWNLOAD_TIMEOUT (seconds
// a transfer may stall, default 10), and the token: HF_TOKEN, else the file
// HF_TOKEN_PATH names, else $HF_HOME/token (HF_HOME defaulting to
// $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface). The token goes
// only to the endpoint's own origin (never to a CDN a redirect points at)
// and never into a message.
#ifndef FLOPSMETER_ADAPTERS_HUB_FETCH_H_
#define FLOPSMETER_ADAPTERS_HUB_FETCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "adapters/hub_cache.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// A file of the repository to fetch.
struct HubFile {
  std::string name;    // "config.json"
  uint64_t max_bytes;  // a longer answer is refused
  bool required;       // false: a repository without it is fine
};

// Whether HF_HUB_OFFLINE is set to 1, ON, YES or TRUE (any case), as
// huggingface_hub reads it: the network is never touched.
bool hub_offline();

// HF_ENDPOINT without a trailing '/', else https://huggingface.co.
std::string hub_endpoint();

// Fetches the `files` of model repository `repo_id` at `revision` ("" is
// "main") that the cache's snapshot lacks, and returns that snapshot
// (fetched set when a file was downloaded). Every file comes from one
// commit: the first answer's. Errors name the URL: kInvalidArgument when
// the Hub wants a token (401, naming HF_TOKEN) or refuses the one given
// (401, 403); kNotFound for a repository (401 RepoNotFound without a token
// too), revision or required file the Hub does not have; kIoError for a failed transfer or an answer that is not the
// Hub's (no commit, a bad ETag, a digest or size that does not match).
Result<HubSnapshot> fetch_hub_files(const std::string& repo_id, const std::string& revision,
                                    const std::vector<HubFile>& files);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_HUB_FETCH_H_
