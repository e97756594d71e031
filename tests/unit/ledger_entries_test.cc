// The ledger's entry header reader (src/api/ledger_entries.h), which verify
// runs on every entry: its plain-text fast path must say exactly what
// parsing the tail with nlohmann::json (the reader before it, kept here as
// the reference) says, for canonical entries of every shape and for text
// mutated around the tail byte by byte.
#include "api/ledger_entries.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/canonical_json.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// The reader as it was: the tail parsed as JSON, else the whole entry.
Result<EntryHeader> reference_header(const StoredEntry& stored) {
  static constexpr std::pair<EntryKind, const char*> kKinds[] = {
      {EntryKind::kKey, "key"},           {EntryKind::kModel, "model"},           {EntryKind::kRun, "run"},
      {EntryKind::kEstimate, "estimate"}, {EntryKind::kAnnotation, "annotation"}, {EntryKind::kExport, "export"}};
  const std::string& text = stored.entry;
  const size_t at = text.rfind(",\"key_id\":\"");
  if (at != std::string::npos && text.rfind("{\"body\":", 0) == 0) {
    const Json tail = Json::parse("{" + text.substr(at + 1), nullptr, false);
    const auto text_of = [&tail](const char* key) -> const Json* {
      if (!tail.is_object()) return nullptr;
      auto it = tail.find(key);
      return it != tail.end() && it->is_string() ? &*it : nullptr;
    };
    const Json *kind = text_of("kind"), *key_id = text_of("key_id"), *subject = text_of("subject"),
               *schema = text_of("schema");
    if (tail.is_object() && tail.size() == 6 && kind && key_id && subject && schema &&
        *schema == kLedgerEntrySchema) {
      for (const auto& [k, name] : kKinds) {
        if (*kind == name) return EntryHeader{k, key_id->get<std::string>(), subject->get<std::string>()};
      }
    }
  }
  FM_ASSIGN_OR_RETURN(ParsedEntry e, parse_entry(stored));
  return EntryHeader{e.kind, std::move(e.key_id), std::move(e.subject)};
}

void expect_same(const std::string& text, const std::string& what) {
  const StoredEntry stored{7, text, {}, "", ""};
  const Result<EntryHeader> got = parse_entry_header(stored);
  const Result<EntryHeader> want = reference_header(stored);
  ASSERT_EQ(got.ok(), want.ok()) << what << "\n" << text << "\n"
                                 << (got.ok() ? want.status().ToString() : got.status().ToString());
  if (got.ok()) {
    EXPECT_EQ(got->kind, want->kind) << what << "\n" << text;
    EXPECT_EQ(got->key_id, want->key_id) << what << "\n" << text;
    EXPECT_EQ(got->subject, want->subject) << what << "\n" << text;
  } else {
    EXPECT_EQ(got.status().ToString(), want.status().ToString()) << what << "\n" << text;
  }
}

std::string canonical_entry(const Json& supersedes, const std::string& kind, const std::string& subject,
                            const std::string& schema = kLedgerEntrySchema, const std::string& time = "2026-01-02T03:04:05Z",
                            const std::string& key_id = "ed25519:0123456789abcdef0123456789abcdef") {
  const Json entry = {{"schema", schema},   {"kind", kind},
                      {"time", time},       {"key_id", key_id},
                      {"subject", subject}, {"supersedes", supersedes},
                      {"body", {{"about", 3}, {"text", "a note, with \"quotes\" and ,\"key_id\":\"x\" inside"}}}};
  Result<std::string> text = canonical_json(entry);
  EXPECT_TRUE(text.ok());
  return text.ok() ? *text : "";
}

TEST(LedgerEntriesTest, HeaderOfEveryCanonicalShapeIsTheParsedOne) {
  std::vector<std::string> texts;
  for (const char* kind : {"key", "model", "run", "estimate", "annotation", "export", "other", ""}) {
    for (const Json& supersedes : {Json(), Json(0), Json(7), Json(uint64_t{123456789012345}), Json(-1), Json(1.5),
                                   Json("3"), Json::array()}) {
      texts.push_back(canonical_entry(supersedes, kind, "acme/llama-sft"));
    }
  }
  for (const char* subject : {"", "run-1", "acme/r\u00e9sum\u00e9", "quote \" here", "back\\slash", "tab\there",
                              "ctrl \x01", "del \x7f", "~ ! @ # $ % ^ & * ( ) { } [ ] : ; , . < > ?"}) {
    texts.push_back(canonical_entry(Json(), "run", subject));
    texts.push_back(canonical_entry(Json(4), "annotation", subject, kLedgerEntrySchema, subject, subject));
  }
  texts.push_back(canonical_entry(Json(), "run", "r", "flopsmeter.ledger_entry/2"));
  texts.push_back(canonical_entry(Json(), "run", "r", "flopsmeter.ledger_entry/1\u00e9"));
  for (const std::string& text : texts) expect_same(text, "canonical");
}

TEST(LedgerEntriesTest, HeaderOfMutatedTextIsTheParsedOne) {
  const std::vector<std::string> bases = {canonical_entry(Json(), "run", "run-42"),
                                          canonical_entry(Json(12), "annotation", "12")};
  const std::string replacements[] = {"0", "9", "\"", "\\", " ", "}", "{", ",", ":", "x", "\x7f", "\xc3", "\x01",
                                      "n", "-", "."};
  for (const std::string& base : bases) {
    const size_t tail = base.rfind(",\"key_id\":\"");
    ASSERT_NE(tail, std::string::npos);
    for (size_t i = tail; i < base.size(); ++i) {
      std::string deleted = base;
      deleted.erase(i, 1);
      expect_same(deleted, "byte " + std::to_string(i) + " deleted");
      for (const std::string& r : replacements) {
        std::string replaced = base;
        replaced.replace(i, 1, r);
        expect_same(replaced, "byte " + std::to_string(i) + " replaced");
        std::string inserted = base;
        inserted.insert(i, r);
        expect_same(inserted, "inserted at " + std::to_string(i));
      }
    }
    expect_same(base + " ", "trailing space");
    expect_same(base + "\n", "trailing newline");
    expect_same(base.substr(0, tail) + ",\"key_id\":\"k\",\"kind\":\"run\"" + base.substr(tail), "a member more");
    expect_same(" " + base, "leading space");
  }
}

}  // namespace
}  // namespace flopsmeter
