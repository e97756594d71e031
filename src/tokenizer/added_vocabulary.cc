#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace flopsmeter {
namespace {

// Rust regex's \w: alphabetic, marks, decimal digits, connector punctuation
// and join controls. tokenizers tests it on the character next to a
// single_word token.
bool is_word_char(char32_t cp) {
  return cp == '_' || unicode::is_alphanumeric(cp) || unicode::is_nonspacing_mark(cp) ||
         cp == 0x200C || cp == 0x200D;
}

char32_t last_code_point(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return unicode::next_code_point(text, &start);
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view key, size_t token_index) {
  if (key.empty()) return;
  uint32_t node = 0;
  for (char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    auto& children = nodes[node].children;
    auto it = std::find_if(children.begin(), children.end(), [&](const auto& e) { return e.first == byte; });
    if (it != children.end()) {
      node = it->second;
    } else {
      const auto next = static_cast<uint32_t>(nodes.size());
      nodes[node].children.emplace_back(byte, next);
      nodes.emplace_back();
      node = next;
    }
  }
  // With two tokens of the same content, the first one listed wins.
  if (nodes[node].token < 0) nodes[node].token = static_cast<int64_t>(token_index);
  first_byte[static_cast<unsigned char>(key[0])] = true;
}

std::optional<std::pair<size_t, size_t>> AddedVocabulary::Trie::longest_at(std::string_view text,
                                                                           size_t pos) const {
  std::optional<std::pair<size_t, size_t>> best;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto& children = nodes[node].children;
    auto it = std::find_if(children.begin(), children.end(), [&](const auto& e) { return e.first == byte; });
    if (it == children.end()) break;
    node = it->second;
    if (nodes[node].token >= 0) best = {i + 1, static_cast<size_t>(nodes[node].token)};
  }
  return best;
}

Result<AddedVocabulary> AddedVocabulary::Build(std::vector<AddedToken> tokens,
                                               const Normalizer* normalizer) {
  AddedVocabulary v;
  v.tokens_ = std::move(tokens);
  for (size_t i = 0; i < v.tokens_.size(); ++i) {
    const AddedToken& t = v.tokens_[i];
    if (t.normalized && normalizer != nullptr) {
      std::string content = t.content;
      const Status normalized = normalizer->normalize(&content, TextBudget(content.size()));
      if (!normalized.ok()) return normalized.WithContext("added token " + std::to_string(i));
      v.normalized_.insert(content, i);
    } else if (t.normalized) {
      v.normalized_.insert(t.content, i);
    } else {
      v.raw_.insert(t.content, i);
    }
  }
  return v;
}

std::optional<uint32_t> AddedVocabulary::id_of(std::string_view content) const {
  for (const AddedToken& t : tokens_) {
    if (t.content == content) return t.id;
  }
  return std::nullopt;
}

void AddedVocabulary::find(std::string_view text, const Trie& trie, std::vector<Match>* out) const {
  if (trie.empty()) return;
  size_t offset = 0;  // end of the previous match
  size_t pos = 0;
  while (pos < text.size()) {
    if (!trie.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    auto hit = trie.longest_at(text, pos);
    if (!hit) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = hit->first;
    const AddedToken& token = tokens_[hit->second];
    // The scan resumes after the match even when the match is then dropped,
    // as a leftmost-longest automaton's iterator does.
    pos = stop;
    if (token.single_word) {
      const bool space_before = start == 0 || !is_word_char(last_code_point(text.substr(0, start)));
      size_t after = stop;
      const bool space_after = stop == text.size() || !is_word_char(unicode::next_code_point(text, &after));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) start = std::max(unicode::trailing_whitespace_start(text.substr(0, start)), offset);
    if (token.rstrip) stop += unicode::leading_whitespace_length(text.substr(stop));
    out->push_back({start, stop, hit->second});
    offset = stop;
    pos = std::max(pos, stop);
  }
}

Status AddedVocabulary::split(std::string_view text, const Normalizer* normalizer,
                              std::vector<TextSegment>* out) const {
  std::vector<Match> raw_matches;
  find(text, raw_, &raw_matches);
  std::vector<Match> normalized_matches;
  TextBudget budget(text.size());
  auto emit_text = [&](std::string_view stretch, bool at_start) -> Status {
    std::string normalized(stretch);
    if (normalizer != nullptr) {
      FM_RETURN_IF_ERROR(normalizer->normalize(&normalized, budget));
      budget.spend(normalized.size());
    }
    normalized_matches.clear();
    find(normalized, normalized_, &normalized_matches);
    size_t prev = 0;
    for (const Match& m : normalized_matches) {
      if (m.start > prev) out->push_back({normalized.substr(prev, m.start - prev), std::nullopt, at_start && prev == 0});
      out->push_back({normalized.substr(m.start, m.stop - m.start), tokens_[m.token_index].id, false});
      prev = m.stop;
    }
    if (prev < normalized.size() || (prev == 0 && normalized_matches.empty())) {
      out->push_back({normalized.substr(prev), std::nullopt, at_start && prev == 0});
    }
    return Status::Ok();
  };
  size_t prev = 0;
  for (const Match& m : raw_matches) {
    if (m.start > prev) FM_RETURN_IF_ERROR(emit_text(text.substr(prev, m.start - prev), prev == 0));
    out->push_back({std::string(text.substr(m.start, m.stop - m.start)), tokens_[m.token_index].id, false});
    prev = m.stop;
  }
  if (prev < text.size() || raw_matches.empty()) {
    FM_RETURN_IF_ERROR(emit_text(text.substr(prev), prev == 0));
  }
  return Status::Ok();
}

}  // namespace flopsmeter
