// The BPE model (see bpe.cc for the algorithm).
#ifndef FLOPSMETER_TOKENIZER_BPE_H_
#define FLOPSMETER_TOKENIZER_BPE_H_

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/model.h"

namespace flopsmeter {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  // A piece that is itself in the vocabulary is one token (Llama 3).
  bool ignore_merges = false;
};

class Bpe final : public TokenModel {
 public:
  // On a merge or unk_token that names a token missing from the vocabulary
  // `*status` is set to a ParseError and the model must not be used.
  Bpe(Vocabulary vocab, std::vector<std::pair<std::string, std::string>> merges,
      BpeOptions options, Status* status);

  Status tokenize(std::string_view piece, std::vector<uint32_t>* ids) const override;
  // Cached by the raw bytes, so a piece seen before is never mapped.
  Status tokenize_byte_level(std::string_view raw, std::vector<uint32_t>* ids) const override;
  std::optional<uint32_t> token_to_id(std::string_view token) const override;
  size_t vocab_size() const override { return vocab_.size(); }
  std::string_view type() const override { return "BPE"; }

 private:
  struct MergeResult {
    uint32_t rank;
    uint32_t new_id;
  };
  // Open-addressing map from an id pair to its merge: the innermost lookup
  // of BPE, several times faster than std::unordered_map here.
  class MergeTable {
   public:
    void reserve(size_t count);
    void insert_or_assign(uint64_t key, MergeResult value);
    const MergeResult* find(uint64_t key) const;

   private:
    static uint64_t mix(uint64_t key);
    std::vector<uint64_t> keys_;  // kEmpty where the slot is free
    std::vector<MergeResult> values_;
    uint64_t mask_ = 0;
  };
  // Id of a one-character token, by code point (-1: not in the vocabulary).
  int64_t char_id(char32_t cp, std::string_view ch) const;
  // A per-thread memory of words already encoded by the model `owner`.
  struct WordCache {
    uint64_t owner = 0;
    std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>> words;
  };
  template <typename Encode>
  void cached(WordCache& cache, std::string_view key, std::vector<uint32_t>* ids, Encode encode) const;
  // BPE of one word into the empty `ids`: ignore_merges when
  // it is a whole pre-tokenized piece, else initial symbols and merges.
  void encode_word(std::string_view word, bool whole_piece, std::vector<uint32_t>* ids) const;
  void initial_symbols(std::string_view word, std::vector<uint32_t>* symbols) const;
  void merge(std::vector<uint32_t>* ids) const;

  Vocabulary vocab_;
  MergeTable merges_;
  // Ids of single-character tokens for code points below 0x10000, so a
  // word's first symbols need no string hashing; used only when no prefix
  // or suffix decorates the characters.
  std::vector<int32_t> bmp_ids_;
  // A word-start marker ("\u2581" or " ") that no token holds after another
  // character: no merge can then join the text on both sides of a marker
  // that follows a non-marker, so a piece is cut there into words that are
  // merged (and cached) separately with the same result. SentencePiece-style
  // tokenizers (Gemma, Mistral) have no pre-tokenizer, and without this cut
  // a whole document would be one word.
  std::string word_marker_;
  BpeOptions options_;
  std::array<int64_t, 256> byte_tokens_{};  // id of "<0xXX>", or -1
  std::optional<uint32_t> unk_id_;
  uint64_t id_;  // tells this model's entries apart in the per-thread cache
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENIZER_BPE_H_
