#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "core/strict_fields.h"  // printable
#include "tokenizer/pattern.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/unicode.h"

namespace flopsmeter {
namespace {

// How a Split keeps what its pattern matched.
enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct Segment {
  Span span;
  bool is_match;
};

// The whole of a text as alternating match / non-match segments.
std::vector<Segment> segments_of(size_t length, const std::vector<Span>& matches, bool invert) {
  std::vector<Segment> out;
  size_t prev = 0;
  for (const Span& m : matches) {
    if (prev != m.first) out.push_back({{prev, m.first}, invert});
    out.push_back({m, !invert});
    prev = m.second;
  }
  if (prev != length) out.push_back({{prev, length}, invert});
  return out;
}

// The spans a behavior keeps, as tokenizers' SplitDelimiterBehavior.
std::vector<Span> apply_behavior(const std::vector<Segment>& segments, Behavior behavior) {
  std::vector<Span> out;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kRemoved:
      for (const Segment& s : segments) {
        if (!s.is_match) out.push_back(s.span);
      }
      break;
    case Behavior::kIsolated:
      for (const Segment& s : segments) out.push_back(s.span);
      break;
    case Behavior::kMergedWithPrevious:
      for (const Segment& s : segments) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().second = s.span.second;
        } else {
          out.push_back(s.span);
        }
        previous_match = s.is_match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().first = it->span.first;
        } else {
          out.push_back(it->span);
        }
        previous_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case Behavior::kContiguous:
      for (size_t i = 0; i < segments.size(); ++i) {
        if (i > 0 && segments[i].is_match == previous_match) {
          out.back().second = segments[i].span.second;
        } else {
          out.push_back(segments[i].span);
        }
        previous_match = segments[i].is_match;
      }
      break;
  }
  return out;
}

// Cuts every piece at the given spans; `find` lists the matches in a text.
Status split_pieces(std::vector<Piece>* pieces, Behavior behavior, bool invert,
                    const std::function<Status(std::string_view, std::vector<Span>*)>& find) {
  std::vector<Piece> out;
  out.reserve(pieces->size());
  std::vector<Span> matches;
  for (Piece& piece : *pieces) {
    matches.clear();
    FM_RETURN_IF_ERROR(find(piece.text, &matches));
    if (matches.empty() && !invert) {  // one non-match segment: every behavior keeps it
      out.push_back(std::move(piece));
      continue;
    }
    for (const Span& s : apply_behavior(segments_of(piece.text.size(), matches, invert), behavior)) {
      if (s.second == s.first) continue;
      out.push_back({piece.text.substr(s.first, s.second - s.first), piece.at_start && s.first == 0});
    }
  }
  *pieces = std::move(out);
  return Status::Ok();
}

// Each character for which `pred` holds is a match of its own.
std::function<Status(std::string_view, std::vector<Span>*)> char_matcher(
    std::function<bool(char32_t)> pred) {
  return [pred = std::move(pred)](std::string_view text, std::vector<Span>* matches) {
    for (size_t pos = 0; pos < text.size();) {
      const size_t start = pos;
      if (pred(unicode::next_code_point(text, &pos))) matches->emplace_back(start, pos);
    }
    return Status::Ok();
  };
}

std::function<Status(std::string_view, std::vector<Span>*)> pattern_matcher(const Pattern* p) {
  return [p](std::string_view text, std::vector<Span>* matches) { return p->find_all(text, matches); };
}

class Split final : public PreTokenizer {
 public:
  Split(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  Status split(std::vector<Piece>* pieces, const TextBudget& /*budget*/) const override {
    return split_pieces(pieces, behavior_, invert_, pattern_matcher(&pattern_));
  }
  // The pattern, when the cut keeps matches and gaps alike.
  const Pattern* isolating_pattern() const {
    return behavior_ == Behavior::kIsolated && !invert_ ? &pattern_ : nullptr;
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

class CharSplit final : public PreTokenizer {
 public:
  CharSplit(std::function<bool(char32_t)> pred, Behavior behavior)
      : find_(char_matcher(std::move(pred))), behavior_(behavior) {}
  Status split(std::vector<Piece>* pieces, const TextBudget& /*budget*/) const override {
    return split_pieces(pieces, behavior_, false, find_);
  }

 private:
  std::function<Status(std::string_view, std::vector<Span>*)> find_;
  Behavior behavior_;
};

// GPT-2's pattern, used by ByteLevel when use_regex is set.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, std::unique_ptr<Pattern> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}
  // The prefix space and the byte mapping at most double the text each, so
  // the pieces are checked as they are mapped.
  Status split(std::vector<Piece>* pieces, const TextBudget& budget) const override {
    if (add_prefix_space_) {
      for (Piece& piece : *pieces) {
        if (piece.text.empty() || piece.text[0] != ' ') piece.text.insert(0, " ");
      }
    }
    if (regex_) {
      FM_RETURN_IF_ERROR(split_pieces(pieces, Behavior::kIsolated, false, pattern_matcher(regex_.get())));
    }
    size_t total = 0;
    for (Piece& piece : *pieces) {
      std::string mapped;
      append_byte_level(piece.text, &mapped);
      piece.text = std::move(mapped);
      total += piece.text.size();
      FM_RETURN_IF_ERROR(budget.check(total, stage()));
    }
    return Status::Ok();
  }
  const Pattern* byte_level_pattern() const override { return add_prefix_space_ ? nullptr : regex_.get(); }
  // ByteLevel without its own regex and without a prefix space: a pure
  // byte mapping, which can follow a Split.
  bool maps_only() const { return !add_prefix_space_ && regex_ == nullptr; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Pattern> regex_;
};

enum class PrependScheme { kAlways, kNever, kFirst };

class Metaspace final : public PreTokenizer {
 public:
  Metaspace(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split),
        space_(Pattern::Literal(" ")), marker_(Pattern::Literal(replacement_)) {}
  // The replacement may be long: each piece is checked before it is built.
  Status split(std::vector<Piece>* pieces, const TextBudget& budget) const override {
    size_t total = 0;
    for (Piece& piece : *pieces) {
      const size_t room = budget.available() - std::min(total, budget.available());
      FM_ASSIGN_OR_RETURN(const bool fits, space_.replace_all(&piece.text, replacement_, room));
      if (!fits) return budget.exceeded(stage());
      const bool starts = piece.text.rfind(replacement_, 0) == 0;
      if (!starts && (scheme_ == PrependScheme::kAlways ||
                      (scheme_ == PrependScheme::kFirst && piece.at_start))) {
        FM_RETURN_IF_ERROR(budget.check(total + piece.text.size() + replacement_.size(), stage()));
        piece.text.insert(0, replacement_);
      }
      total += piece.text.size();
    }
    if (!split_) return Status::Ok();
    return split_pieces(pieces, Behavior::kMergedWithNext, false, pattern_matcher(&marker_));
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
  Pattern space_;
  Pattern marker_;
};

class PreTokenizerSequence final : public PreTokenizer {
 public:
  explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  Status split(std::vector<Piece>* pieces, const TextBudget& budget) const override {
    for (const auto& step : steps_) FM_RETURN_IF_ERROR(step->split(pieces, budget));
    return Status::Ok();
  }
  const Pattern* byte_level_pattern() const override {
    if (steps_.size() == 1) return steps_[0]->byte_level_pattern();
    if (steps_.size() != 2) return nullptr;
    const auto* split = dynamic_cast<const Split*>(steps_[0].get());
    const auto* bytes = dynamic_cast<const ByteLevel*>(steps_[1].get());
    return split != nullptr && bytes != nullptr && bytes->maps_only() ? split->isolating_pattern() : nullptr;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

Result<Behavior> parse_behavior(const JsonDoc& doc, const nlohmann::json& spec,
                                const std::string& pointer, const char* fallback) {
  FM_ASSIGN_OR_RETURN(std::string name, doc.get_string(spec, pointer, "behavior", std::string(fallback)));
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  return doc.error(JsonDoc::child(pointer, "behavior"),
                   "unknown behavior \"" + printable(name) +
                       "\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

}  // namespace

const std::array<std::string, 256>& byte_level_alphabet() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      unicode::append_utf8(printable ? static_cast<char32_t>(b) : next++, &t[static_cast<size_t>(b)]);
    }
    return t;
  }();
  return table;
}

void append_byte_level(std::string_view raw, std::string* out) {
  const auto& alphabet = byte_level_alphabet();
  const size_t start = out->size();
  out->resize(start + raw.size() * 2);  // every character is 1 or 2 bytes
  char* at = out->data() + start;
  for (char c : raw) {
    const std::string& ch = alphabet[static_cast<unsigned char>(c)];
    at[0] = ch[0];
    if (ch.size() == 2) at[1] = ch[1];
    at += ch.size();
  }
  out->resize(static_cast<size_t>(at - out->data()));
}

namespace {

Result<std::unique_ptr<PreTokenizer>> parse_pre_tokenizer_type(const JsonDoc& doc, const nlohmann::json& spec,
                                                               const std::string& pointer, const std::string& type) {
  using Ptr = std::unique_ptr<PreTokenizer>;
  if (type == "Split") {
    FM_ASSIGN_OR_RETURN(Pattern pattern, parse_pattern(doc, spec, pointer));
    FM_ASSIGN_OR_RETURN(Behavior behavior, parse_behavior(doc, spec, pointer, "Removed"));
    FM_ASSIGN_OR_RETURN(bool invert, doc.get_bool(spec, pointer, "invert", false));
    return Ptr(new Split(std::move(pattern), behavior, invert));
  }
  if (type == "ByteLevel") {
    FM_ASSIGN_OR_RETURN(bool prefix, doc.get_bool(spec, pointer, "add_prefix_space", true));
    FM_ASSIGN_OR_RETURN(bool use_regex, doc.get_bool(spec, pointer, "use_regex", true));
    std::unique_ptr<Pattern> regex;
    if (use_regex) {
      FM_ASSIGN_OR_RETURN(Pattern gpt2, Pattern::Regex(kGpt2Pattern));
      regex = std::make_unique<Pattern>(std::move(gpt2));
    }
    return Ptr(new ByteLevel(prefix, std::move(regex)));
  }
  if (type == "Metaspace") {
    FM_ASSIGN_OR_RETURN(std::string replacement, doc.get_string(spec, pointer, "replacement", std::string("\u2581")));
    FM_ASSIGN_OR_RETURN(bool split, doc.get_bool(spec, pointer, "split", true));
    PrependScheme scheme = PrependScheme::kAlways;
    if (JsonDoc::has(spec, "prepend_scheme")) {
      FM_ASSIGN_OR_RETURN(std::string name, doc.get_string(spec, pointer, "prepend_scheme"));
      if (name == "always") {
        scheme = PrependScheme::kAlways;
      } else if (name == "never") {
        scheme = PrependScheme::kNever;
      } else if (name == "first") {
        scheme = PrependScheme::kFirst;
      } else {
        return doc.error(JsonDoc::child(pointer, "prepend_scheme"),
                         "unknown prepend_scheme \"" + printable(name) + "\" (expected always, never or first)");
      }
    } else {
      // Files written before prepend_scheme existed say add_prefix_space.
      FM_ASSIGN_OR_RETURN(bool prefix, doc.get_bool(spec, pointer, "add_prefix_space", true));
      scheme = prefix ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    return Ptr(new Metaspace(std::move(replacement), scheme, split));
  }
  if (type == "Whitespace") {
    FM_ASSIGN_OR_RETURN(Pattern words, Pattern::Regex(R"(\w+|[^\w\s]+)"));
    return Ptr(new Split(std::move(words), Behavior::kRemoved, true));
  }
  if (type == "WhitespaceSplit") return Ptr(new CharSplit(unicode::is_whitespace, Behavior::kRemoved));
  if (type == "Digits") {
    FM_ASSIGN_OR_RETURN(bool individual, doc.get_bool(spec, pointer, "individual_digits", false));
    return Ptr(new CharSplit(unicode::is_numeric, individual ? Behavior::kIsolated : Behavior::kContiguous));
  }
  if (type == "Punctuation") {
    FM_ASSIGN_OR_RETURN(Behavior behavior, parse_behavior(doc, spec, pointer, "Isolated"));
    return Ptr(new CharSplit(unicode::is_punctuation, behavior));
  }
  if (type == "CharDelimiterSplit") {
    FM_ASSIGN_OR_RETURN(std::string delimiter, doc.get_string(spec, pointer, "delimiter"));
    size_t pos = 0;
    const char32_t d = delimiter.empty() ? 0 : unicode::next_code_point(delimiter, &pos);
    if (delimiter.empty() || pos != delimiter.size()) {
      return doc.error(JsonDoc::child(pointer, "delimiter"), "expected exactly one character");
    }
    return Ptr(new CharSplit([d](char32_t c) { return c == d; }, Behavior::kRemoved));
  }
  if (type == "BertPreTokenizer") {
    std::vector<Ptr> steps;
    steps.push_back(Ptr(new CharSplit(unicode::is_whitespace, Behavior::kRemoved)));
    steps.push_back(Ptr(new CharSplit(unicode::is_punctuation, Behavior::kIsolated)));
    return Ptr(new PreTokenizerSequence(std::move(steps)));
  }
  if (type == "Sequence") {
    const std::string steps_pointer = JsonDoc::child(pointer, "pretokenizers");
    FM_ASSIGN_OR_RETURN(const nlohmann::json* steps, doc.get_array(spec, pointer, "pretokenizers"));
    std::vector<Ptr> parsed;
    for (size_t i = 0; i < steps->size(); ++i) {
      FM_ASSIGN_OR_RETURN(Ptr step, parse_pre_tokenizer(doc, (*steps)[i], JsonDoc::child(steps_pointer, i)));
      if (step) parsed.push_back(std::move(step));
    }
    return Ptr(new PreTokenizerSequence(std::move(parsed)));
  }
  return unsupported_type(doc, pointer, "pre-tokenizer", type,
                          "Split, ByteLevel, Metaspace, Whitespace, WhitespaceSplit, Digits, "
                          "Punctuation, CharDelimiterSplit, BertPreTokenizer, Sequence");
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> parse_pre_tokenizer(const JsonDoc& doc, const nlohmann::json& spec,
                                                          const std::string& pointer) {
  if (spec.is_null()) return std::unique_ptr<PreTokenizer>();
  FM_ASSIGN_OR_RETURN(std::string type, doc.get_string(spec, pointer, "type"));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre_tokenizer, parse_pre_tokenizer_type(doc, spec, pointer, type));
  pre_tokenizer->set_stage(stage_name("pre-tokenizer", pointer, type));
  return pre_tokenizer;
}

}  // namespace flopsmeter
