// Inputs that broke a property of fuzz/meter_fuzz.cc (the run journal and
// the meter options a journal's begin line holds), kept as tests once fixed.
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/sha256.h"
#include "api/journal.h"
#include "api/meter_options.h"
#include "core/json_doc.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using testing::TempDir;

// `content` completed into a journal line chained after `prev` (the hash of
// the line before, "" for the first), as anyone who can write the file can
// compute it: the chain is tamper evidence, not a signature.
std::string chained_line(const std::string& prev, uint64_t seq, const std::string& content, std::string* hash) {
  const std::string body = "{\"prev\":\"" + prev + "\",\"seq\":" + std::to_string(seq) + "," + content;
  *hash = sha256_hex(body);
  return body + ",\"sha256\":\"" + *hash + "\"}\n";
}

bool has_control_bytes(const std::string& text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  return false;
}

// meter_fuzz crash-39d5468f: the writer was handed a line copied from another
// journal, "seq" and "prev" included, and let them replace its own, so the
// journal it wrote could not be read back.
TEST(JournalFuzzRegression, TheWriterKeepsItsOwnSeqAndPrevOverTheLines) {
  TempDir dir;
  const std::string path = dir.path() + "/" + journal_file_name(0);
  const auto copied = nlohmann::json::parse(
      R"({"checkpoint":"ckpt-10","kind":"checkpoint","prev":"35be21547a79a9ff63a75ab1bd9257b921d4d9f5b3a99d5a5c825c222fc0c86c",)"
      R"("seq":2,"step":10,"tokens":800,"sha256":"a3dcca0c5c101bc3b90b27120f5d6464e19e90e572a7d6713c12778e407b7441"})");
  {
    auto writer = JournalWriter::OpenLocked(path);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    ASSERT_TRUE(writer->ContinueAfter(JournalContents{}).ok());
    ASSERT_TRUE(writer->append({{"kind", "begin"}}).ok());
    ASSERT_TRUE(writer->append(copied).ok());
  }
  auto journal = read_journal(path);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  ASSERT_EQ(journal->lines.size(), 2u);
  EXPECT_FALSE(journal->torn_tail);
  EXPECT_EQ(journal->lines[1]["seq"], 1);
  EXPECT_NE(journal->lines[1]["prev"], copied["prev"]);
  EXPECT_EQ(journal->lines[1]["step"], 10);
}

// Found by probing `flopsmeter report` with a journal whose begin line held
// options nested 300,000 deep under valid hashes: read_journal accepted it,
// and the report overflowed the stack copying the line. meter_fuzz's chained
// mode checks the depth of every accepted line since.
TEST(JournalFuzzRegression, ALineNestedDeeperThanJsonDocumentsMayBeIsRefused) {
  TempDir dir;
  const std::string deep = std::string(300000, '[') + std::string(300000, ']');
  std::string first_hash, second_hash;
  const std::string first = chained_line("", 0, "\"kind\":\"begin\",\"options\":{\"x\":" + deep + "}", &first_hash);
  const std::string second = chained_line(first_hash, 1, "\"kind\":\"end\"", &second_hash);

  auto refused = read_journal(dir.file("journal-rank0.jsonl", first + second));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kParseError);
  EXPECT_NE(refused.status().message().find("journal-rank0.jsonl:1: nested deeper than"), std::string::npos)
      << refused.status().message();

  // As the last line it may be a torn write, and is dropped like one.
  auto dropped = read_journal(dir.file("journal-rank1.jsonl", first));
  ASSERT_TRUE(dropped.ok()) << dropped.status().ToString();
  EXPECT_TRUE(dropped->lines.empty());
  EXPECT_TRUE(dropped->torn_tail);
}

TEST(JournalFuzzRegression, NestingUpToTheJsonDocumentLimitIsRead) {
  TempDir dir;
  // The line's own object is one level; the value takes the rest.
  const size_t inner = kMaxJsonDepth - 1;
  std::string hash;
  const std::string line =
      chained_line("", 0, "\"v\":" + std::string(inner, '[') + std::string(inner, ']'), &hash);
  auto journal = read_journal(dir.file("journal-rank0.jsonl", line));
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  ASSERT_EQ(journal->lines.size(), 1u);
  EXPECT_FALSE(journal->torn_tail);
}

// meter_fuzz seed options_control_bytes: a value quoted in a message carried
// an ESC byte into it (a terminal escape from whoever wrote the options).
TEST(JournalOptionsFuzzRegression, MessagesEscapeControlBytesFromTheOptions) {
  for (const char* json : {R"({"run": "r", "n-total": 5, "attention": "\u001b[31mred"})",
                           R"({"run": "r", "n-total": "\u001b[2J"})", R"({"\u0007bell": 1})",
                           R"({"run": "r", "n-total": 5, "job-pids": ["1\n2"]})"}) {
    auto options = meter_options_from_json(json, "begin options");
    ASSERT_FALSE(options.ok()) << json;
    EXPECT_EQ(options.status().message().rfind("begin options: ", 0), 0u) << options.status().message();
    EXPECT_FALSE(has_control_bytes(options.status().message())) << options.status().message();
    EXPECT_NE(options.status().message().find("\\x"), std::string::npos) << options.status().message();
  }
}

// meter_fuzz's round-trip property: an empty "model-name" became the model's
// name only after the begin line was read back, so a report named the model
// differently from the meter that wrote the journal.
TEST(JournalOptionsFuzzRegression, AnEmptyModelNameReadsBackFromTheBeginLineUnchanged) {
  auto options = meter_options_from_json(R"({"run": "r", "model": "gpt2", "model-name": ""})", "options");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->model_name, "gpt2");
  const std::string begin_line_options = meter_options_json(*options).dump();
  auto back = meter_options_from_json(begin_line_options, "begin options");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(meter_options_json(*back).dump(), begin_line_options);
}

// Found reviewing what the round trip cannot see: a layer index past 2^64
// was cut to its low 64 bits ("18446744073709551617" became layer 1).
TEST(JournalOptionsFuzzRegression, ALoraLayerPastUint64IsRefusedNotTruncated) {
  auto options = meter_options_from_json(
      R"({"run": "r", "n-total": 5, "method": "lora", "lora-layers": "0,18446744073709551617"})", "options");
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("option \"lora-layers\""), std::string::npos) << options.status().message();
  EXPECT_NE(options.status().message().find("too large"), std::string::npos) << options.status().message();
}

}  // namespace
}  // namespace flopsmeter
