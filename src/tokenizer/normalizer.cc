#include "tokenizer/normalizer.h"

#include <vector>

#include "tokenizer/pattern.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/unicode.h"

namespace flopsmeter {
namespace {

// Unicode forms and case mapping grow text by a bounded factor (NFKC at
// most 18 characters for one), so the result is checked once built.
class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(unicode::NormalForm form) : form_(form) {}
  Status normalize(std::string* text, const TextBudget& budget) const override {
    *text = unicode::normalize(*text, form_);
    return budget.check(text->size(), stage());
  }

 private:
  unicode::NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  Status normalize(std::string* text, const TextBudget& budget) const override {
    *text = unicode::to_lower(*text);
    return budget.check(text->size(), stage());
  }
};

// `text` without nonspacing marks.
std::string without_nonspacing_marks(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = unicode::next_code_point(text, &pos);
    if (!unicode::is_nonspacing_mark(cp)) out.append(text, start, pos - start);
  }
  return out;
}

// Removes white space (the White_Space property) at either end.
class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  Status normalize(std::string* text, const TextBudget& /*budget*/) const override {
    const std::string_view all = *text;
    const size_t begin = left_ ? unicode::leading_whitespace_length(all) : 0;
    const size_t end = right_ ? begin + unicode::trailing_whitespace_start(all.substr(begin)) : all.size();
    *text = text->substr(begin, end - begin);
    return Status::Ok();
  }

 private:
  bool left_;
  bool right_;
};

// Removes nonspacing marks (meant to follow NFD/NFKD).
class StripAccents final : public Normalizer {
 public:
  Status normalize(std::string* text, const TextBudget& /*budget*/) const override {
    *text = without_nonspacing_marks(*text);
    return Status::Ok();
  }
};

class Replace final : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  Status normalize(std::string* text, const TextBudget& budget) const override {
    FM_ASSIGN_OR_RETURN(const bool fits, pattern_.replace_all(text, content_, budget.available()));
    return fits ? Status::Ok() : budget.exceeded(stage());
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Prepends to non-empty text only.
class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  Status normalize(std::string* text, const TextBudget& budget) const override {
    if (text->empty()) return Status::Ok();
    FM_RETURN_IF_ERROR(budget.check(text->size() + prefix_.size(), stage()));
    text->insert(0, prefix_);
    return Status::Ok();
  }

 private:
  std::string prefix_;
};

// BERT's cleanup: drop control characters, map white space to ' ', put
// spaces around CJK ideographs, then strip accents and lower-case.
class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_chars_(chinese_chars),
        strip_accents_(strip_accents), lowercase_(lowercase) {}
  Status normalize(std::string* text, const TextBudget& budget) const override {
    std::string out;
    out.reserve(text->size());
    for (size_t pos = 0; pos < text->size();) {
      const size_t start = pos;
      const char32_t cp = unicode::next_code_point(*text, &pos);
      if (clean_text_) {
        if (cp == 0 || cp == 0xFFFD || unicode::is_control(cp)) continue;
        if (cp == '\t' || cp == '\n' || cp == '\r' || unicode::is_whitespace(cp)) {
          out += ' ';
          continue;
        }
      }
      if (chinese_chars_ && unicode::is_chinese_char(cp)) {
        out += ' ';
        out.append(*text, start, pos - start);
        out += ' ';
        continue;
      }
      out.append(*text, start, pos - start);
    }
    if (strip_accents_) out = without_nonspacing_marks(unicode::normalize(out, unicode::NormalForm::kNFD));
    if (lowercase_) out = unicode::to_lower(out);
    *text = std::move(out);
    return budget.check(text->size(), stage());
  }

 private:
  bool clean_text_, chinese_chars_, strip_accents_, lowercase_;
};

class NormalizerSequence final : public Normalizer {
 public:
  explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  Status normalize(std::string* text, const TextBudget& budget) const override {
    for (const auto& step : steps_) FM_RETURN_IF_ERROR(step->normalize(text, budget));
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

Result<std::unique_ptr<Normalizer>> parse_normalizer_type(const JsonDoc& doc, const nlohmann::json& spec,
                                                          const std::string& pointer, const std::string& type) {
  if (type == "NFC") return std::unique_ptr<Normalizer>(new UnicodeForm(unicode::NormalForm::kNFC));
  if (type == "NFD") return std::unique_ptr<Normalizer>(new UnicodeForm(unicode::NormalForm::kNFD));
  if (type == "NFKC") return std::unique_ptr<Normalizer>(new UnicodeForm(unicode::NormalForm::kNFKC));
  if (type == "NFKD") return std::unique_ptr<Normalizer>(new UnicodeForm(unicode::NormalForm::kNFKD));
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(new Lowercase());
  if (type == "StripAccents") return std::unique_ptr<Normalizer>(new StripAccents());
  if (type == "Strip") {
    FM_ASSIGN_OR_RETURN(bool left, doc.get_bool(spec, pointer, "strip_left", true));
    FM_ASSIGN_OR_RETURN(bool right, doc.get_bool(spec, pointer, "strip_right", true));
    return std::unique_ptr<Normalizer>(new Strip(left, right));
  }
  if (type == "Replace") {
    FM_ASSIGN_OR_RETURN(Pattern pattern, parse_pattern(doc, spec, pointer));
    FM_ASSIGN_OR_RETURN(std::string content, doc.get_string(spec, pointer, "content"));
    return std::unique_ptr<Normalizer>(new Replace(std::move(pattern), std::move(content)));
  }
  if (type == "Prepend") {
    FM_ASSIGN_OR_RETURN(std::string prefix, doc.get_string(spec, pointer, "prepend"));
    return std::unique_ptr<Normalizer>(new Prepend(std::move(prefix)));
  }
  if (type == "BertNormalizer") {
    FM_ASSIGN_OR_RETURN(bool clean, doc.get_bool(spec, pointer, "clean_text", true));
    FM_ASSIGN_OR_RETURN(bool chinese, doc.get_bool(spec, pointer, "handle_chinese_chars", true));
    FM_ASSIGN_OR_RETURN(bool lowercase, doc.get_bool(spec, pointer, "lowercase", true));
    // strip_accents null means "follow lowercase", as in BERT.
    FM_ASSIGN_OR_RETURN(bool strip, doc.get_bool(spec, pointer, "strip_accents", lowercase));
    return std::unique_ptr<Normalizer>(new BertNormalizer(clean, chinese, strip, lowercase));
  }
  if (type == "Sequence") {
    const std::string steps_pointer = JsonDoc::child(pointer, "normalizers");
    FM_ASSIGN_OR_RETURN(const nlohmann::json* steps, doc.get_array(spec, pointer, "normalizers"));
    std::vector<std::unique_ptr<Normalizer>> parsed;
    for (size_t i = 0; i < steps->size(); ++i) {
      FM_ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> step,
                          parse_normalizer(doc, (*steps)[i], JsonDoc::child(steps_pointer, i)));
      if (step) parsed.push_back(std::move(step));
    }
    return std::unique_ptr<Normalizer>(new NormalizerSequence(std::move(parsed)));
  }
  return unsupported_type(doc, pointer, "normalizer", type,
                          "NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, "
                          "Prepend, BertNormalizer, Sequence");
}

}  // namespace

Result<std::unique_ptr<Normalizer>> parse_normalizer(const JsonDoc& doc, const nlohmann::json& spec,
                                                     const std::string& pointer) {
  if (spec.is_null()) return std::unique_ptr<Normalizer>();
  FM_ASSIGN_OR_RETURN(std::string type, doc.get_string(spec, pointer, "type"));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> normalizer, parse_normalizer_type(doc, spec, pointer, type));
  normalizer->set_stage(stage_name("normalizer", pointer, type));
  return normalizer;
}

}  // namespace flopsmeter
