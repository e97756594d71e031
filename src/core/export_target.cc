#include "core/export_target.h"

#include <algorithm>

#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

bool lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool letter_or_digit(char c) { return lower_or_digit(c) || (c >= 'A' && c <= 'Z'); }

bool valid_bucket(std::string_view b) {
  return b.size() >= 3 && b.size() <= 63 && lower_or_digit(b.front()) && lower_or_digit(b.back()) &&
         b.find("..") == std::string_view::npos &&
         std::all_of(b.begin(), b.end(), [](char c) { return lower_or_digit(c) || c == '.' || c == '-'; });
}

bool valid_table(std::string_view t) {
  return t.size() >= 3 && t.size() <= 255 &&
         std::all_of(t.begin(), t.end(), [](char c) { return letter_or_digit(c) || c == '_' || c == '-' || c == '.'; });
}

// Segments of a key that stores mapping keys to files (and people) read as paths.
bool plain_segments(std::string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return true;
}

bool printable_bytes(std::string_view text) { return printable_text(text) == text; }

}  // namespace

Result<ExportTarget> parse_export_target(std::string_view url) {
  const std::string shown = "export target '" + printable_text(url) + "'";
  ExportTarget t;
  std::string_view rest;
  if (url.starts_with("s3://")) {
    rest = url.substr(5);
  } else if (url.starts_with("dynamodb://")) {
    t.store = ExportStore::kDynamoDb;
    rest = url.substr(11);
  } else {
    return Status::InvalidArgument(shown + ": expected s3://bucket/prefix or dynamodb://table");
  }
  const size_t slash = rest.find('/');
  t.name = std::string(rest.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (t.store == ExportStore::kDynamoDb) {
    if (!valid_table(t.name) || !prefix.empty()) {
      return Status::InvalidArgument(shown + ": a DynamoDB table's name is 3 to 255 letters, digits, '_', '-' and "
                                     "'.', with nothing after it");
    }
    return t;
  }
  if (!valid_bucket(t.name)) {
    return Status::InvalidArgument(shown + ": a bucket's name is 3 to 63 lower-case letters, digits, '.' and '-', "
                                   "starting and ending with a letter or digit");
  }
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  if (!prefix.empty() && (prefix.size() > 512 || !printable_bytes(prefix) || !plain_segments(prefix))) {
    return Status::InvalidArgument(shown + ": the prefix must be printable UTF-8 of at most 512 bytes, with no "
                                   "empty, '.' or '..' segment");
  }
  t.prefix = prefix.empty() ? "" : std::string(prefix) + "/";
  return t;
}

Result<std::string> parse_endpoint_url(std::string_view url) {
  const std::string shown = "endpoint URL '" + printable_text(url) + "'";
  const size_t scheme = url.find("://");
  const std::string_view name = scheme == std::string_view::npos ? std::string_view() : url.substr(0, scheme);
  if (name != "http" && name != "https") return Status::InvalidArgument(shown + ": expected http:// or https://");
  std::string_view rest = url.substr(scheme + 3);
  const std::string_view authority = rest.substr(0, rest.find('/'));
  // Anywhere, not only before the first '/': a secret key holds '/'.
  if (rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("endpoint URL: it holds a user name or password, which flopsmeter does not "
                                   "send; credentials come from the AWS credential chain");
  }
  if (authority.empty() || endpoint_host(url).empty() || rest.find_first_of("?# ") != std::string_view::npos ||
      !printable_bytes(rest)) {
    return Status::InvalidArgument(shown + ": expected a host, an optional port and path, and no query");
  }
  while (url.ends_with('/')) url.remove_suffix(1);
  return std::string(url);
}

bool plain_region(std::string_view region) {
  return !region.empty() && region.size() <= 40 &&
         std::all_of(region.begin(), region.end(), [](char c) { return lower_or_digit(c) || c == '-'; });
}

std::string endpoint_host(std::string_view endpoint) {
  std::string_view rest = endpoint.substr(endpoint.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  if (rest.starts_with("[")) return std::string(rest.substr(0, rest.find(']') + 1));
  return std::string(rest.substr(0, rest.find(':')));
}

bool plain_key_part(std::string_view name, bool slashes) {
  const bool allowed = std::all_of(name.begin(), name.end(), [&](char c) {
    return letter_or_digit(c) || c == '.' || c == '_' || c == '-' || c == ':' || (slashes && c == '/');
  });
  return !name.empty() && name.size() <= 200 && allowed && plain_segments(name);
}

}  // namespace flopsmeter
