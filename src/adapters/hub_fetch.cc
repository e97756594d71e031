#include "adapters/hub_fetch.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <optional>

#include "adapters/environment.h"
#include "adapters/files.h"
#include "adapters/http_client.h"
#include "adapters/sha256.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

constexpr int kMaxRedirects = 5;
constexpr uint64_t kMaxTokenFileBytes = 4096;
constexpr double kDefaultStallSeconds = 10;  // huggingface_hub's HF_HUB_DOWNLOAD_TIMEOUT
constexpr double kMaxFileSeconds = 300;      // a whole file, however steadily it moves
constexpr size_t kMaxEtagLength = 128;

struct Token {
  std::string value;   // empty: none
  std::string source;  // "HF_TOKEN", or the file it was read from
};

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::string();
  return s.substr(first, s.find_last_not_of(" \t\r\n") + 1 - first);
}

// huggingface_hub's order: HF_TOKEN, then the file HF_TOKEN_PATH names,
// then $HF_HOME/token (what `huggingface-cli login` writes).
Result<Token> hub_token() {
  Token token;
  if (std::string v = env_variable("HF_TOKEN"); !v.empty()) {
    token = {trimmed(v), "HF_TOKEN"};
  } else {
    std::string path = env_variable("HF_TOKEN_PATH");
    if (path.empty()) path = join_path(hf_home(), "token");
    if (!path_exists(path)) return token;
    FM_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxTokenFileBytes));
    token = {trimmed(text), "the token file " + path};
  }
  const bool printable = std::all_of(token.value.begin(), token.value.end(),
                                     [](unsigned char c) { return c > ' ' && c < 0x7f; });
  if (!printable) return Status::InvalidArgument("the Hugging Face token in " + token.source + " holds characters a token cannot");
  return token;
}

// Every message leaves the token out, whatever a server echoed into a
// header or a redirect.
Status redacted(const Status& status, const Token& token) {
  if (status.ok() || token.value.empty()) return status;
  std::string message = status.message();
  for (size_t at = message.find(token.value); at != std::string::npos; at = message.find(token.value, at)) {
    message.replace(at, token.value.size(), "[token]");
  }
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return Status::InvalidArgument(std::move(message));
    case StatusCode::kNotFound: return Status::NotFound(std::move(message));
    default: return Status::IoError(std::move(message));
  }
}

// A strong or weak ETag as huggingface_hub normalises it: no W/, no quotes.
std::string normalised_etag(std::string etag) {
  if (etag.starts_with("W/")) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

// The ETag names a file in blobs/: nothing that could leave that directory.
bool safe_blob_name(const std::string& etag) {
  return !etag.empty() && etag.size() <= kMaxEtagLength && etag.front() != '.' &&
         std::all_of(etag.begin(), etag.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

Result<double> stall_seconds() {
  const std::string v = env_variable("HF_HUB_DOWNLOAD_TIMEOUT");
  if (v.empty()) return kDefaultStallSeconds;
  double seconds = 0;
  const auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (error != std::errc() || end != v.data() + v.size() || !(seconds > 0 && seconds <= 3600)) {
    return Status::InvalidArgument("HF_HUB_DOWNLOAD_TIMEOUT '" + printable_text(v) + "': expected seconds, above 0 and at most 3600");
  }
  return seconds;
}

// One file's answer: its bytes and where the Hub says they belong.
struct Fetched {
  std::string body, commit, etag;
};

// The Hub's own answer (the one carrying X-Repo-Commit) names the commit
// and the blob; a CDN it redirects to carries neither.
void note_hub_headers(const HttpResponse& answer, Fetched& out) {
  const auto commit = answer.headers.find("x-repo-commit");
  if (commit == answer.headers.end()) return;
  out.commit = commit->second;
  const auto linked = answer.headers.find("x-linked-etag");
  const auto etag = answer.headers.find("etag");
  out.etag = normalised_etag(linked != answer.headers.end() ? linked->second
                             : etag != answer.headers.end() ? etag->second
                                                            : std::string());
}

struct FetchContext {
  std::string repo_id, endpoint, origin;
  Token token;
  double stall_s;
};

// What an answer other than 200 means, naming the URL: the Hub's
// X-Error-Code tells a missing repository from a missing file or revision.
Status http_error(const FetchContext& c, const std::string& url, const std::string& revision, const HttpResponse& a) {
  const auto code_it = a.headers.find("x-error-code");
  const std::string code = code_it == a.headers.end() ? std::string() : code_it->second;
  const std::string at = url + ": HTTP " + std::to_string(a.status) + ": ";
  const std::string how = "set HF_TOKEN to a token that can read it (https://huggingface.co/settings/tokens)";
  if (a.status == 401 && c.token.value.empty()) {
    if (code == "RepoNotFound") {
      return Status::NotFound(at + c.repo_id + " does not exist or is private, and no Hugging Face token was given: if it "
                              "is private, " + how);
    }
    return Status::InvalidArgument(at + c.repo_id + " is gated or private, and no Hugging Face token was given: " + how);
  }
  if (a.status == 401 || a.status == 403) {
    return Status::InvalidArgument(at + "the Hub refused the token from " + c.token.source + " for " + c.repo_id +
                                   (code == "GatedRepo" ? " (a gated model: request access on its page, then retry)" : "") +
                                   "; " + how);
  }
  if (a.status == 404 && code == "EntryNotFound") return Status::NotFound(at + c.repo_id + " at " + revision + " has no such file");
  if (a.status == 404 && code == "RevisionNotFound") return Status::NotFound(at + c.repo_id + " has no revision '" + revision + "'");
  if (a.status == 404) return Status::NotFound(at + "the Hub (" + c.endpoint + ") has no model repository " + c.repo_id);
  return Status::IoError(at + "not the file (expected 200)");
}

// GET `url`, following redirects; the token only to the endpoint's origin.
Result<HttpResponse> get_following_redirects(const FetchContext& c, std::string url, uint64_t max_bytes, Fetched& out) {
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    HttpRequest request;
    request.url = url;
    request.timeout_s = c.stall_s;
    request.connect_timeout_s = std::min(10.0, c.stall_s);
    request.max_duration_s = kMaxFileSeconds;
    request.max_response_bytes = max_bytes;
    FM_ASSIGN_OR_RETURN(std::string origin, url_origin(url));
    if (!c.token.value.empty() && origin == c.origin) request.headers.push_back({"Authorization", "Bearer " + c.token.value});
    FM_ASSIGN_OR_RETURN(HttpResponse answer, http_send(request));
    if (answer.failure != HttpFailure::kNone) {
      return Status::IoError(url + ": " + answer.error + "; nothing was written to the cache");
    }
    note_hub_headers(answer, out);
    const auto location = answer.headers.find("location");
    if (answer.status < 300 || answer.status >= 400 || location == answer.headers.end()) return answer;
    FM_ASSIGN_OR_RETURN(url, resolved_url(url, location->second));
  }
  return Status::IoError(url + ": more than " + std::to_string(kMaxRedirects) + " redirects");
}

// One file at `revision`: nullopt for an optional file the revision lacks.
Result<std::optional<Fetched>> fetch_file(const FetchContext& c, const std::string& revision, const HubFile& file) {
  const std::string url = c.endpoint + "/" + c.repo_id + "/resolve/" + uri_encoded(revision, false) + "/" +
                          uri_encoded(file.name, true);
  Fetched out;
  FM_ASSIGN_OR_RETURN(HttpResponse answer, get_following_redirects(c, url, file.max_bytes, out));
  if (answer.status != 200) {
    Status error = http_error(c, url, revision, answer);
    if (!file.required && error.code() == StatusCode::kNotFound && answer.headers.count("x-error-code") &&
        answer.headers.at("x-error-code") == "EntryNotFound") {
      return std::optional<Fetched>();
    }
    return error;
  }
  if (!is_commit_hash(out.commit)) {
    return Status::IoError(url + ": the answer names no commit (X-Repo-Commit): not the Hugging Face Hub's resolve answer");
  }
  if (!safe_blob_name(out.etag)) {
    return Status::IoError(url + ": the answer's ETag '" + printable_text(out.etag.substr(0, kMaxEtagLength)) +
                           "' is not a blob name (letters, digits, '-' and '_')");
  }
  // Large (LFS) files are named by their SHA-256: the bytes must match it.
  if (is_sha256_hex(out.etag) && sha256_hex(answer.body) != out.etag) {
    return Status::IoError(url + ": the " + std::to_string(answer.body.size()) + " bytes received do not have the SHA-256 " +
                           out.etag + " the Hub names them by");
  }
  out.body = std::move(answer.body);
  return std::optional<Fetched>(std::move(out));
}

Status make_directories(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::IoError(dir + ": cannot create the directory: " + error.message());
  return Status::Ok();
}

// The blob first, then the snapshot's link to it: a reader never follows a
// link to a missing or partial blob.
Status store_file(const std::string& repo_dir, const std::string& commit, const std::string& name, const Fetched& f) {
  const std::string blob = join_path(repo_dir, "blobs/" + f.etag);
  FM_RETURN_IF_ERROR(make_directories(join_path(repo_dir, "blobs")));
  if (!is_regular_file(blob)) FM_RETURN_IF_ERROR(write_file_atomic(blob, f.body));
  const std::string link = join_path(repo_dir, "snapshots/" + commit + "/" + name);
  FM_RETURN_IF_ERROR(make_directories(link.substr(0, link.rfind('/'))));
  std::string target = "../../blobs/" + f.etag;
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) target = "../" + target;
  return write_symlink_atomic(target, link);
}

Status write_ref(const std::string& repo_dir, const std::string& revision, const std::string& commit) {
  const std::string ref = join_path(repo_dir, "refs/" + revision);
  FM_RETURN_IF_ERROR(make_directories(ref.substr(0, ref.rfind('/'))));
  return write_file_atomic(ref, commit);  // huggingface_hub writes no newline
}

Result<HubSnapshot> fetch_into_cache(const FetchContext& c, const std::string& revision, const std::vector<HubFile>& files) {
  HubSnapshot snapshot{c.repo_id, revision, is_commit_hash(revision) ? revision : std::string(), "", false};
  const std::string repo_dir = hub_repo_dir(c.repo_id);
  for (const HubFile& file : files) {
    if (!snapshot.commit.empty() && is_regular_file(join_path(repo_dir, "snapshots/" + snapshot.commit + "/" + file.name))) {
      continue;
    }
    // After the first answer, the commit: every file from the same one,
    // even if the branch moves meanwhile.
    FM_ASSIGN_OR_RETURN(std::optional<Fetched> got,
                        fetch_file(c, snapshot.commit.empty() ? revision : snapshot.commit, file));
    if (!got) continue;
    if (snapshot.commit.empty()) snapshot.commit = got->commit;
    if (got->commit != snapshot.commit) {
      return Status::IoError(c.endpoint + "/" + c.repo_id + ": the Hub answered " + file.name + " from commit " + got->commit +
                             ", not " + snapshot.commit + " as asked");
    }
    FM_RETURN_IF_ERROR(store_file(repo_dir, snapshot.commit, file.name, *got));
    snapshot.fetched = true;
  }
  if (snapshot.commit.empty()) return Status::NotFound(c.endpoint + "/" + c.repo_id + ": none of the files asked for exists");
  if (revision != snapshot.commit) FM_RETURN_IF_ERROR(write_ref(repo_dir, revision, snapshot.commit));
  snapshot.dir = join_path(repo_dir, "snapshots/" + snapshot.commit);
  return snapshot;
}

}  // namespace

bool hub_offline() {
  std::string v = env_variable("HF_HUB_OFFLINE");
  for (char& ch : v) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string hub_endpoint() {
  std::string endpoint = env_variable("HF_ENDPOINT");
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint.empty() ? std::string("https://huggingface.co") : endpoint;
}

Result<HubSnapshot> fetch_hub_files(const std::string& repo_id, const std::string& revision,
                                    const std::vector<HubFile>& files) {
  if (!is_hub_repo_id(repo_id)) return Status::InvalidArgument("'" + printable_text(repo_id) + "' is not a Hub repository id");
  if (hub_offline()) {
    return Status::NotFound("the Hugging Face cache (" + hub_cache_dir() + ") lacks " + repo_id +
                            " and HF_HUB_OFFLINE is set, so it was not fetched");
  }
  FetchContext c;
  c.repo_id = repo_id;
  c.endpoint = hub_endpoint();
  Result<std::string> origin = url_origin(c.endpoint);
  if (!origin.ok()) return Status::InvalidArgument("HF_ENDPOINT '" + printable_text(c.endpoint) + "' is not an http(s) URL");
  c.origin = *origin;
  FM_ASSIGN_OR_RETURN(c.token, hub_token());
  FM_ASSIGN_OR_RETURN(c.stall_s, stall_seconds());
  Result<HubSnapshot> snapshot = fetch_into_cache(c, revision.empty() ? "main" : revision, files);
  if (!snapshot.ok()) return redacted(snapshot.status(), c.token);
  return snapshot;
}

}  // namespace flopsmeter
