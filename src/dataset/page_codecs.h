// Whole-buffer decompression of one Parquet page or Arrow IPC buffer, whose
// header states the decompressed size: UNCOMPRESSED, SNAPPY (raw, not
// framed), GZIP (gzip or zlib framing, as writers differ) and ZSTD.
#ifndef FLOPSMETER_DATASET_PAGE_CODECS_H_
#define FLOPSMETER_DATASET_PAGE_CODECS_H_

#include <cstddef>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

enum class PageCodec { kUncompressed, kSnappy, kGzip, kZstd };

// Decompresses `in` into exactly `out_size` bytes at `out`. A ParseError
// ("snappy data is corrupt", "zstd data is corrupt: ...", "decompresses to
// more than the 100 bytes its header states") when the data is corrupt or
// its size is not `out_size`.
Status decompress_page(PageCodec codec, std::string_view in, char* out, size_t out_size);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_PAGE_CODECS_H_
