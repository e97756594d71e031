// libFuzzer harness for the text side: tokenizer.json files, text given to
// tokenizers, dataset records and chat templates, all untrusted input.
//
// The first byte picks what the rest of the input is:
//   0: a tokenizer.json                  -> loads, or an error naming the file
//   1: text (any bytes, repaired first)  -> encodes; byte-level counts hold
//   2: a dataset record (JSON and text)  -> a sample, or an error naming the file
//   3: a chat template                   -> parses and renders, or an error
// Beyond crashes, hangs and sanitizer reports, the properties checked are
// listed at each case.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataset/sample.h"
#include "flopsmeter/tokenizer.h"
#include "template/chat_template.h"
#include "tokenizer/pre_tokenizer.h"

namespace {

using Json = nlohmann::json;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckMessage(const flopsmeter::Status& status, std::string_view origin) {
  Check(!status.ok());
  Check(status.message().compare(0, origin.size(), origin) == 0);
}

// A byte-level BPE with Llama 3's pattern, every byte in the vocabulary and
// no merges: every input byte must become exactly one id.
const flopsmeter::Tokenizer& ByteLevelTokenizer() {
  static const flopsmeter::Tokenizer tokenizer = [] {
    Json vocab = Json::object();
    const auto& alphabet = flopsmeter::byte_level_alphabet();
    for (size_t b = 0; b < 256; ++b) vocab[alphabet[b]] = b;
    Json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", Json::array()}, {"ignore_merges", true}}},
              {"pre_tokenizer",
               {{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"},
                   {"pattern",
                    {{"Regex",
                      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
                   {"behavior", "Isolated"},
                   {"invert", false}},
                  {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}}};
    return *flopsmeter::Tokenizer::FromText(j.dump(), "", "byte_level.json");
  }();
  return tokenizer;
}

// A SentencePiece-style BPE (Metaspace, byte fallback, added tokens with
// strip flags, NFKC): exercises the other half of the pipeline.
const flopsmeter::Tokenizer& MetaspaceTokenizer() {
  static const flopsmeter::Tokenizer tokenizer = [] {
    Json vocab = {{"<unk>", 0}, {"\u2581", 1}, {"a", 2}, {"\u2581a", 3}, {"<s>", 4}};
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      vocab[name] = 5 + b;
    }
    Json j = {{"normalizer", {{"type", "NFKC"}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"\u2581 a"}}, {"byte_fallback", true},
                         {"unk_token", "<unk>"}, {"fuse_unk", true}}},
              {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}}},
              {"added_tokens", {{{"id", 4}, {"content", "<s>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}},
                                {{"id", 2}, {"content", "aa"}, {"special", false}, {"single_word", true}}}}};
    return *flopsmeter::Tokenizer::FromText(j.dump(), "", "metaspace.json");
  }();
  return tokenizer;
}

void FuzzTokenizerJson(std::string_view text) {
  auto tokenizer = flopsmeter::Tokenizer::FromText(text, "", "fuzz.json");
  if (!tokenizer.ok()) {
    CheckMessage(tokenizer.status(), "fuzz.json");
    return;
  }
  std::vector<uint32_t> ids;
  (void)tokenizer->encode("Hello <s> w\xC3\xB6rld 12345  \n\t end", true, &ids);
}

void FuzzEncode(std::string_view bytes) {
  std::string repaired;
  const std::string_view text = flopsmeter::repair_utf8(bytes, &repaired) > 0 ? repaired : bytes;
  std::vector<uint32_t> first, second;
  Check(ByteLevelTokenizer().encode(text, true, &first).ok());
  Check(first.size() == text.size());  // one id per byte, no merges
  Check(ByteLevelTokenizer().encode(text, true, &second).ok());
  Check(first == second);
  std::vector<uint32_t> meta;
  Check(MetaspaceTokenizer().encode(text, true, &meta).ok());
  Check(text.empty() || !meta.empty() || text.find_first_not_of(' ') == std::string_view::npos ||
        text.find("<s>") != std::string_view::npos);
}

void FuzzRecord(std::string_view text) {
  flopsmeter::RawRecord record{std::string(text), 7, 1};
  for (auto format : {flopsmeter::DatasetFormat::kJsonLines, flopsmeter::DatasetFormat::kText}) {
    auto sample = flopsmeter::parse_sample(record, format, {}, "fuzz.jsonl");
    if (!sample.ok()) CheckMessage(sample.status(), "fuzz.jsonl:");
  }
}

void FuzzTemplate(std::string_view source) {
  auto parsed = flopsmeter::ChatTemplate::Parse(source, "fuzz.jinja");
  if (!parsed.ok()) {
    CheckMessage(parsed.status(), "fuzz.jinja");
    return;
  }
  const Json context = {{"messages", {{{"role", "system"}, {"content", "S"}},
                                      {{"role", "user"}, {"content", "Hi"}},
                                      {{"role", "assistant"}, {"content", "Yo"}}}},
                        {"add_generation_prompt", true},
                        {"bos_token", "<s>"},
                        {"eos_token", "</s>"}};
  auto rendered = parsed->Render(context);
  if (!rendered.ok()) CheckMessage(rendered.status(), "fuzz.jinja");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: FuzzTokenizerJson(rest); break;
    case 1: FuzzEncode(rest); break;
    case 2: FuzzRecord(rest); break;
    default: FuzzTemplate(rest); break;
  }
  return 0;
}
