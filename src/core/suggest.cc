#include "core/suggest.h"

#include <algorithm>
#include <cctype>

namespace flopsmeter {
std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {

// The first word of a name: up to the first '-', '_', '/' or '.'.
std::string_view first_word(std::string_view s) { return s.substr(0, s.find_first_of("-_/.")); }

// How alike a query and a candidate are before their edit distance counts:
// 0 when the candidate holds the whole query (an id typed short:
// "Qwen/Qwen2.5-7B" in "Qwen/Qwen2.5-7B-Instruct"), 1 when they share their
// first word (the same family: lora-rank and lora-r, not local-rank), 2
// otherwise.
int kinship(std::string_view q, std::string_view c) {
  if (q.size() >= 3 && c.find(q) != std::string_view::npos) return 0;
  return !first_word(q).empty() && first_word(q) == first_word(c) ? 1 : 2;
}

}  // namespace

std::vector<std::string> closest_names(std::string_view query, const std::vector<std::string>& candidates,
                                       size_t limit) {
  std::string q = ascii_lower(query);
  std::vector<std::pair<std::pair<int, size_t>, std::string>> scored;
  for (const std::string& c : candidates) {
    const std::string lower = ascii_lower(c);
    scored.push_back({{kinship(q, lower), edit_distance(q, lower)}, c});
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < limit; ++i) out.push_back(scored[i].second);
  return out;
}

}  // namespace flopsmeter
