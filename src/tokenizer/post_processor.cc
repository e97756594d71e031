#include "tokenizer/post_processor.h"

#include "core/strict_fields.h"  // printable
#include "tokenizer/tokenizer_json.h"

namespace flopsmeter {
namespace {

Status too_many_special_tokens(const JsonDoc& doc, const std::string& pointer) {
  return doc.error(pointer, "adds more than " + std::to_string(kMaxSpecialTokensPerSequence) +
                                " special tokens to every sequence");
}

// TemplateProcessing's "single": a list of {"SpecialToken": {"id": NAME}}
// and one {"Sequence": {"id": "A"}}; NAME's ids come from special_tokens.
Result<SpecialTokenTemplate> parse_template(const JsonDoc& doc, const nlohmann::json& spec,
                                            const std::string& pointer) {
  FM_ASSIGN_OR_RETURN(const nlohmann::json* single, doc.get_array(spec, pointer, "single"));
  const std::string single_pointer = JsonDoc::child(pointer, "single");
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json* specials = &empty;
  if (JsonDoc::has(spec, "special_tokens")) {
    FM_ASSIGN_OR_RETURN(specials, doc.get_object(spec, pointer, "special_tokens"));
  }
  const std::string specials_pointer = JsonDoc::child(pointer, "special_tokens");
  SpecialTokenTemplate out;
  bool seen_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const nlohmann::json& item = (*single)[i];
    const std::string item_pointer = JsonDoc::child(single_pointer, i);
    if (JsonDoc::has(item, "Sequence")) {
      if (seen_sequence) return doc.error(item_pointer, "a single-sequence template holds one Sequence");
      seen_sequence = true;
      continue;
    }
    FM_ASSIGN_OR_RETURN(const nlohmann::json* special, doc.get_object(item, item_pointer, "SpecialToken"));
    FM_ASSIGN_OR_RETURN(std::string name,
                        doc.get_string(*special, JsonDoc::child(item_pointer, "SpecialToken"), "id"));
    if (!JsonDoc::has(*specials, name)) {
      return doc.error(item_pointer, "special token \"" + printable(name) + "\" is not in special_tokens");
    }
    const std::string entry_pointer = JsonDoc::child(specials_pointer, name);
    FM_ASSIGN_OR_RETURN(const nlohmann::json* ids, doc.get_array((*specials)[name], entry_pointer, "ids"));
    if (out.size() + ids->size() > kMaxSpecialTokensPerSequence) return too_many_special_tokens(doc, pointer);
    for (size_t k = 0; k < ids->size(); ++k) {
      FM_ASSIGN_OR_RETURN(uint64_t id, doc.as_uint((*ids)[k], JsonDoc::child(JsonDoc::child(entry_pointer, "ids"), k)));
      (seen_sequence ? out.suffix : out.prefix).push_back(static_cast<uint32_t>(id));
    }
  }
  if (!seen_sequence) return doc.error(single_pointer, "the template has no Sequence");
  return out;
}

// RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id].
Result<uint32_t> pair_id(const JsonDoc& doc, const nlohmann::json& spec, const std::string& pointer,
                         const char* key) {
  FM_ASSIGN_OR_RETURN(const nlohmann::json* pair, doc.get_array(spec, pointer, key));
  if (pair->size() != 2) return doc.error(JsonDoc::child(pointer, key), "expected [token, id]");
  FM_ASSIGN_OR_RETURN(uint64_t id, doc.as_uint((*pair)[1], JsonDoc::child(JsonDoc::child(pointer, key), 1)));
  return static_cast<uint32_t>(id);
}

}  // namespace

Result<SpecialTokenTemplate> parse_post_processor(const JsonDoc& doc, const nlohmann::json& spec,
                                                  const std::string& pointer) {
  if (spec.is_null()) return SpecialTokenTemplate{};
  FM_ASSIGN_OR_RETURN(std::string type, doc.get_string(spec, pointer, "type"));
  if (type == "TemplateProcessing") return parse_template(doc, spec, pointer);
  if (type == "ByteLevel") return SpecialTokenTemplate{};
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    FM_ASSIGN_OR_RETURN(uint32_t cls, pair_id(doc, spec, pointer, "cls"));
    FM_ASSIGN_OR_RETURN(uint32_t sep, pair_id(doc, spec, pointer, "sep"));
    return SpecialTokenTemplate{{cls}, {sep}};
  }
  if (type == "Sequence") {
    FM_ASSIGN_OR_RETURN(const nlohmann::json* steps, doc.get_array(spec, pointer, "processors"));
    const std::string steps_pointer = JsonDoc::child(pointer, "processors");
    SpecialTokenTemplate out;
    for (size_t i = 0; i < steps->size(); ++i) {
      FM_ASSIGN_OR_RETURN(SpecialTokenTemplate step,
                          parse_post_processor(doc, (*steps)[i], JsonDoc::child(steps_pointer, i)));
      if (out.size() + step.size() > kMaxSpecialTokensPerSequence) return too_many_special_tokens(doc, pointer);
      out.prefix.insert(out.prefix.begin(), step.prefix.begin(), step.prefix.end());
      out.suffix.insert(out.suffix.end(), step.suffix.begin(), step.suffix.end());
    }
    return out;
  }
  return unsupported_type(doc, pointer, "post-processor", type,
                          "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
}

}  // namespace flopsmeter
