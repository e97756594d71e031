// Compares flopsmeter's canonical JSON (src/core/canonical_json.h) with the
// npm package `canonicalize`, line for line, on the documents
// canonical_json_reference.js wrote.
//
//   canonical_json_main DOCS EXPECTED
//
// For each line of DOCS: canonical_json() of the parsed line must equal the
// same line of EXPECTED byte for byte; is_canonical_json() must hold for
// that text, and for the input line exactly when the line is that text.
// Prints the first mismatches (escaped, around the first differing byte) and
// a summary. Exit status: 0 when every line agrees, 1 otherwise, 2 on bad
// input.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/canonical_json.h"
#include "core/json_doc.h"

namespace {

using flopsmeter::Result;

constexpr int kShown = 5;  // mismatches printed in full

bool ReadLines(const std::string& path, std::vector<std::string>* lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  for (std::string line; std::getline(in, line);) lines->push_back(line);
  return true;
}

// Up to 60 bytes either side of `at`, escaped.
std::string Around(const std::string& text, size_t at) {
  const size_t begin = at > 60 ? at - 60 : 0;
  return (begin > 0 ? "..." : "") + flopsmeter::printable_text(text.substr(begin, 120)) +
         (begin + 120 < text.size() ? "..." : "");
}

// What is wrong with flopsmeter's handling of one document, or "".
std::string Check(const std::string& input, const std::string& expected) {
  Result<flopsmeter::JsonDoc> doc = flopsmeter::parse_json_document(input, "document");
  if (!doc.ok()) return "flopsmeter cannot parse it: " + doc.status().ToString();
  Result<std::string> canonical = flopsmeter::canonical_json(doc->root);
  if (!canonical.ok()) return "flopsmeter refuses it: " + canonical.status().ToString();
  if (*canonical != expected) {
    size_t at = 0;
    while (at < expected.size() && at < canonical->size() && expected[at] == (*canonical)[at]) ++at;
    return "differs at byte " + std::to_string(at) + "\n    expected: " + Around(expected, at) +
           "\n    got:      " + Around(*canonical, at);
  }
  Result<bool> output_is = flopsmeter::is_canonical_json(*canonical);
  if (!output_is.ok() || !*output_is) return "is_canonical_json refuses the canonical text";
  Result<bool> input_is = flopsmeter::is_canonical_json(input);
  if (!input_is.ok() || *input_is != (input == expected)) {
    return "is_canonical_json(input) says " + std::string(input_is.ok() && *input_is ? "yes" : "no");
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: canonical_json_main DOCS EXPECTED\n";
    return 2;
  }
  std::vector<std::string> docs;
  std::vector<std::string> expected;
  if (!ReadLines(argv[1], &docs) || !ReadLines(argv[2], &expected)) {
    std::cerr << "canonical_json_main: cannot read " << argv[1] << " or " << argv[2] << "\n";
    return 2;
  }
  if (docs.size() != expected.size() || docs.empty()) {
    std::cerr << "canonical_json_main: " << docs.size() << " documents but " << expected.size()
              << " expected lines\n";
    return 2;
  }
  size_t mismatches = 0;
  size_t already_canonical = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (docs[i] == expected[i]) ++already_canonical;
    const std::string problem = Check(docs[i], expected[i]);
    if (problem.empty()) continue;
    if (++mismatches <= kShown) {
      std::cout << "line " << i + 1 << ": " << problem << "\n    input:    " << Around(docs[i], 0) << "\n";
    }
  }
  std::cout << "canonical JSON vs canonicalize: " << docs.size() - mismatches << " of " << docs.size()
            << " documents identical (" << already_canonical << " given in canonical form)\n";
  return mismatches == 0 ? 0 : 1;
}
