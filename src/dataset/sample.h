// Sample: one dataset record read as a training sample.
//
// parse_sample() turns a RawRecord into what a trainer would feed its
// tokenizer or chat template. For JSON records the schema is recognised
// from the members present, in this order:
//
//   {"messages": [{"role": "user", "content": "Hi"}, ...]}      kChat
//   {"conversations": [{"from": "human", "value": "Hi"}, ...]}  kChat (ShareGPT, converted)
//   {"prompt": "...", "completion": "..."}                      kPromptCompletion
//   {"prompt": [messages], "completion": [messages]}            kChat (merged)
//   {"instruction": "...", "input": "...", "output": "..."}     kInstruction (Alpaca)
//   {"text": "..."}                                             kText
//
// A member whose value is null counts as absent. SampleOptions can force a
// schema, or name the member holding the text or the messages (--field).
//
// Invalid UTF-8 never fails a record: each maximal invalid subpart becomes
// U+FFFD (as Node's Buffer.toString and Rust's String::from_utf8_lossy do),
// and so does a JSON escape of a lone surrogate such as "\uD800" (as
// Node's JSON.parse followed by UTF-8 encoding does). Sample::invalid_utf8
// counts the replacements, over the whole record.
//
// Errors name the file and the record's line:
//
//   data.jsonl:17: field 'messages[2].role': expected a string, got number
//   data.jsonl:17:42: unexpected end of input (truncated file?); expected '}'
//
// parse_sample() is pure (no I/O) and may run on many threads at once.
#ifndef FLOPSMETER_DATASET_SAMPLE_H_
#define FLOPSMETER_DATASET_SAMPLE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dataset/record_reader.h"
#include "flopsmeter/dataset.h"  // RecordSchema
#include "flopsmeter/status.h"

namespace flopsmeter {

enum class SampleKind { kText, kChat, kPromptCompletion, kInstruction };

struct Sample {
  SampleKind kind = SampleKind::kText;
  // kText.
  std::string text;
  // kChat: an array of message objects {"role": string, "content": string,
  // array of parts or null, ...}, other members kept as written. ShareGPT
  // turns become {"role", "content"}; conversational prompt/completion
  // gives the prompt's messages followed by the completion's.
  nlohmann::ordered_json messages;  // keys in record order, as templates (tojson, items) see them
  // kChat: the record's "tools" as given (null when absent), for the template.
  nlohmann::ordered_json tools;
  // kPromptCompletion (plain strings).
  std::string prompt, completion;
  // kInstruction (Alpaca); `input` is "" when absent.
  std::string instruction, input, output;
  // Invalid UTF-8 sequences and lone surrogate escapes replaced by U+FFFD.
  uint64_t invalid_utf8 = 0;
};

struct SampleOptions {
  // kAuto recognises the schema per record (see above).
  RecordSchema schema = RecordSchema::kAuto;
  // --field: the member holding the text (a string) or the conversation
  // (an array of messages, or of ShareGPT turns). With kAuto its type
  // decides; with kText, kMessages or kShareGpt it must be that kind. Not
  // allowed with kPromptCompletion or kAlpaca, which read fixed members.
  std::string field;
};

// The sample in `record`, which came from a file of `format` (resolved,
// not kAuto). Plain-text records are kText samples whatever the options,
// so a schema other than kAuto/kText or a field with plain text is an
// InvalidArgument. `file` is used only in messages. JSON that does not
// parse, or does not fit the schema, is a ParseError.
Result<Sample> parse_sample(const RawRecord& record, DatasetFormat format,
                            const SampleOptions& options, std::string_view file);

// When `text` is not valid UTF-8, writes it to `*repaired` with each
// maximal invalid subpart replaced by U+FFFD and returns how many were
// replaced; returns 0, leaving `*repaired` alone, when `text` is valid.
uint64_t repair_utf8(std::string_view text, std::string* repaired);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_SAMPLE_H_
