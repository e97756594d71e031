#include "flopsmeter/tokenizer.h"

#include <algorithm>

#include "core/json_doc.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"

namespace flopsmeter {

struct Tokenizer::Impl {
  TokenizerInfo info;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  // pre_tokenizer->byte_level_pattern(): the fast path when not null.
  const Pattern* byte_level_pattern = nullptr;
  std::unique_ptr<TokenModel> model;
  AddedVocabulary added;
  SpecialTokenTemplate specials;
  // tokenizer.json "truncation": at most this many ids per sequence,
  // special tokens included, cut from the right unless `truncate_left`.
  std::optional<size_t> truncation;
  bool truncate_left = false;
};

namespace {

Result<std::vector<AddedToken>> parse_added_tokens(const JsonDoc& doc) {
  std::vector<AddedToken> out;
  if (!JsonDoc::has(doc.root, "added_tokens")) return out;
  FM_ASSIGN_OR_RETURN(const nlohmann::json* list, doc.get_array(doc.root, "", "added_tokens"));
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string p = JsonDoc::child("/added_tokens", i);
    const nlohmann::json& t = (*list)[i];
    AddedToken token;
    FM_ASSIGN_OR_RETURN(uint64_t id, doc.get_uint(t, p, "id"));
    if (id > UINT32_MAX) return doc.error(JsonDoc::child(p, "id"), "token id above 4294967295");
    token.id = static_cast<uint32_t>(id);
    FM_ASSIGN_OR_RETURN(token.content, doc.get_string(t, p, "content"));
    FM_ASSIGN_OR_RETURN(token.single_word, doc.get_bool(t, p, "single_word", false));
    FM_ASSIGN_OR_RETURN(token.lstrip, doc.get_bool(t, p, "lstrip", false));
    FM_ASSIGN_OR_RETURN(token.rstrip, doc.get_bool(t, p, "rstrip", false));
    FM_ASSIGN_OR_RETURN(token.special, doc.get_bool(t, p, "special", false));
    // tokenizers' default: special tokens are matched raw, others normalized.
    FM_ASSIGN_OR_RETURN(token.normalized, doc.get_bool(t, p, "normalized", !token.special));
    out.push_back(std::move(token));
  }
  return out;
}

// A special token in tokenizer_config.json: "text" or {"content": "text", ...}.
std::optional<std::string> config_token(const nlohmann::json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return std::nullopt;
}

// Reads tokenizer_config.json into `info`; may replace `specials`.
Status read_config(std::string_view text, const std::string& origin, const AddedVocabulary& added,
                   const TokenModel& model, TokenizerInfo* out, SpecialTokenTemplate* specials) {
  FM_ASSIGN_OR_RETURN(JsonDoc config, parse_json_document(text, origin));
  if (!config.root.is_object()) return config.error("", "expected a JSON object");
  TokenizerInfo& info = *out;
  info.bos_token = config_token(config.root, "bos_token");
  info.eos_token = config_token(config.root, "eos_token");
  info.unk_token = config_token(config.root, "unk_token");
  info.pad_token = config_token(config.root, "pad_token");
  if (JsonDoc::has(config.root, "chat_template")) {
    const nlohmann::json& tmpl = config.root["chat_template"];
    if (tmpl.is_string()) {
      info.chat_template = tmpl.get<std::string>();
    } else if (tmpl.is_array()) {
      // Several named templates: the trainer uses "default".
      for (const nlohmann::json& entry : tmpl) {
        if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
            entry["template"].is_string()) {
          info.chat_template = entry["template"].get<std::string>();
        }
      }
    } else {
      return config.error("/chat_template", "expected a string or a list of {name, template}");
    }
  }
  // transformers' Llama and Gemma fast tokenizers rebuild the post-processor
  // from add_bos_token / add_eos_token instead of using tokenizer.json's.
  const std::string cls = config.root.value("tokenizer_class", "");
  static const char* const kRebuilding[] = {"LlamaTokenizer", "LlamaTokenizerFast",
                                            "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
                                            "GemmaTokenizer", "GemmaTokenizerFast"};
  if (std::find(std::begin(kRebuilding), std::end(kRebuilding), cls) != std::end(kRebuilding)) {
    FM_ASSIGN_OR_RETURN(bool add_bos, config.get_bool(config.root, "", "add_bos_token", true));
    FM_ASSIGN_OR_RETURN(bool add_eos, config.get_bool(config.root, "", "add_eos_token", false));
    SpecialTokenTemplate rebuilt;
    auto id_of = [&](const std::optional<std::string>& token) -> std::optional<uint32_t> {
      if (!token) return std::nullopt;
      if (auto id = added.id_of(*token)) return id;
      return model.token_to_id(*token);
    };
    if (add_bos) {
      if (auto id = id_of(info.bos_token)) rebuilt.prefix.push_back(*id);
    }
    if (add_eos) {
      if (auto id = id_of(info.eos_token)) rebuilt.suffix.push_back(*id);
    }
    if (rebuilt.prefix != specials->prefix || rebuilt.suffix != specials->suffix) {
      *specials = rebuilt;
      info.notes.push_back("special tokens follow " + origin + " (tokenizer_class " + cls +
                           ", add_bos_token " + (add_bos ? "true" : "false") + ", add_eos_token " +
                           (add_eos ? "true" : "false") + "), as transformers does, not tokenizer.json's post_processor");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Tokenizer> Tokenizer::FromText(std::string_view tokenizer_json, std::string_view config_json,
                                      const std::string& origin) {
  FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(tokenizer_json, origin, kMaxTokenizerFileBytes));
  if (!doc.root.is_object()) return doc.error("", "expected a JSON object");
  auto impl = std::make_shared<Impl>();
  impl->info.source = origin;
  const nlohmann::json null_value;
  auto member = [&](const char* key) -> const nlohmann::json& {
    auto it = doc.root.find(key);
    return it == doc.root.end() ? null_value : *it;
  };
  FM_ASSIGN_OR_RETURN(impl->normalizer, parse_normalizer(doc, member("normalizer"), "/normalizer"));
  FM_ASSIGN_OR_RETURN(impl->pre_tokenizer, parse_pre_tokenizer(doc, member("pre_tokenizer"), "/pre_tokenizer"));
  if (impl->pre_tokenizer) impl->byte_level_pattern = impl->pre_tokenizer->byte_level_pattern();
  FM_ASSIGN_OR_RETURN(const nlohmann::json* model, doc.get_object(doc.root, "", "model"));
  FM_ASSIGN_OR_RETURN(impl->model, parse_model(doc, *model, "/model"));
  FM_ASSIGN_OR_RETURN(impl->specials, parse_post_processor(doc, member("post_processor"), "/post_processor"));
  FM_ASSIGN_OR_RETURN(std::vector<AddedToken> added, parse_added_tokens(doc));
  size_t outside_vocab = 0;
  for (const AddedToken& t : added) outside_vocab += impl->model->token_to_id(t.content) ? 0 : 1;
  impl->info.added_tokens = added.size();
  Result<AddedVocabulary> vocabulary = AddedVocabulary::Build(std::move(added), impl->normalizer.get());
  if (!vocabulary.ok()) return vocabulary.status().WithContext(printable_text(origin));
  impl->added = std::move(vocabulary).value();
  impl->info.model_type = std::string(impl->model->type());
  impl->info.vocab_size = impl->model->vocab_size() + outside_vocab;
  if (const nlohmann::json& trunc = member("truncation"); !trunc.is_null()) {
    FM_ASSIGN_OR_RETURN(uint64_t max_length, doc.get_uint(trunc, "/truncation", "max_length"));
    FM_ASSIGN_OR_RETURN(std::string direction,
                        doc.get_string(trunc, "/truncation", "direction", std::string("Right")));
    impl->truncation = static_cast<size_t>(max_length);
    impl->truncate_left = direction == "Left";
    impl->info.notes.push_back(origin + " truncates every sequence to " + std::to_string(max_length) +
                               " tokens (its \"truncation\" setting)");
  }
  if (!config_json.empty()) {
    const std::string config_origin = origin.size() >= 14 && origin.ends_with("tokenizer.json")
                                          ? origin.substr(0, origin.size() - 14) + "tokenizer_config.json"
                                          : "tokenizer_config.json";
    FM_RETURN_IF_ERROR(read_config(config_json, config_origin, impl->added, *impl->model, &impl->info,
                                   &impl->specials));
  }
  if (impl->info.eos_token) {
    impl->info.eos_id = impl->added.id_of(*impl->info.eos_token);
    if (!impl->info.eos_id) impl->info.eos_id = impl->model->token_to_id(*impl->info.eos_token);
  }
  impl->info.special_tokens_per_sequence = impl->specials.size();
  return Tokenizer(std::move(impl));
}

Status Tokenizer::encode(std::string_view text, bool add_special_tokens, std::vector<uint32_t>* ids) const {
  const Impl& impl = *impl_;
  thread_local std::vector<TextSegment> segments;
  thread_local std::vector<Piece> pieces;
  segments.clear();
  // Budget errors name the stage; the file is named here.
  auto in_file = [&](const Status& status) { return status.WithContext(printable_text(impl.info.source)); };
  if (Status split = impl.added.split(text, impl.normalizer.get(), &segments); !split.ok()) return in_file(split);
  TextBudget pieces_budget(text.size());
  if (add_special_tokens) ids->insert(ids->end(), impl.specials.prefix.begin(), impl.specials.prefix.end());
  const size_t body = ids->size();
  for (TextSegment& segment : segments) {
    if (segment.token) {
      ids->push_back(*segment.token);
      continue;
    }
    if (impl.byte_level_pattern != nullptr) {
      // Matches and the gaps between them are pieces, given to the model as
      // raw bytes (see PreTokenizer::byte_level_pattern).
      thread_local std::vector<Span> matches;
      matches.clear();
      FM_RETURN_IF_ERROR(impl.byte_level_pattern->find_all(segment.text, &matches));
      const std::string_view stretch = segment.text;
      size_t prev = 0;
      for (const Span& m : matches) {
        if (m.first > prev) {
          FM_RETURN_IF_ERROR(impl.model->tokenize_byte_level(stretch.substr(prev, m.first - prev), ids));
        }
        FM_RETURN_IF_ERROR(impl.model->tokenize_byte_level(stretch.substr(m.first, m.second - m.first), ids));
        prev = m.second;
      }
      if (prev < stretch.size()) FM_RETURN_IF_ERROR(impl.model->tokenize_byte_level(stretch.substr(prev), ids));
      continue;
    }
    pieces.clear();
    pieces.push_back({std::move(segment.text), segment.at_start});
    if (impl.pre_tokenizer) {
      if (Status split = impl.pre_tokenizer->split(&pieces, pieces_budget); !split.ok()) return in_file(split);
    }
    for (const Piece& piece : pieces) {
      pieces_budget.spend(piece.text.size());
      FM_RETURN_IF_ERROR(impl.model->tokenize(piece.text, ids));
    }
  }
  if (impl.truncation) {
    const size_t specials = add_special_tokens ? impl.specials.size() : 0;
    const size_t keep = *impl.truncation > specials ? *impl.truncation - specials : 0;
    const size_t have = ids->size() - body;
    if (have > keep) {
      if (impl.truncate_left) {
        ids->erase(ids->begin() + static_cast<std::ptrdiff_t>(body),
                   ids->begin() + static_cast<std::ptrdiff_t>(body + have - keep));
      } else {
        ids->resize(body + keep);
      }
    }
  }
  if (add_special_tokens) ids->insert(ids->end(), impl.specials.suffix.begin(), impl.specials.suffix.end());
  return Status::Ok();
}

const TokenizerInfo& Tokenizer::info() const { return impl_->info; }

}  // namespace flopsmeter
