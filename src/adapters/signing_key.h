// Ed25519 keys for the ledger's tree heads (libsodium): a key file readable
// by its owner alone, detached signatures, and their verification.
#ifndef FLOPSMETER_ADAPTERS_SIGNING_KEY_H_
#define FLOPSMETER_ADAPTERS_SIGNING_KEY_H_

#include <string>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

inline constexpr size_t kPublicKeyBytes = 32;
inline constexpr size_t kSignatureBytes = 64;

class SigningKey {
 public:
  // A new key pair written to `path` (JSON, mode 0600, created with O_EXCL:
  // never over an existing file; its directory is created 0700). Errors:
  // kInvalidArgument naming an existing path, kIoError.
  static Result<SigningKey> Generate(const std::string& path);
  // A new key pair for `path`, in memory only: Save() writes it (as
  // Generate does), so that a key made for a write that is then refused
  // leaves no file behind.
  static Result<SigningKey> Create(const std::string& path);
  Status Save() const;
  // The key in `path`. Errors name the file: missing (kNotFound), not a
  // regular file or readable by others than its owner (kInvalidArgument: a
  // secret key must not be), malformed (kParseError).
  static Result<SigningKey> Load(const std::string& path);

  const std::string& public_key() const { return public_key_; }  // raw bytes
  const std::string& key_id() const { return key_id_; }
  const std::string& path() const { return path_; }
  std::string sign(std::string_view message) const;  // raw signature bytes

 private:
  std::string path_;
  std::string public_key_;
  std::string secret_key_;  // libsodium's 64-byte form (seed + public key)
  std::string key_id_;
};

// "ed25519:" + the first 32 hex digits of SHA-256(public key): short enough
// to read out, long enough that no two keys of one ledger share it.
std::string key_id_of(std::string_view public_key);
bool verify_signature(std::string_view public_key, std::string_view message, std::string_view signature);

// Lowercase hex, and back (errors name `what`).
std::string to_hex(std::string_view bytes);
Result<std::string> from_hex(std::string_view hex, std::string_view what);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_SIGNING_KEY_H_
