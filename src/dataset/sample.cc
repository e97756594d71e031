// Sample: UTF-8 repair, JSON parsing of one record, schema recognition.
#include "dataset/sample.h"

#include <array>
#include <charconv>
#include <cstring>
#include <new>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/json_doc.h"
#include "core/suggest.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD
// Keys quoted in a "no training text" message.
constexpr size_t kMaxListedKeys = 10;

// ---------------------------------------------------------------------------
// UTF-8

struct Utf8Step {
  size_t length;  // bytes of the character, or of the maximal invalid subpart
  bool valid;
};

// The character starting at *p, per the Unicode table of well-formed UTF-8
// byte sequences (no overlongs, no surrogates, nothing above U+10FFFF). An
// invalid sequence is cut at its maximal subpart: the longest prefix that
// could still have begun a valid one.
Utf8Step utf8_step(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = *p;
  if (lead < 0x80) return {1, true};
  size_t continuations = 0;
  unsigned char low = 0x80;  // allowed range of the first continuation byte
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuations = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuations = 2;
    if (lead == 0xE0) low = 0xA0;   // overlong below U+0800
    if (lead == 0xED) high = 0x9F;  // surrogates U+D800..U+DFFF
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuations = 3;
    if (lead == 0xF0) low = 0x90;   // overlong below U+10000
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return {1, false};  // a continuation byte, C0, C1 or F5..FF
  }
  for (size_t i = 1; i <= continuations; ++i) {
    if (p + i == end || p[i] < low || p[i] > high) return {i, false};
    low = 0x80;
    high = 0xBF;
  }
  return {continuations + 1, true};
}

// Length of the longest valid UTF-8 prefix of `text`; ASCII eight bytes at
// a time, since most training text is mostly ASCII.
size_t valid_utf8_prefix(std::string_view text) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = begin + text.size();
  const auto* p = begin;
  while (p < end) {
    if (end - p >= 8) {
      uint64_t word = 0;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080) == 0) {
        p += 8;
        continue;
      }
    }
    const Utf8Step step = utf8_step(p, end);
    if (!step.valid) break;
    p += step.length;
  }
  return static_cast<size_t>(p - begin);
}

// ---------------------------------------------------------------------------
// Lone surrogate escapes

std::optional<uint32_t> hex_escape_value(std::string_view json, size_t digits_at) {
  if (digits_at + 4 > json.size()) return std::nullopt;
  uint32_t value = 0;
  const char* const first = json.data() + digits_at;
  const auto [end, error] = std::from_chars(first, first + 4, value, 16);
  if (error != std::errc() || end != first + 4) return std::nullopt;
  return value;
}

// Offset of the backslash of the next \uXXXX escape at or after `from`
// that encodes a surrogate not part of a high-low pair, or npos.
// Backslashes occur only inside JSON strings, so no string tracking is
// needed; "\\" is skipped as a pair so "\\uD800" is not an escape.
size_t find_lone_surrogate_escape(std::string_view json, size_t from) {
  for (size_t i = json.find('\\', from); i != std::string_view::npos; i = json.find('\\', i)) {
    if (i + 1 == json.size() || json[i + 1] != 'u') {
      i += 2;
      continue;
    }
    const std::optional<uint32_t> code = hex_escape_value(json, i + 2);
    if (!code || *code < 0xD800 || *code > 0xDFFF) {
      i += 2;
      continue;
    }
    if (*code <= 0xDBFF && json.substr(i + 6, 2) == "\\u") {
      const std::optional<uint32_t> low = hex_escape_value(json, i + 8);
      if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
        i += 12;
        continue;
      }
    }
    return i;
  }
  return std::string_view::npos;
}

// ---------------------------------------------------------------------------
// JSON parsing

// Builds a record's tree from nlohmann's SAX events in time linear in its
// size. nlohmann's own builder finds each new key by scanning the object
// (ordered_json keeps keys in a vector), which made a record with 200,000
// keys take half a minute; here an object past kIndexedObjectKeys keys gets
// a hash index of its keys. A repeated key keeps its first place and takes
// the last value, as Python's json.loads does. Nesting is capped at
// kMaxJsonDepth, as parse_json_document() caps it, so that code walking
// samples recursively (dump(), chat templates) never meets a million nested
// brackets.
class RecordTreeBuilder final : public nlohmann::json_sax<Json> {
 public:
  explicit RecordTreeBuilder(Json* root) : root_(root) {}

  bool null() override { return put(nullptr); }
  bool boolean(bool value) override { return put(value); }
  bool number_integer(number_integer_t value) override { return put(value); }
  bool number_unsigned(number_unsigned_t value) override { return put(value); }
  bool number_float(number_float_t value, const string_t& /*text*/) override { return put(value); }
  bool string(string_t& value) override { return put(std::move(value)); }
  bool binary(binary_t& value) override { return put(Json::binary(std::move(value))); }
  bool start_object(std::size_t /*size*/) override { return open(Json::object()); }
  bool start_array(std::size_t /*size*/) override { return open(Json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& key) override;
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*error*/) override {
    return false;
  }

 private:
  // Objects up to this size are searched key by key, which is faster than
  // hashing for the few keys records usually have.
  static constexpr size_t kIndexedObjectKeys = 32;

  struct Frame {
    Json* container;
    std::unordered_map<std::string, size_t> key_positions;  // objects past kIndexedObjectKeys
  };

  // Where the next value goes: the root, the slot of the key just read, or
  // the end of the innermost array.
  Json* slot() {
    if (frames_.empty()) return root_;
    Json& container = *frames_.back().container;
    if (container.is_array()) {
      container.push_back(nullptr);
      return &container.back();
    }
    return pending_;
  }
  bool put(Json value) {
    *slot() = std::move(value);
    return true;
  }
  bool open(Json container) {
    if (frames_.size() >= kMaxJsonDepth) return false;
    Json* at = slot();
    *at = std::move(container);
    frames_.push_back(Frame{at, {}});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return true;
  }

  Json* root_;
  std::vector<Frame> frames_;
  Json* pending_ = nullptr;
};

bool RecordTreeBuilder::key(string_t& key) {
  Frame& frame = frames_.back();
  // The object's entries as the vector they are: ordered_map's own
  // operator[] and emplace search by key.
  auto& entries = static_cast<Json::object_t::Container&>(frame.container->get_ref<Json::object_t&>());
  std::optional<size_t> found;
  if (!frame.key_positions.empty()) {
    const auto it = frame.key_positions.find(key);
    if (it != frame.key_positions.end()) found = it->second;
  } else {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].first == key) {
        found = i;
        break;
      }
    }
  }
  if (found) {
    pending_ = &entries[*found].second;
    return true;
  }
  if (entries.size() == kIndexedObjectKeys) {
    for (size_t i = 0; i < entries.size(); ++i) frame.key_positions.emplace(entries[i].first, i);
  }
  if (!frame.key_positions.empty()) frame.key_positions.emplace(key, entries.size());
  entries.emplace_back(std::move(key), nullptr);
  pending_ = &entries.back().second;
  return true;
}

// Where a record is, for messages.
struct RecordContext {
  std::string_view file;
  const RawRecord& record;
  std::string_view json;  // the record's text after UTF-8 repair
  std::string where() const { return std::string(file) + ":" + std::to_string(record.line); }
};

// The syntax error in `json`, which RecordTreeBuilder refused, in
// parse_json_document()'s words. It writes "ORIGIN:LINE:COL: what"; with an
// empty origin the position is read back and moved to the record's place in
// the file.
Status syntax_error(const RecordContext& context) {
  Result<JsonDoc> doc = parse_json_document(context.json, "", context.json.size());
  if (doc.ok()) return Status::ParseError(context.where() + ": invalid JSON");
  auto unpositioned = [&] { return Status::ParseError(context.where() + ": " + doc.status().message()); };
  std::string_view message = doc.status().message();
  uint64_t line = 0;
  uint64_t column = 0;
  const char* const end = message.data() + message.size();
  const auto [line_end, line_error] =
      std::from_chars(message.data() + std::min<size_t>(1, message.size()), end, line);
  if (!message.starts_with(':') || line_error != std::errc() || line_end == end ||
      *line_end != ':') {
    return unpositioned();
  }
  const auto [column_end, column_error] = std::from_chars(line_end + 1, end, column);
  if (column_error != std::errc()) return unpositioned();
  message.remove_prefix(static_cast<size_t>(column_end - message.data()));
  const uint64_t file_column = line == 1 ? context.record.column + column - 1 : column;
  return Status::ParseError(std::string(context.file) + ":" +
                            std::to_string(context.record.line + line - 1) + ":" +
                            std::to_string(file_column) + std::string(message));
}

// ---------------------------------------------------------------------------
// Schemas

Status field_error(const RecordContext& context, std::string_view field, std::string_view message) {
  return Status::ParseError(context.where() + ": field '" + printable_text(field) + "': " +
                            std::string(message));
}

Status type_error(const RecordContext& context, std::string_view field, std::string_view expected,
                  const Json& got) {
  return field_error(context, field,
                     "expected " + std::string(expected) + ", got " + got.type_name());
}

// "found keys: 'question', 'answer'" in the order the record writes them.
std::string found_keys(const Json& record) {
  if (!record.is_object() || record.empty()) return "found no keys";
  std::string out = "found keys: ";
  size_t listed = 0;
  for (const auto& item : record.items()) {
    if (listed == kMaxListedKeys) {
      out += ", ...";
      break;
    }
    if (listed++ > 0) out += ", ";
    out += "'" + printable_text(item.key()) + "'";
  }
  return out;
}

// The member `key` of `object`, or nullptr when it is absent or null.
Json* member(Json& object, std::string_view key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

Result<Json*> required_member(Json& object, std::string_view key, const RecordContext& context) {
  Json* value = member(object, key);
  if (value == nullptr) {
    return field_error(context, key, "required field is missing (" + found_keys(object) + ")");
  }
  return value;
}

Result<std::string> take_string(Json& value, std::string_view field, const RecordContext& context) {
  if (!value.is_string()) return type_error(context, field, "a string", value);
  return std::move(value.get_ref<std::string&>());
}

// Checks the shape chat templates rely on: objects with a string "role"
// and a "content" that is a string, an array of part objects, or null.
Status check_messages(const Json& messages, const std::string& field, const RecordContext& context) {
  if (!messages.is_array()) return type_error(context, field, "an array of messages", messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& message = messages[i];
    const std::string at = field + "[" + std::to_string(i) + "]";
    if (!message.is_object()) return type_error(context, at, "a message object", message);
    const auto role = message.find("role");
    if (role == message.end()) return field_error(context, at + ".role", "required field is missing");
    if (!role->is_string()) return type_error(context, at + ".role", "a string", *role);
    const auto content = message.find("content");
    if (content == message.end() || content->is_string() || content->is_null()) continue;
    if (!content->is_array()) {
      return type_error(context, at + ".content", "a string, an array of parts or null", *content);
    }
    for (size_t k = 0; k < content->size(); ++k) {
      if (!(*content)[k].is_object()) {
        return type_error(context, at + ".content[" + std::to_string(k) + "]", "an object",
                          (*content)[k]);
      }
    }
  }
  return Status::Ok();
}

// ShareGPT speaker names and the roles chat templates use for them.
constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kShareGptRoles = {{
    {"human", "user"},
    {"user", "user"},
    {"gpt", "assistant"},
    {"assistant", "assistant"},
    {"model", "assistant"},
    {"chatgpt", "assistant"},
    {"bing", "assistant"},
    {"bard", "assistant"},
    {"function_call", "assistant"},
    {"system", "system"},
    {"tool", "tool"},
    {"function", "tool"},
    {"observation", "tool"},
    {"function_response", "tool"},
}};

Result<std::string_view> sharegpt_role(const std::string& from, const std::string& field,
                                       const RecordContext& context) {
  const std::string speaker = ascii_lower(from);
  for (const auto& [name, role] : kShareGptRoles) {
    if (speaker == name) return role;
  }
  std::string known;
  for (const auto& [name, role] : kShareGptRoles) {
    known += known.empty() ? "" : ", ";
    known += name;
  }
  return field_error(context, field,
                     "unknown speaker '" + printable_text(from) + "'; expected one of " + known);
}

// ShareGPT turns {"from", "value"} as messages {"role", "content"}.
Result<Json> sharegpt_messages(Json& turns, const std::string& field, const RecordContext& context) {
  if (!turns.is_array()) return type_error(context, field, "an array of {from, value} turns", turns);
  Json messages = Json::array();
  for (size_t i = 0; i < turns.size(); ++i) {
    Json& turn = turns[i];
    const std::string at = field + "[" + std::to_string(i) + "]";
    if (!turn.is_object()) return type_error(context, at, "a {from, value} object", turn);
    const Json* from = member(turn, "from");
    if (from == nullptr) return field_error(context, at + ".from", "required field is missing");
    if (!from->is_string()) return type_error(context, at + ".from", "a string", *from);
    FM_ASSIGN_OR_RETURN(const std::string_view role,
                        sharegpt_role(from->get_ref<const std::string&>(), at + ".from", context));
    Json* value = member(turn, "value");
    if (value == nullptr) return field_error(context, at + ".value", "required field is missing");
    FM_ASSIGN_OR_RETURN(std::string content, take_string(*value, at + ".value", context));
    Json message = Json::object();
    message["role"] = std::string(role);
    message["content"] = std::move(content);
    messages.push_back(std::move(message));
  }
  return messages;
}

Result<Sample> text_sample(Json& value, std::string_view field, const RecordContext& context) {
  Sample sample;
  FM_ASSIGN_OR_RETURN(sample.text, take_string(value, field, context));
  return sample;
}

Result<Sample> chat_sample(Json& messages, const std::string& field, const RecordContext& context) {
  FM_RETURN_IF_ERROR(check_messages(messages, field, context));
  Sample sample;
  sample.kind = SampleKind::kChat;
  sample.messages = std::move(messages);
  return sample;
}

Result<Sample> sharegpt_sample(Json& turns, const std::string& field, const RecordContext& context) {
  Sample sample;
  sample.kind = SampleKind::kChat;
  FM_ASSIGN_OR_RETURN(sample.messages, sharegpt_messages(turns, field, context));
  return sample;
}

// Two strings, or two conversations (TRL's conversational prompt/completion).
Result<Sample> prompt_completion_sample(Json& prompt, Json& completion,
                                        const RecordContext& context) {
  Sample sample;
  if (prompt.is_string() && completion.is_string()) {
    sample.kind = SampleKind::kPromptCompletion;
    sample.prompt = std::move(prompt.get_ref<std::string&>());
    sample.completion = std::move(completion.get_ref<std::string&>());
    return sample;
  }
  if (prompt.is_array() && completion.is_array()) {
    FM_RETURN_IF_ERROR(check_messages(prompt, "prompt", context));
    FM_RETURN_IF_ERROR(check_messages(completion, "completion", context));
    sample.kind = SampleKind::kChat;
    sample.messages = std::move(prompt);
    for (Json& message : completion) sample.messages.push_back(std::move(message));
    return sample;
  }
  return Status::ParseError(context.where() +
                            ": fields 'prompt' and 'completion': expected two strings or two "
                            "arrays of messages, got " +
                            prompt.type_name() + " and " + completion.type_name());
}

Result<Sample> instruction_sample(Json& instruction, Json& output, Json* input,
                                  const RecordContext& context) {
  Sample sample;
  sample.kind = SampleKind::kInstruction;
  FM_ASSIGN_OR_RETURN(sample.instruction, take_string(instruction, "instruction", context));
  if (input != nullptr) {
    FM_ASSIGN_OR_RETURN(sample.input, take_string(*input, "input", context));
  }
  FM_ASSIGN_OR_RETURN(sample.output, take_string(output, "output", context));
  return sample;
}

// A conversation in --field: ShareGPT turns when the first turn has "from"
// and no "role", messages otherwise.
bool looks_like_sharegpt(const Json& turns) {
  return turns.is_array() && !turns.empty() && turns[0].is_object() && turns[0].contains("from") &&
         !turns[0].contains("role");
}

Result<Sample> sample_from_field(Json& root, const SampleOptions& options,
                                 const RecordContext& context) {
  const std::string& field = options.field;
  FM_ASSIGN_OR_RETURN(Json * value, required_member(root, field, context));
  switch (options.schema) {
    case RecordSchema::kText: return text_sample(*value, field, context);
    case RecordSchema::kMessages: return chat_sample(*value, field, context);
    case RecordSchema::kShareGpt: return sharegpt_sample(*value, field, context);
    case RecordSchema::kAuto:
      if (value->is_string()) return text_sample(*value, field, context);
      if (looks_like_sharegpt(*value)) return sharegpt_sample(*value, field, context);
      if (value->is_array()) return chat_sample(*value, field, context);
      return type_error(context, field, "a string or an array of messages", *value);
    case RecordSchema::kPromptCompletion:
    case RecordSchema::kAlpaca: break;
  }
  return Status::InvalidArgument("option \"field\" cannot be used with the prompt-completion or alpaca "
                                 "schema, which read fixed fields");
}

Result<Sample> sample_from_fields(Json& root, const SampleOptions& options,
                                  const RecordContext& context) {
  if (!root.is_object()) {
    return Status::ParseError(context.where() + ": expected a JSON object, got " +
                              root.type_name());
  }
  if (!options.field.empty()) return sample_from_field(root, options, context);
  switch (options.schema) {
    case RecordSchema::kText: {
      FM_ASSIGN_OR_RETURN(Json * text, required_member(root, "text", context));
      return text_sample(*text, "text", context);
    }
    case RecordSchema::kMessages: {
      FM_ASSIGN_OR_RETURN(Json * messages, required_member(root, "messages", context));
      return chat_sample(*messages, "messages", context);
    }
    case RecordSchema::kShareGpt: {
      FM_ASSIGN_OR_RETURN(Json * turns, required_member(root, "conversations", context));
      return sharegpt_sample(*turns, "conversations", context);
    }
    case RecordSchema::kPromptCompletion: {
      FM_ASSIGN_OR_RETURN(Json * prompt, required_member(root, "prompt", context));
      FM_ASSIGN_OR_RETURN(Json * completion, required_member(root, "completion", context));
      return prompt_completion_sample(*prompt, *completion, context);
    }
    case RecordSchema::kAlpaca: {
      FM_ASSIGN_OR_RETURN(Json * instruction, required_member(root, "instruction", context));
      FM_ASSIGN_OR_RETURN(Json * output, required_member(root, "output", context));
      return instruction_sample(*instruction, *output, member(root, "input"), context);
    }
    case RecordSchema::kAuto: break;
  }
  if (Json* messages = member(root, "messages")) return chat_sample(*messages, "messages", context);
  if (Json* turns = member(root, "conversations")) {
    return sharegpt_sample(*turns, "conversations", context);
  }
  Json* prompt = member(root, "prompt");
  Json* completion = member(root, "completion");
  if (prompt != nullptr && completion != nullptr) {
    return prompt_completion_sample(*prompt, *completion, context);
  }
  Json* instruction = member(root, "instruction");
  Json* output = member(root, "output");
  if (instruction != nullptr && output != nullptr) {
    return instruction_sample(*instruction, *output, member(root, "input"), context);
  }
  if (Json* text = member(root, "text")) return text_sample(*text, "text", context);
  return Status::ParseError(context.where() +
                            ": no training text: expected one of 'text', 'messages', "
                            "'conversations', 'prompt'+'completion', 'instruction'+'output' (" +
                            found_keys(root) + "); use option \"field\" to name it");
}

// A chat record's "tools" (function schemas) go to the template with the
// messages, as TRL passes them to apply_chat_template; they are text the
// model trains on.
Result<Sample> sample_from_object(Json& root, const SampleOptions& options,
                                  const RecordContext& context) {
  FM_ASSIGN_OR_RETURN(Sample sample, sample_from_fields(root, options, context));
  if (sample.kind == SampleKind::kChat) {
    if (Json* tools = member(root, "tools")) sample.tools = std::move(*tools);
  }
  return sample;
}

Result<Sample> json_sample(const RawRecord& record, const SampleOptions& options,
                           std::string_view file) {
  std::string changed;  // the record's text, when it had to be changed
  uint64_t replaced = repair_utf8(record.text, &changed);
  std::string_view json = replaced > 0 ? std::string_view(changed) : std::string_view(record.text);
  for (size_t at = find_lone_surrogate_escape(json, 0); at != std::string_view::npos;
       at = find_lone_surrogate_escape(json, at + 6)) {
    if (json.data() != changed.data()) changed.assign(json);
    changed.replace(at + 2, 4, "FFFD");  // same length: later offsets stay valid
    json = changed;
    ++replaced;
  }
  const RecordContext context{file, record, json};
  try {
    Json root;
    RecordTreeBuilder builder(&root);
    if (!Json::sax_parse(json.data(), json.data() + json.size(), &builder)) {
      return syntax_error(context);
    }
    FM_ASSIGN_OR_RETURN(Sample sample, sample_from_object(root, options, context));
    sample.invalid_utf8 = replaced;
    return sample;
  } catch (const std::bad_alloc&) {
    return Status::IoError(context.where() + ": out of memory parsing the record");
  }
}

}  // namespace

uint64_t repair_utf8(std::string_view text, std::string* repaired) {
  size_t valid = valid_utf8_prefix(text);
  if (valid == text.size()) return 0;
  repaired->clear();
  repaired->reserve(text.size() + text.size() / 8);
  uint64_t replaced = 0;
  while (true) {
    repaired->append(text.substr(0, valid));
    text.remove_prefix(valid);
    if (text.empty()) return replaced;
    const auto* const p = reinterpret_cast<const unsigned char*>(text.data());
    text.remove_prefix(utf8_step(p, p + text.size()).length);  // invalid: valid_utf8_prefix stopped here
    repaired->append(kReplacementCharacter);
    ++replaced;
    valid = valid_utf8_prefix(text);
  }
}

Result<Sample> parse_sample(const RawRecord& record, DatasetFormat format,
                            const SampleOptions& options, std::string_view file) {
  switch (format) {
    case DatasetFormat::kJsonLines:
    case DatasetFormat::kJsonArray:
    case DatasetFormat::kParquet:  // rows arrive as JSON object text
    case DatasetFormat::kArrow: return json_sample(record, options, file);
    case DatasetFormat::kText: break;
    case DatasetFormat::kAuto:
      return Status::InvalidArgument("parse_sample: the format must be resolved, not kAuto");
  }
  if ((options.schema != RecordSchema::kAuto && options.schema != RecordSchema::kText) ||
      !options.field.empty()) {
    return Status::InvalidArgument(std::string(file) +
                                   ": plain text has no fields; option \"field\" and record schemas "
                                   "other than text need JSON records");
  }
  Sample sample;
  sample.invalid_utf8 = repair_utf8(record.text, &sample.text);
  if (sample.invalid_utf8 == 0) sample.text = record.text;
  return sample;
}

}  // namespace flopsmeter
