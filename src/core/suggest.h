// "Did you mean" suggestions: edit distance and the closest names, shared by
// the catalog lookups, the GPU lookup and the CLI's flag and command errors.
#ifndef FLOPSMETER_CORE_SUGGEST_H_
#define FLOPSMETER_CORE_SUGGEST_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace flopsmeter {

// ASCII lower case, for case-insensitive names.
std::string ascii_lower(std::string_view s);

// Levenshtein distance (insertions, deletions, substitutions), case-sensitive.
size_t edit_distance(std::string_view a, std::string_view b);

// Up to `limit` of `candidates` closest to `query` (case-insensitive), best
// first, ties in candidate order: names that hold the whole query first (a
// model's Instruct twin for its base id), then names of the same family (the
// same first word: lora-r for lora-rank, not local-rank), each by edit
// distance.
std::vector<std::string> closest_names(std::string_view query, const std::vector<std::string>& candidates,
                                       size_t limit = 3);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_SUGGEST_H_
