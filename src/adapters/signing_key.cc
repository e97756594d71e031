#include "adapters/signing_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "adapters/files.h"
#include "adapters/sha256.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

constexpr const char* kKeySchema = "flopsmeter.ledger_key/1";

Status ensure_sodium() {
  if (sodium_init() < 0) return Status::Internal("libsodium could not be initialised");
  return Status();
}

// The directory of `path`, created 0700 when missing (it holds secret keys).
Status make_private_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status();
  const std::string dir = path.substr(0, slash);
  if (is_directory(dir)) return Status();
  FM_RETURN_IF_ERROR(make_private_directory(dir));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IoError(printable_text(dir) + ": cannot create directory: " + std::strerror(errno));
  }
  return Status();
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

Result<std::string> from_hex(std::string_view hex, std::string_view what) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return Status::ParseError(std::string(what) + ": an odd number of hex digits");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return Status::ParseError(std::string(what) + ": not a hex digit at " + std::to_string(i));
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string key_id_of(std::string_view public_key) { return "ed25519:" + sha256_hex(public_key).substr(0, 32); }

bool verify_signature(std::string_view public_key, std::string_view message, std::string_view signature) {
  if (!ensure_sodium().ok() || public_key.size() != crypto_sign_PUBLICKEYBYTES ||
      signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

Result<SigningKey> SigningKey::Generate(const std::string& path) {
  FM_ASSIGN_OR_RETURN(SigningKey k, Create(path));
  FM_RETURN_IF_ERROR(k.Save());
  return k;
}

Result<SigningKey> SigningKey::Create(const std::string& path) {
  FM_RETURN_IF_ERROR(ensure_sodium());
  SigningKey k;
  k.path_ = path;
  k.public_key_.resize(crypto_sign_PUBLICKEYBYTES);
  k.secret_key_.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(k.public_key_.data()),
                      reinterpret_cast<unsigned char*>(k.secret_key_.data()));
  k.key_id_ = key_id_of(k.public_key_);
  return k;
}

Status SigningKey::Save() const {
  const std::string& path = path_;
  FM_RETURN_IF_ERROR(make_private_directory(path));
  const std::string text = nlohmann::json({{"schema", kKeySchema},
                                           {"key_id", key_id_},
                                           {"public_key", to_hex(public_key_)},
                                           {"secret_key", to_hex(secret_key_)}})
                               .dump(2) +
                           "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::InvalidArgument(printable_text(path) + ": a file is already there; a key is never written over "
                                     "(give another path, or use the key that is there)");
    }
    return Status::IoError(printable_text(path) + ": cannot create: " + std::strerror(errno));
  }
  FileDescriptor owner(fd);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  if (written < text.size() || ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(path.c_str());  // never a half-written key
    return Status::IoError(printable_text(path) + ": cannot write: " + why);
  }
  return Status();
}

Result<SigningKey> SigningKey::Load(const std::string& path) {
  FM_RETURN_IF_ERROR(ensure_sodium());
  FM_ASSIGN_OR_RETURN(RegularFile file, open_regular_file(path, O_RDONLY, FinalSymlink::kFollow));
  struct stat st;
  if (::fstat(file.fd.get(), &st) == 0 && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return Status::InvalidArgument(printable_text(path) + ": a secret key must be readable by its owner alone (its "
                                   "mode is " + mode + "; chmod 600 it)");
  }
  file.fd = FileDescriptor();
  FM_ASSIGN_OR_RETURN(std::string text, read_file(path, 64 << 10));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("schema", nlohmann::json()) != kKeySchema || !j.value("public_key", nlohmann::json()).is_string() ||
      !j.value("secret_key", nlohmann::json()).is_string()) {
    return Status::ParseError(printable_text(path) + ": not a flopsmeter ledger key (schema " + kKeySchema + ")");
  }
  SigningKey k;
  k.path_ = path;
  FM_ASSIGN_OR_RETURN(k.public_key_, from_hex(j["public_key"].get<std::string>(), path + ": public_key"));
  FM_ASSIGN_OR_RETURN(k.secret_key_, from_hex(j["secret_key"].get<std::string>(), path + ": secret_key"));
  if (k.public_key_.size() != crypto_sign_PUBLICKEYBYTES || k.secret_key_.size() != crypto_sign_SECRETKEYBYTES ||
      k.secret_key_.compare(crypto_sign_SECRETKEYBYTES - crypto_sign_PUBLICKEYBYTES, crypto_sign_PUBLICKEYBYTES,
                            k.public_key_) != 0) {
    return Status::ParseError(printable_text(path) + ": the key pair is malformed or does not match");
  }
  k.key_id_ = key_id_of(k.public_key_);
  return k;
}

std::string SigningKey::sign(std::string_view message) const {
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_key_.data()));
  return signature;
}

}  // namespace flopsmeter
