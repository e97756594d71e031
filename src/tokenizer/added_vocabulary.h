// Added tokens (special tokens such as <|begin_of_text|>, and tokens added
// after training): found in the text before anything else, so they are
// never normalized, pre-tokenized or split by the model. Matching is
// leftmost-longest and honours each token's single_word, lstrip, rstrip and
// normalized flags, as tokenizers' AddedVocabulary does.
#ifndef FLOPSMETER_TOKENIZER_ADDED_VOCABULARY_H_
#define FLOPSMETER_TOKENIZER_ADDED_VOCABULARY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pattern.h"

namespace flopsmeter {

struct AddedToken {
  uint32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// A stretch of text: either an added token (id set) or text for the
// normalizer and the model.
struct TextSegment {
  std::string text;
  std::optional<uint32_t> token;
  bool at_start = false;  // begins the input text
};

class AddedVocabulary {
 public:
  // `normalizer` (may be null) is applied to the content of tokens marked
  // normalized, which are then matched in normalized text.
  static Result<AddedVocabulary> Build(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Cuts `text` at added tokens and normalizes the stretches between them
  // (each stretch separately, as tokenizers does), within one TextBudget
  // for the whole of `text`.
  Status split(std::string_view text, const Normalizer* normalizer, std::vector<TextSegment>* out) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  std::optional<uint32_t> id_of(std::string_view content) const;

 private:
  // A byte trie over token contents.
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, uint32_t>> children;  // byte -> node
      int64_t token = -1;  // index into tokens_ when a token ends here
    };
    std::vector<Node> nodes{Node{}};
    std::array<bool, 256> first_byte{};
    bool empty() const { return nodes.size() == 1; }
    void insert(std::string_view key, size_t token_index);
    // Longest token starting at text[pos]: (end, token index) or none.
    std::optional<std::pair<size_t, size_t>> longest_at(std::string_view text, size_t pos) const;
  };
  struct Match {
    size_t start, stop, token_index;
  };
  void find(std::string_view text, const Trie& trie, std::vector<Match>* out) const;

  std::vector<AddedToken> tokens_;
  Trie raw_;         // tokens matched before normalization
  Trie normalized_;  // tokens matched in normalized text
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_ADDED_VOCABULARY_H_
