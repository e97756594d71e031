// identify_binary_format(): the signatures of the formats a dataset file is
// likely to be by mistake (other table formats, archives, databases, model
// files, compressors flopsmeter does not undo).
#include "dataset/binary_formats.h"

#include <cstdint>
#include <cstring>

namespace flopsmeter {
namespace {

struct Signature {
  std::string_view magic;
  std::string_view name;
};

// Short ASCII signatures that text could start with: they count only when
// control bytes follow, as they do in these formats' binary headers.
constexpr Signature kRefusedWithBinaryHead[] = {
    {"ORC", "an ORC file"},
    {"FEA1", "a Feather v1 file"},
    {"GGUF", "a GGUF model file"},
};

// Prefixes. gzip and zstd are absent: ByteSource undoes them, and the
// bytes looked at are the decompressed ones.
constexpr Signature kRefused[] = {
    {std::string_view("Obj\x01", 4), "an Avro object container file"},
    {"PK\x03\x04", "a zip archive (xlsx, docx, npz, ...)"},
    {"PK\x05\x06", "a zip archive (xlsx, docx, npz, ...)"},
    {std::string_view("SQLite format 3\0", 16), "an SQLite database"},
    {"\x93NUMPY", "a NumPy array file"},
    {"\x89HDF\r\n\x1a\n", "an HDF5 file"},
    {std::string_view("\xfd" "7zXZ\x00", 6), "xz-compressed data (decompress it first)"},
    {"\x04\x22\x4d\x18", "LZ4-compressed data (decompress it first)"},
    {"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"},
    {"Rar!\x1a\x07", "a RAR archive"},
    {"%PDF-", "a PDF document"},
    {"\x7f" "ELF", "an executable (ELF)"},
    {"\x89PNG\r\n\x1a\n", "a PNG image"},
    {"\xff\xd8\xff", "a JPEG image"},
    {"PARE", "an encrypted Parquet file"},
};

// A byte below 0x20 other than tab, newline and carriage return.
bool has_control_byte(std::string_view head) {
  for (const char c : head) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
  }
  return false;
}

// A pickle of protocol 2 or later starts with PROTO and the version.
bool is_pickle(std::string_view head) {
  return head.size() >= 2 && head[0] == '\x80' && head[1] >= 2 && head[1] <= 5;
}

// bzip2: "BZh", the block size digit, then a block or end-of-stream magic.
bool is_bzip2(std::string_view head) {
  return head.size() >= 10 && head.starts_with("BZh") && head[3] >= '1' && head[3] <= '9' &&
         (head.substr(4, 6) == "1AY&SY" || head.substr(4, 6) == "\x17rE8P\x90");
}

// safetensors: an 8-byte little-endian header length, then the JSON header.
// Lengths under 4 GiB (the four high bytes zero) keep text that happens to
// have '{' at byte 8 from matching.
bool is_safetensors(std::string_view head) {
  return head.size() >= 9 && head[8] == '{' && head.substr(4, 4) == std::string_view("\0\0\0\0", 4) &&
         (head[0] != 0 || head[1] != 0 || head[2] != 0 || head[3] != 0);
}

}  // namespace

BinaryFormatMatch identify_binary_format(std::string_view head) {
  if (head.starts_with("PAR1")) return {BinaryFormat::kParquet, "a Parquet file"};
  if (head.starts_with("ARROW1")) return {BinaryFormat::kArrowFile, "an Arrow IPC file"};
  if (head.size() >= 8 && head.starts_with("\xff\xff\xff\xff")) {
    return {BinaryFormat::kArrowStream, "an Arrow IPC stream"};
  }
  for (const Signature& s : kRefused) {
    if (head.starts_with(s.magic)) return {BinaryFormat::kRefused, s.name};
  }
  for (const Signature& s : kRefusedWithBinaryHead) {
    if (head.starts_with(s.magic) && has_control_byte(head)) return {BinaryFormat::kRefused, s.name};
  }
  if (is_pickle(head)) return {BinaryFormat::kRefused, "a Python pickle"};
  if (is_bzip2(head)) return {BinaryFormat::kRefused, "bzip2-compressed data (decompress it first)"};
  if (is_safetensors(head)) return {BinaryFormat::kRefused, "a safetensors file"};
  return {};
}

}  // namespace flopsmeter
