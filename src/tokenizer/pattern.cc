#include "tokenizer/pattern.h"

#include <oniguruma.h>

#include <mutex>

#include "core/strict_fields.h"  // printable

#include "tokenizer/unicode.h"

namespace flopsmeter {

struct Pattern::Compiled {
  regex_t* handle = nullptr;
  ~Compiled() {
    if (handle != nullptr) onig_free(handle);
  }
};

namespace {

void initialize_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

std::string onig_message(int code, OnigErrorInfo* info) {
  OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
  onig_error_code_to_str(buf, code, info);
  return std::string(reinterpret_cast<const char*>(buf));
}

}  // namespace

Result<Pattern> Pattern::Regex(std::string_view pattern) {
  initialize_oniguruma();
  auto compiled = std::make_shared<Compiled>();
  OnigErrorInfo info;
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  const int rc = onig_new(&compiled->handle, p, p + pattern.size(), ONIG_OPTION_NONE,
                          ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
  if (rc != ONIG_NORMAL) {
    compiled->handle = nullptr;
    return Status::ParseError("regex /" + printable(pattern) + "/: " + printable_text(onig_message(rc, &info)));
  }
  return Pattern(std::string(pattern), std::move(compiled));
}

Pattern Pattern::Literal(std::string_view literal) { return Pattern(std::string(literal), nullptr); }

Status Pattern::find_all(std::string_view text, std::vector<Span>* matches) const {
  if (compiled_ == nullptr) {
    if (text_.empty()) return Status::Ok();
    for (size_t at = text.find(text_); at != std::string_view::npos;
         at = text.find(text_, at + text_.size())) {
      matches->emplace_back(at, at + text_.size());
    }
    return Status::Ok();
  }
  const auto* start = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = start + text.size();
  OnigRegion* region = onig_region_new();
  size_t pos = 0;
  Status status;
  while (pos <= text.size()) {
    const int rc = onig_search(compiled_->handle, start, end, start + pos, end, region,
                               ONIG_OPTION_NONE);
    if (rc == ONIG_MISMATCH) break;
    if (rc < 0) {
      status = Status::Internal("regex /" + printable(text_) + "/: " + onig_message(rc, nullptr));
      break;
    }
    const auto first = static_cast<size_t>(region->beg[0]);
    const auto last = static_cast<size_t>(region->end[0]);
    matches->emplace_back(first, last);
    if (last > first) {
      pos = last;
    } else if (last < text.size()) {
      pos = last + unicode::sequence_length(static_cast<unsigned char>(text[last]));
    } else {
      break;
    }
  }
  onig_region_free(region, 1);
  return status;
}

Result<bool> Pattern::replace_all(std::string* text, std::string_view content, size_t max_bytes) const {
  thread_local std::vector<Span> matches;
  matches.clear();
  FM_RETURN_IF_ERROR(find_all(*text, &matches));
  if (matches.empty()) return text->size() <= max_bytes;
  size_t matched = 0;
  for (const Span& m : matches) matched += m.second - m.first;
  const size_t kept = text->size() - matched;
  if (kept > max_bytes || (!content.empty() && matches.size() > (max_bytes - kept) / content.size())) {
    return false;
  }
  std::string out;
  out.reserve(kept + matches.size() * content.size());
  size_t prev = 0;
  for (const Span& m : matches) {
    out.append(*text, prev, m.first - prev);
    out += content;
    prev = m.second;
  }
  out.append(*text, prev, std::string::npos);
  *text = std::move(out);
  return true;
}

}  // namespace flopsmeter
