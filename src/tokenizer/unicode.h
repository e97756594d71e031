// Unicode facts the tokenizer pipeline needs, with the same meaning as in
// Hugging Face tokenizers (Rust's char methods and the unicode-* crates):
// normalization forms, lower-casing, white space and general categories.
// Backed by ICU, so the Unicode version is ICU's (Debian 12: ICU 72,
// Unicode 15.0); Oniguruma, which runs the Split regexes, is on 15.0 too.
//
// All functions take and return UTF-8 and are safe to call from many
// threads at once. Input is assumed to be valid UTF-8 (the dataset layer
// repairs invalid bytes before text gets here).
#ifndef FLOPSMETER_TOKENIZER_UNICODE_H_
#define FLOPSMETER_TOKENIZER_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flopsmeter::unicode {

// Decodes the code point starting at text[*pos] and advances *pos past it.
// A malformed sequence (bad lead or continuation byte, truncated, overlong,
// surrogate, past U+10FFFF) decodes as U+FFFD and advances one byte, so
// hostile input can neither loop nor read past the end.
char32_t next_code_point(std::string_view text, size_t* pos);

// Byte length of the UTF-8 sequence that starts with `lead` (1 for a stray
// continuation byte, so scanning always advances).
inline size_t sequence_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Appends `cp` as UTF-8 (U+FFFD for a surrogate or a value past U+10FFFF).
void append_utf8(char32_t cp, std::string* out);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
// `text` in the given normalization form.
std::string normalize(std::string_view text, NormalForm form);

// Full lower-case mapping with context (final sigma), as Rust's
// str::to_lowercase and Python's str.lower.
std::string to_lower(std::string_view text);
// Full upper-case mapping (ß -> SS), as Python's str.upper.
std::string to_upper(std::string_view text);

// Rust's char::is_whitespace: the White_Space property.
bool is_whitespace(char32_t cp);
// Bytes of white space at the start of `text`.
size_t leading_whitespace_length(std::string_view text);
// Where the white space that ends `text` begins (text.size() when none).
size_t trailing_whitespace_start(std::string_view text);
// Rust's char::is_alphanumeric: Alphabetic or Numeric (Nd, Nl, No).
bool is_alphanumeric(char32_t cp);
// Rust's char::is_numeric: general category Nd, Nl or No.
bool is_numeric(char32_t cp);
// General category Mn (nonspacing mark), which StripAccents removes.
bool is_nonspacing_mark(char32_t cp);
// Any punctuation category (Pc, Pd, Ps, Pe, Pi, Pf, Po), or ASCII
// punctuation, as tokenizers' BERT and Punctuation pre-tokenizers test.
bool is_punctuation(char32_t cp);
// Control characters as BertNormalizer's clean_text sees them.
bool is_control(char32_t cp);
// CJK ideographs that BertNormalizer surrounds with spaces.
bool is_chinese_char(char32_t cp);

}  // namespace flopsmeter::unicode

#endif  // FLOPSMETER_TOKENIZER_UNICODE_H_
