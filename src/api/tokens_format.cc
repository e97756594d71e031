// The token count as JSON ("flopsmeter.tokens/1") and as text.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "api/report_format.h"
#include "core/json_doc.h"  // printable_text
#include "flopsmeter/tokens.h"
#include "flopsmeter/version.h"

namespace flopsmeter {
namespace {

// Counts are integers in JSON; one that cannot fit 64 bits (never in
// practice) is written as a decimal string rather than rounded.
nlohmann::json count_json(Flop v) {
  if (v <= static_cast<Flop>(UINT64_MAX)) return static_cast<uint64_t>(v);
  return to_decimal(v);
}

double as_double(Flop v) { return static_cast<double>(v); }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double expected_double(Flop units) { return fixed_point_double(units, kExpectedFractionBits); }

// Expected padding: expected positions less the tokens, in units.
Flop expected_padding(const TokenCountReport& r) {
  const Flop tokens = r.tokens << kExpectedFractionBits;
  return r.shuffled->expected_positions > tokens ? r.shuffled->expected_positions - tokens : 0;
}

nlohmann::json shuffled_json(const TokenCountReport& r) {
  const ShuffledPadding& s = *r.shuffled;
  nlohmann::json expected_rows = nlohmann::json::array();
  for (const auto& [length, count] : s.expected_sequences) expected_rows.push_back({length, expected_double(count)});
  nlohmann::json worst_rows = nlohmann::json::array();
  for (const auto& [length, count] : s.worst_sequences) worst_rows.push_back({length, count});
  return {{"expected",
           {{"positions", expected_double(s.expected_positions)},
            {"padding", expected_double(expected_padding(r))},
            {"sum_squared_lengths", expected_double(s.expected_sum_squared_lengths)},
            {"sequences", expected_rows},
            {"precision", "averages over uniformly random shuffles, computed in units of 2^-" +
                              std::to_string(kExpectedFractionBits) + " of a row"}}},
          {"worst_case",
           {{"positions", count_json(s.worst_positions)},
            {"padding", count_json(s.worst_positions - r.tokens)},
            {"sum_squared_lengths", count_json(s.worst_sum_squared_lengths)},
            {"sequences", worst_rows}}}};
}

nlohmann::json layout_json(const TokenCountReport& r) {
  nlohmann::json j = {{"name", layout_name(r.layout)}, {"rows", r.rows}};
  if (batches_are_padded(r.layout)) {
    j["batch_size"] = r.batch_size;
    j["batch_size_default"] = r.default_batch_size;
    j["order"] = sample_order_name(r.order);
    j["pad_to_max_length"] = r.pad_to_max_length;
  }
  if (r.shuffled) {
    j.update(shuffled_json(r));
    return j;
  }
  nlohmann::json sequences = nlohmann::json::array();
  for (const auto& [length, count] : r.sequences) sequences.push_back({length, count});
  j["positions"] = count_json(r.positions);
  j["padding"] = count_json(r.padding);
  j["sum_squared_lengths"] = count_json(r.sum_squared_lengths);
  j["sequences"] = sequences;
  return j;
}

// "padded, 4,809 sequences in batches of 8, random order"
std::string layout_summary(const TokenCountReport& r) {
  std::string out = std::string(layout_name(r.layout)) + ", " + with_commas(r.rows) + " sequences";
  if (batches_are_padded(r.layout)) {
    out += " in batches of " + with_commas(r.batch_size) +
           (r.pad_to_max_length ? ", padded to max length" : std::string(", ") + sample_order_name(r.order) + " order");
  }
  return out;
}

}  // namespace

nlohmann::json token_count_json(const TokenCountReport& r) {
  nlohmann::json j;
  j["schema"] = "flopsmeter.tokens/1";
  j["tool"] = {{"name", "flopsmeter"}, {"version", FLOPSMETER_VERSION_STRING}};
  nlohmann::json tok = {{"source", r.tokenizer.source},
                        {"model_type", r.tokenizer.model_type},
                        {"vocab_size", r.tokenizer.vocab_size},
                        {"special_tokens_per_sequence", r.tokenizer.special_tokens_per_sequence},
                        {"chat_template", r.tokenizer.chat_template.has_value()}};
  if (r.tokenizer.bos_token) tok["bos_token"] = *r.tokenizer.bos_token;
  if (r.tokenizer.eos_token) tok["eos_token"] = *r.tokenizer.eos_token;
  j["tokenizer"] = tok;
  j["files"] = r.files;
  j["bytes"] = r.file_bytes;
  j["decoded_bytes"] = r.decoded_bytes;
  j["samples"] = r.samples;
  j["skipped"] = r.skipped;
  nlohmann::json skipped = nlohmann::json::array();
  for (const SkippedRecord& s : r.skipped_examples) {
    skipped.push_back({{"file", s.file}, {"line", s.line}, {"reason", s.reason}});
  }
  j["skipped_examples"] = skipped;
  nlohmann::json causes = nlohmann::json::array();
  for (const SkippedCause& c : r.skipped_causes) {
    causes.push_back({{"cause", c.cause}, {"count", c.count}, {"first", c.first}});
  }
  j["skipped_causes"] = causes;
  j["samples_by_kind"] = r.samples_by_kind;
  j["invalid_utf8_replaced"] = r.invalid_utf8;
  j["tokens"] = count_json(r.tokens);
  j["tokens_before_truncation"] = count_json(r.tokens_before_truncation);
  j["truncated_samples"] = r.truncated_samples;
  j["special_tokens"] = count_json(r.special_tokens);
  j["longest_sample"] = r.longest_sample;
  j["layout"] = layout_json(r);
  j["notes"] = r.notes;
  const double secs = r.count_seconds > 0 ? r.count_seconds : 1e-9;
  j["timing"] = {{"load_seconds", r.load_seconds},
                 {"count_seconds", r.count_seconds},
                 {"mb_per_second", static_cast<double>(r.decoded_bytes) / 1e6 / secs},
                 {"tokens_per_second", as_double(r.tokens_before_truncation) / secs}};
  return j;
}

std::string tokens_to_json(const TokenCountReport& r) { return json_text(token_count_json(r)); }

std::string tokens_to_text(const TokenCountReport& r) {
  std::string out;
  auto line = [&](const std::string& label, const std::string& value) {
    out += label;
    out.append(label.size() < 12 ? 12 - label.size() : 1, ' ');
    out += value + "\n";
  };
  line("tokenizer", printable_text(r.tokenizer.source) + " (" + r.tokenizer.model_type + ", " +
                        with_commas(r.tokenizer.vocab_size) + " tokens)");
  line("files", std::to_string(r.files.size()) + (r.files.size() == 1 ? " file, " : " files, ") +
                    with_commas(r.file_bytes) + " bytes" +
                    (r.decoded_bytes != r.file_bytes ? " (" + with_commas(r.decoded_bytes) + " decompressed)" : ""));
  std::string kinds;
  for (const auto& [kind, n] : r.samples_by_kind) kinds += (kinds.empty() ? "" : ", ") + kind + " " + with_commas(n);
  line("samples", with_commas(r.samples) + " counted" + (kinds.empty() ? "" : " (" + kinds + ")") + ", " +
                      with_commas(r.skipped) + (r.skipped > 0 ? " SKIPPED (not counted)" : " skipped"));
  out += skipped_text(r, "skipped     ", "            ");
  line("tokens", with_commas(r.tokens) + " trained on (non-padding)" +
                     (r.skipped > 0 ? ", in the counted samples only" : ""));
  if (r.tokens_before_truncation != r.tokens) {
    line("", with_commas(r.tokens_before_truncation) + " before truncation; " + with_commas(r.truncated_samples) +
                 " samples truncated");
  }
  line("", with_commas(r.special_tokens) + " special tokens added; longest sample " +
               with_commas(r.longest_sample) + " tokens");
  if (r.invalid_utf8 > 0) line("", with_commas(r.invalid_utf8) + " invalid UTF-8 sequences replaced by U+FFFD");
  line("layout", layout_summary(r));
  if (r.shuffled) {
    const ShuffledPadding& s = *r.shuffled;
    const double expected_positions = expected_double(s.expected_positions);
    line("", "expected " + fixed_point_text(s.expected_positions, kExpectedFractionBits) + " positions (" +
                 fixed_point_text(expected_padding(r), kExpectedFractionBits) + " padding, " +
                 percent(expected_positions > 0 ? expected_double(expected_padding(r)) / expected_positions : 0) +
                 "), averaged over shuffles");
    const Flop worst_padding = s.worst_positions - r.tokens;
    const double worst_share = s.worst_positions > 0 ? as_double(worst_padding) / as_double(s.worst_positions) : 0;
    line("", "worst order " + with_commas(s.worst_positions) + " positions (" + with_commas(worst_padding) +
                 " padding, " + percent(worst_share) + ")");
    line("attention", "sum of squared sequence lengths: expected " +
                          fixed_point_text(s.expected_sum_squared_lengths, kExpectedFractionBits) + ", worst order " +
                          with_commas(s.worst_sum_squared_lengths));
  } else {
    const double pad_share = r.positions > 0 ? as_double(r.padding) / as_double(r.positions) : 0;
    line("", with_commas(r.positions) + " positions (" + with_commas(r.padding) + " padding, " + percent(pad_share) +
                 ")");
    line("attention", "sum of squared sequence lengths " + with_commas(r.sum_squared_lengths));
  }
  const double secs = r.count_seconds > 0 ? r.count_seconds : 1e-9;
  line("speed", fixed(static_cast<double>(r.decoded_bytes) / 1e6 / secs, 1) + " MB/s, " +
                    fixed(as_double(r.tokens_before_truncation) / 1e6 / secs, 2) + "M tokens/s; tokenizer loaded in " +
                    fixed(r.load_seconds, 2) + " s");
  if (!r.notes.empty()) {
    out += "notes:\n";
    for (const std::string& n : r.notes) out += "  - " + printable_text(n) + "\n";
  }
  return out;
}

std::string skipped_text(const TokenCountReport& r, const std::string& first_indent, const std::string& indent) {
  if (r.skipped_causes.empty()) return "";
  // The first causes; --json lists the first records.
  constexpr size_t kShown = 5;
  std::string out;
  uint64_t shown_records = 0;
  for (size_t i = 0; i < r.skipped_causes.size() && i < kShown; ++i) {
    const SkippedCause& c = r.skipped_causes[i];
    out += (i == 0 ? first_indent : indent) + with_commas(c.count) + " x " + printable_text(c.cause) + " (first at " +
           printable_text(c.first) + ")\n";
    shown_records += c.count;
  }
  if (r.skipped > shown_records) {
    out += indent + "... and " + with_commas(r.skipped - shown_records) + " more (option \"strict\" stops at the first)\n";
  }
  return out;
}

}  // namespace flopsmeter
