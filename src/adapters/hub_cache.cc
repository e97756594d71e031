#include "adapters/hub_cache.h"

#include <algorithm>
#include <cctype>

#include "adapters/environment.h"
#include "adapters/files.h"
#include "core/json_doc.h"       // printable_text
#include "core/strict_fields.h"  // join

namespace flopsmeter {
namespace {

constexpr size_t kMaxNameLength = 96;
constexpr uint64_t kMaxRefBytes = 256;

bool valid_name(const std::string& part) {
  if (part.empty() || part.size() > kMaxNameLength || part.find("..") != std::string::npos) return false;
  if (part.front() == '.' || part.front() == '-' || part.back() == '.') return false;
  return std::all_of(part.begin(), part.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// A revision names a file under refs/ (branches and tags may hold '/', as
// "refs/pr/1" does): the same characters as a name, and '/'.
bool valid_revision(const std::string& revision) {
  if (revision.empty() || revision.size() > 2 * kMaxNameLength) return false;
  size_t start = 0;
  while (start <= revision.size()) {
    const size_t slash = std::min(revision.find('/', start), revision.size());
    if (!valid_name(revision.substr(start, slash - start))) return false;
    start = slash + 1;
  }
  return true;
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// The revisions a cached repository can be asked for: its refs and snapshots.
std::string held_revisions(const std::string& repo_dir) {
  std::vector<std::string> held;
  for (const char* sub : {"refs", "snapshots"}) {
    Result<std::vector<std::string>> names = list_directory(join_path(repo_dir, sub));
    if (names.ok()) held.insert(held.end(), names->begin(), names->end());
  }
  return held.empty() ? std::string("none") : join(held, ", ");
}

}  // namespace

bool is_commit_hash(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

bool is_hub_repo_id(const std::string& ref) {
  const size_t slash = ref.find('/');
  if (slash == std::string::npos) return valid_name(ref);
  return ref.find('/', slash + 1) == std::string::npos && valid_name(ref.substr(0, slash)) &&
         valid_name(ref.substr(slash + 1));
}

std::string hf_home() {
  if (std::string home = env_variable("HF_HOME"); !home.empty()) return home;
  if (std::string xdg = env_variable("XDG_CACHE_HOME"); !xdg.empty()) return join_path(xdg, "huggingface");
  return join_path(env_variable("HOME"), ".cache/huggingface");
}

std::string hub_cache_dir() {
  if (std::string cache = env_variable("HF_HUB_CACHE"); !cache.empty()) return cache;
  return join_path(hf_home(), "hub");
}

std::string hub_repo_dir(const std::string& repo_id) {
  std::string folder = "models--" + repo_id;  // "models--ORG--NAME"
  if (const size_t slash = folder.find('/'); slash != std::string::npos) folder.replace(slash, 1, "--");
  return join_path(hub_cache_dir(), folder);
}

Result<std::optional<HubSnapshot>> find_hub_snapshot(const std::string& repo_id, const std::string& revision) {
  if (!is_hub_repo_id(repo_id)) return std::optional<HubSnapshot>();
  HubSnapshot s;
  s.repo_id = repo_id;
  s.revision = revision.empty() ? "main" : revision;
  if (!valid_revision(s.revision)) {
    return Status::InvalidArgument("revision '" + printable_text(s.revision) +
                                   "': expected a branch, a tag or a 40-digit commit hash");
  }
  const std::string repo_dir = hub_repo_dir(repo_id);
  if (!is_directory(repo_dir)) return std::optional<HubSnapshot>();
  if (is_commit_hash(s.revision)) {
    s.commit = s.revision;
  } else {
    const std::string ref_path = join_path(repo_dir, "refs/" + s.revision);
    Result<std::string> ref = read_file(ref_path, kMaxRefBytes);
    if (!ref.ok() && ref.status().code() != StatusCode::kNotFound) return ref.status();
    if (ref.ok()) {
      s.commit = trimmed(*ref);
      if (!is_commit_hash(s.commit)) {
        return Status::InvalidArgument(ref_path + ": expected the 40-digit commit hash the revision points at");
      }
    }
  }
  s.dir = join_path(repo_dir, "snapshots/" + s.commit);
  if (s.commit.empty() || !is_directory(s.dir)) {
    return Status::NotFound("the Hugging Face cache (" + hub_cache_dir() + ") holds " + repo_id + " but not at revision '" +
                            s.revision + "'; cached: " + held_revisions(repo_dir));
  }
  return std::optional<HubSnapshot>(std::move(s));
}

}  // namespace flopsmeter
