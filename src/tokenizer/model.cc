#include "tokenizer/model.h"

#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/unicode.h"

namespace flopsmeter {
namespace {

// WordPiece as in BERT: greedy longest-match-first over the word, with
// continuing pieces prefixed ("##"); a word that cannot be covered, or is
// too long, is the unknown token.
class WordPiece final : public TokenModel {
 public:
  WordPiece(Vocabulary vocab, uint32_t unk_id, std::string prefix, size_t max_chars)
      : vocab_(std::move(vocab)), unk_id_(unk_id), prefix_(std::move(prefix)), max_chars_(max_chars) {}

  Status tokenize(std::string_view word, std::vector<uint32_t>* ids) const override {
    size_t chars = 0;
    for (size_t pos = 0; pos < word.size(); ++chars) unicode::next_code_point(word, &pos);
    if (chars > max_chars_) {
      ids->push_back(unk_id_);
      return Status::Ok();
    }
    const size_t mark = ids->size();
    std::string candidate;
    for (size_t start = 0; start < word.size();) {
      size_t end = word.size();
      std::optional<uint32_t> found;
      while (start < end) {
        candidate.assign(start > 0 ? prefix_ : std::string());
        candidate.append(word.substr(start, end - start));
        auto it = vocab_.find(candidate);
        if (it != vocab_.end()) {
          found = it->second;
          break;
        }
        do {
          --end;
        } while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        ids->resize(mark);
        ids->push_back(unk_id_);
        return Status::Ok();
      }
      ids->push_back(*found);
      start = end;
    }
    return Status::Ok();
  }
  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  size_t vocab_size() const override { return vocab_.size(); }
  std::string_view type() const override { return "WordPiece"; }

 private:
  Vocabulary vocab_;
  uint32_t unk_id_;
  std::string prefix_;
  size_t max_chars_;
};

Result<Vocabulary> parse_vocabulary(const JsonDoc& doc, const nlohmann::json& spec,
                                    const std::string& pointer) {
  FM_ASSIGN_OR_RETURN(const nlohmann::json* vocab, doc.get_object(spec, pointer, "vocab"));
  const std::string vocab_pointer = JsonDoc::child(pointer, "vocab");
  Vocabulary out;
  out.reserve(vocab->size());
  for (const auto& [token, value] : vocab->items()) {
    if (!value.is_number_unsigned() || value.get<uint64_t>() > UINT32_MAX) {
      return doc.error(JsonDoc::child(vocab_pointer, token), "expected a token id (0 to 4294967295)");
    }
    out.emplace(token, static_cast<uint32_t>(value.get<uint64_t>()));
  }
  return out;
}

// Merges are written "a b" (older files) or ["a", "b"].
Result<std::vector<std::pair<std::string, std::string>>> parse_merges(const JsonDoc& doc,
                                                                      const nlohmann::json& spec,
                                                                      const std::string& pointer) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!JsonDoc::has(spec, "merges")) return out;
  FM_ASSIGN_OR_RETURN(const nlohmann::json* merges, doc.get_array(spec, pointer, "merges"));
  const std::string merges_pointer = JsonDoc::child(pointer, "merges");
  out.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const nlohmann::json& m = (*merges)[i];
    if (m.is_string()) {
      const std::string& line = m.get_ref<const std::string&>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string::npos) {
        return doc.error(JsonDoc::child(merges_pointer, i),
                         "expected a merge \"A B\" (two tokens separated by one space)");
      }
      out.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return doc.error(JsonDoc::child(merges_pointer, i), "expected a merge \"A B\" or [\"A\", \"B\"]");
    }
  }
  return out;
}

Result<std::string> optional_string(const JsonDoc& doc, const nlohmann::json& spec,
                                    const std::string& pointer, std::string_view key) {
  return doc.get_string(spec, pointer, key, std::string());
}

}  // namespace

Status TokenModel::tokenize_byte_level(std::string_view raw, std::vector<uint32_t>* ids) const {
  std::string mapped;
  append_byte_level(raw, &mapped);
  return tokenize(mapped, ids);
}

Result<std::unique_ptr<TokenModel>> parse_model(const JsonDoc& doc, const nlohmann::json& spec,
                                                const std::string& pointer) {
  // Older files leave "type" out of BPE models.
  FM_ASSIGN_OR_RETURN(std::string type, doc.get_string(spec, pointer, "type", std::string("BPE")));
  if (type == "BPE") {
    if (JsonDoc::has(spec, "dropout")) {
      FM_ASSIGN_OR_RETURN(double dropout, doc.get_double(spec, pointer, "dropout"));
      if (dropout > 0) {
        return doc.error(JsonDoc::child(pointer, "dropout"),
                         "BPE dropout makes tokenization random, so no exact count exists; "
                         "set it to null for counting");
      }
    }
    FM_ASSIGN_OR_RETURN(Vocabulary vocab, parse_vocabulary(doc, spec, pointer));
    FM_ASSIGN_OR_RETURN(auto merges, parse_merges(doc, spec, pointer));
    BpeOptions options;
    if (JsonDoc::has(spec, "unk_token")) {
      FM_ASSIGN_OR_RETURN(std::string unk, doc.get_string(spec, pointer, "unk_token"));
      options.unk_token = unk;
    }
    FM_ASSIGN_OR_RETURN(options.continuing_subword_prefix,
                        optional_string(doc, spec, pointer, "continuing_subword_prefix"));
    FM_ASSIGN_OR_RETURN(options.end_of_word_suffix, optional_string(doc, spec, pointer, "end_of_word_suffix"));
    FM_ASSIGN_OR_RETURN(options.fuse_unk, doc.get_bool(spec, pointer, "fuse_unk", false));
    FM_ASSIGN_OR_RETURN(options.byte_fallback, doc.get_bool(spec, pointer, "byte_fallback", false));
    FM_ASSIGN_OR_RETURN(options.ignore_merges, doc.get_bool(spec, pointer, "ignore_merges", false));
    Status status;
    auto model = std::make_unique<Bpe>(std::move(vocab), std::move(merges), std::move(options), &status);
    if (!status.ok()) return doc.error(pointer, status.message());
    return std::unique_ptr<TokenModel>(std::move(model));
  }
  if (type == "WordPiece") {
    FM_ASSIGN_OR_RETURN(Vocabulary vocab, parse_vocabulary(doc, spec, pointer));
    FM_ASSIGN_OR_RETURN(std::string unk, doc.get_string(spec, pointer, "unk_token", std::string("[UNK]")));
    FM_ASSIGN_OR_RETURN(std::string prefix,
                        doc.get_string(spec, pointer, "continuing_subword_prefix", std::string("##")));
    FM_ASSIGN_OR_RETURN(uint64_t max_chars, doc.get_uint(spec, pointer, "max_input_chars_per_word", 100));
    auto unk_it = vocab.find(unk);
    if (unk_it == vocab.end()) {
      return doc.error(JsonDoc::child(pointer, "unk_token"), "\"" + unk + "\" is not in the vocabulary");
    }
    const uint32_t unk_id = unk_it->second;
    return std::unique_ptr<TokenModel>(new WordPiece(std::move(vocab), unk_id, std::move(prefix), max_chars));
  }
  return unsupported_type(doc, pointer, "model", type, "BPE, WordPiece");
}

}  // namespace flopsmeter
