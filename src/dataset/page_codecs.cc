// decompress_page(): one-shot snappy, zlib and zstd calls, each checked
// against the size the page header states.
#include "dataset/page_codecs.h"

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>

namespace flopsmeter {
namespace {

Status size_mismatch(std::string_view codec, size_t got, size_t expected) {
  return Status::ParseError(std::string(codec) + " data decompresses to " + std::to_string(got) +
                            " bytes, its header states " + std::to_string(expected));
}

Status snappy_decompress(std::string_view in, char* out, size_t out_size) {
  size_t length = 0;
  if (snappy_uncompressed_length(in.data(), in.size(), &length) != SNAPPY_OK) {
    return Status::ParseError("snappy data is corrupt");
  }
  if (length != out_size) return size_mismatch("snappy", length, out_size);
  if (snappy_uncompress(in.data(), in.size(), out, &length) != SNAPPY_OK || length != out_size) {
    return Status::ParseError("snappy data is corrupt");
  }
  return Status::Ok();
}

// Several gzip members one after another decode as one stream, as the
// gzip format allows.
Status gzip_decompress(std::string_view in, char* out, size_t out_size) {
  if (in.size() > UINT_MAX || out_size > UINT_MAX) return Status::Unsupported("gzip page larger than 4 GiB");
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return Status::IoError("cannot start the gzip decoder (out of memory?)");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = reinterpret_cast<Bytef*>(out);
  stream.avail_out = static_cast<uInt>(out_size);
  int rc = Z_OK;
  while (true) {
    rc = inflate(&stream, Z_FINISH);
    if (rc != Z_STREAM_END || stream.avail_in == 0 || stream.avail_out == 0) break;
    inflateReset(&stream);  // another member follows
  }
  const std::string message = stream.msg != nullptr ? stream.msg : "";
  const size_t produced = out_size - stream.avail_out;
  inflateEnd(&stream);
  if (rc == Z_STREAM_END && produced == out_size) return Status::Ok();
  if (rc == Z_BUF_ERROR && stream.avail_out == 0) {
    return Status::ParseError("gzip data decompresses to more than the " + std::to_string(out_size) +
                              " bytes its header states");
  }
  if (rc == Z_STREAM_END || rc == Z_BUF_ERROR) return size_mismatch("gzip", produced, out_size);
  return Status::ParseError("gzip data is corrupt" + (message.empty() ? "" : ": " + message));
}

Status zstd_decompress(std::string_view in, char* out, size_t out_size) {
  const size_t got = ZSTD_decompress(out, out_size, in.data(), in.size());
  if (ZSTD_isError(got)) {
    if (ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall) {
      return Status::ParseError("zstd data decompresses to more than the " + std::to_string(out_size) +
                                " bytes its header states");
    }
    return Status::ParseError(std::string("zstd data is corrupt: ") + ZSTD_getErrorName(got));
  }
  if (got != out_size) return size_mismatch("zstd", got, out_size);
  return Status::Ok();
}

}  // namespace

Status decompress_page(PageCodec codec, std::string_view in, char* out, size_t out_size) {
  switch (codec) {
    case PageCodec::kUncompressed:
      if (in.size() != out_size) return size_mismatch("uncompressed", in.size(), out_size);
      std::copy(in.begin(), in.end(), out);
      return Status::Ok();
    case PageCodec::kSnappy: return snappy_decompress(in, out, out_size);
    case PageCodec::kGzip: return gzip_decompress(in, out, out_size);
    case PageCodec::kZstd: return zstd_decompress(in, out, out_size);
  }
  return Status::Internal("decompress_page: unknown codec");
}

}  // namespace flopsmeter
