// ByteSource: POSIX reads, with zlib and libzstd streaming decoders.
#include "dataset/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>
#include <utility>

#include "adapters/files.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

constexpr std::string_view kGzipMagic = "\x1f\x8b";
constexpr std::string_view kZstdMagic = "\x28\xb5\x2f\xfd";
// Bytes looked at to recognise the compression.
constexpr size_t kMagicBytes = kZstdMagic.size();

// zlib counts in uInt; larger buffers are handed over in parts.
uInt clamp_to_uint(size_t n) { return static_cast<uInt>(std::min<size_t>(n, UINT_MAX)); }

}  // namespace

// A streaming decompressor. decode() returns a Status holding only what the
// library said; ByteSource adds the file name and offset.
class ByteSource::Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::string_view name() const = 0;
  // Consumes a prefix of `*input` and writes up to `cap` bytes to `out`;
  // returns how many were written (possibly 0 while reading headers).
  virtual Result<size_t> decode(std::string_view* input, char* out, size_t cap) = 0;
  // True when everything consumed so far forms complete members or frames,
  // so that the data may end here.
  virtual bool at_boundary() const = 0;
};

class ByteSource::GzipDecoder final : public ByteSource::Decoder {
 public:
  static Result<std::unique_ptr<Decoder>> Create() {
    auto decoder = std::unique_ptr<GzipDecoder>(new GzipDecoder());
    // 15 + 16: the largest window, gzip framing only.
    if (inflateInit2(&decoder->stream_, 15 + 16) != Z_OK) {
      return Status::IoError("cannot start the gzip decoder (out of memory?)");
    }
    decoder->initialized_ = true;
    return std::unique_ptr<Decoder>(std::move(decoder));
  }
  ~GzipDecoder() override {
    if (initialized_) inflateEnd(&stream_);
  }

  std::string_view name() const override { return "gzip"; }

  Result<size_t> decode(std::string_view* input, char* out, size_t cap) override {
    if (member_ended_) {
      if (input->empty()) return size_t{0};
      // Concatenated members (gzip a b > ab.gz, pigz, bgzip) decode as one stream.
      inflateReset(&stream_);
      member_ended_ = false;
    }
    const uInt in_size = clamp_to_uint(input->size());
    const uInt out_size = clamp_to_uint(cap);
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input->data()));
    stream_.avail_in = in_size;
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    stream_.avail_out = out_size;
    const int rc = inflate(&stream_, Z_NO_FLUSH);
    input->remove_prefix(in_size - stream_.avail_in);
    const size_t produced = out_size - stream_.avail_out;
    switch (rc) {
      case Z_OK:
      case Z_BUF_ERROR:  // no progress possible without more input
        return produced;
      case Z_STREAM_END:
        member_ended_ = true;
        return produced;
      case Z_NEED_DICT: return Status::ParseError("the data needs a preset dictionary");
      case Z_MEM_ERROR: return Status::IoError("out of memory");
      default: return Status::ParseError(stream_.msg != nullptr ? stream_.msg : "invalid data");
    }
  }

  bool at_boundary() const override { return member_ended_; }

 private:
  GzipDecoder() = default;
  z_stream stream_{};
  bool initialized_ = false;
  bool member_ended_ = false;
};

class ByteSource::ZstdDecoder final : public ByteSource::Decoder {
 public:
  static Result<std::unique_ptr<Decoder>> Create() {
    ZSTD_DStream* stream = ZSTD_createDStream();
    if (stream == nullptr) return Status::IoError("cannot start the zstd decoder (out of memory?)");
    return std::unique_ptr<Decoder>(new ZstdDecoder(stream));
  }
  ~ZstdDecoder() override { ZSTD_freeDStream(stream_); }

  std::string_view name() const override { return "zstd"; }

  Result<size_t> decode(std::string_view* input, char* out, size_t cap) override {
    ZSTD_inBuffer in{input->data(), input->size(), 0};
    ZSTD_outBuffer output{out, cap, 0};
    // Moves from one frame to the next by itself.
    const size_t rc = ZSTD_decompressStream(stream_, &output, &in);
    input->remove_prefix(in.pos);
    if (ZSTD_isError(rc)) return Status::ParseError(ZSTD_getErrorName(rc));
    frame_ended_ = rc == 0;  // 0: a frame is complete and fully flushed
    return output.pos;
  }

  bool at_boundary() const override { return frame_ended_; }

 private:
  explicit ZstdDecoder(ZSTD_DStream* stream) : stream_(stream) {}
  ZSTD_DStream* stream_;
  bool frame_ended_ = false;
};

ByteSource::ByteSource(std::string path, int fd, bool owns_fd, std::optional<uint64_t> file_size,
                       size_t input_chunk_bytes)
    : path_(std::move(path)),
      fd_(fd),
      owns_fd_(owns_fd),
      file_size_(file_size),
      input_chunk_bytes_(input_chunk_bytes),
      input_capacity_(std::max(input_chunk_bytes, kMagicBytes)) {}

ByteSource::~ByteSource() {
  if (owns_fd_) ::close(fd_);
}

Result<std::unique_ptr<ByteSource>> ByteSource::Open(const std::string& path,
                                                     size_t input_chunk_bytes) {
  if (input_chunk_bytes == 0) return Status::InvalidArgument("ByteSource: input_chunk_bytes is 0");
  if (path != "-") {
    // A named dataset is a regular file: a FIFO or a device would block or
    // never end.
    FM_ASSIGN_OR_RETURN(RegularFile file, open_regular_file(path, O_RDONLY, FinalSymlink::kFollow));
    ::posix_fadvise(file.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint; failure is harmless
    auto source = std::unique_ptr<ByteSource>(
        new ByteSource(printable_text(path), file.fd.release(), /*owns_fd=*/true, file.size, input_chunk_bytes));
    FM_RETURN_IF_ERROR(source->choose_decoder());
    return source;
  }
  // Standard input may be a pipe, a terminal or a file.
  struct stat info {};
  if (::fstat(STDIN_FILENO, &info) != 0) {
    return Status::IoError("<stdin>: stat failed: " + std::generic_category().message(errno));
  }
  if (S_ISDIR(info.st_mode)) return not_a_regular_file("<stdin>", info.st_mode);
  std::optional<uint64_t> size;
  if (S_ISREG(info.st_mode)) size = static_cast<uint64_t>(info.st_size);
  auto source = std::unique_ptr<ByteSource>(
      new ByteSource("<stdin>", STDIN_FILENO, /*owns_fd=*/false, size, input_chunk_bytes));
  FM_RETURN_IF_ERROR(source->choose_decoder());
  return source;
}

Status ByteSource::choose_decoder() {
  input_ = std::make_unique_for_overwrite<char[]>(input_capacity_);
  while (input_end_ < kMagicBytes && !input_eof_) FM_RETURN_IF_ERROR(fill_input().status());
  const std::string_view head(input_.get(), input_end_);
  Result<std::unique_ptr<Decoder>> decoder = std::unique_ptr<Decoder>();
  if (head.starts_with(kGzipMagic)) {
    decoder = GzipDecoder::Create();
  } else if (head.starts_with(kZstdMagic)) {
    decoder = ZstdDecoder::Create();
  }
  if (!decoder.ok()) return decoder.status().WithContext(path_);
  decoder_ = std::move(decoder).value();
  return Status::Ok();
}

std::string_view ByteSource::compression() const {
  return decoder_ == nullptr ? "none" : decoder_->name();
}

Result<size_t> ByteSource::read_from_file(char* buf, size_t cap) {
  while (true) {
    const ssize_t got = ::read(fd_, buf, cap);
    if (got >= 0) {
      file_bytes_read_ += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
    if (errno != EINTR) {
      return Status::IoError(path_ + ": read failed at byte " + std::to_string(file_bytes_read_) +
                             ": " + std::generic_category().message(errno));
    }
  }
}

Result<bool> ByteSource::fill_input() {
  if (input_begin_ == input_end_) input_begin_ = input_end_ = 0;
  const size_t want = std::min(input_chunk_bytes_, input_capacity_ - input_end_);
  FM_ASSIGN_OR_RETURN(const size_t got, read_from_file(input_.get() + input_end_, want));
  input_end_ += got;
  if (got == 0) input_eof_ = true;
  return got > 0;
}

Result<size_t> ByteSource::read(char* buf, size_t cap) {
  if (decoder_ == nullptr) {
    // Bytes looked at by Open() first, then straight from the file.
    if (input_begin_ < input_end_) {
      const size_t n = std::min(cap, input_end_ - input_begin_);
      std::copy_n(input_.get() + input_begin_, n, buf);
      input_begin_ += n;
      return n;
    }
    if (input_eof_) return size_t{0};
    FM_ASSIGN_OR_RETURN(const size_t got, read_from_file(buf, cap));
    if (got == 0) input_eof_ = true;
    return got;
  }
  while (true) {
    if (input_begin_ == input_end_ && !input_eof_) {
      FM_RETURN_IF_ERROR(fill_input().status());
    }
    const bool input_exhausted = input_begin_ == input_end_ && input_eof_;
    if (input_exhausted && decoder_->at_boundary()) return size_t{0};
    std::string_view input(input_.get() + input_begin_, input_end_ - input_begin_);
    Result<size_t> produced = decoder_->decode(&input, buf, cap);
    const size_t consumed = static_cast<size_t>(input.data() - (input_.get() + input_begin_));
    input_begin_ += consumed;
    if (!produced.ok()) {
      const std::string what = produced.status().code() == StatusCode::kParseError
                                   ? ": corrupt " + std::string(decoder_->name()) + " data"
                                   : ": " + std::string(decoder_->name()) + " decoder";
      return produced.status().WithContext(path_ + what + " near compressed byte " +
                                           std::to_string(consumed_offset()));
    }
    if (*produced > 0) return *produced;
    if (input_exhausted) {
      // Nothing left to decode, yet the last member or frame is unfinished.
      return Status::ParseError(path_ + ": " + std::string(decoder_->name()) +
                                " data ends early at compressed byte " +
                                std::to_string(file_bytes_read_) + " (truncated file?)");
    }
    if (consumed == 0 && input_begin_ < input_end_) {
      return Status::Internal(path_ + ": the " + std::string(decoder_->name()) +
                              " decoder made no progress at compressed byte " +
                              std::to_string(consumed_offset()));
    }
  }
}

}  // namespace flopsmeter
