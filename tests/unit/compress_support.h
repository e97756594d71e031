// Test fixtures compressed by zlib's own encoder (gzip framing), for the
// readers that must take what other tools write.
#ifndef FLOPSMETER_TESTS_UNIT_COMPRESS_SUPPORT_H_
#define FLOPSMETER_TESTS_UNIT_COMPRESS_SUPPORT_H_

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace flopsmeter::testing {

inline std::string gzip_bytes(const std::string& data) {
  z_stream stream{};
  // windowBits 15 + 16: gzip framing.
  EXPECT_EQ(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace flopsmeter::testing

#endif  // FLOPSMETER_TESTS_UNIT_COMPRESS_SUPPORT_H_
