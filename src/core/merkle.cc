#include "core/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <span>
#include <utility>

#include "core/json_doc.h"  // printable_text

namespace flopsmeter::merkle {
namespace {

// Domain separation of RFC 6962 2.1: a leaf can never be read as a node.
constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// SHA-256 over the concatenation of `parts`. A million-leaf tree takes two
// million hashes, so the digest is fetched once and each thread reuses one
// context instead of allocating per hash. libcrypto fails here only when it
// cannot allocate or is broken; a ledger must not go on with a wrong hash, so
// that aborts.
Hash sha256_of(std::initializer_list<std::span<const uint8_t>> parts) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                                     &EVP_MD_CTX_free);
  Hash out;
  unsigned int length = 0;
  bool ok = kSha256 != nullptr && context != nullptr && EVP_DigestInit_ex2(context.get(), kSha256, nullptr) == 1;
  for (std::span<const uint8_t> part : parts) {
    ok = ok && EVP_DigestUpdate(context.get(), part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(context.get(), out.data(), &length) == 1 && length == out.size();
  if (!ok) std::abort();
  return out;
}

// The k of RFC 6962 2.1: the largest power of two smaller than n.
// REQUIRES: n > 1.
uint64_t split_point(uint64_t n) { return std::bit_floor(n - 1); }

// MTH(D[begin:end]) in O(end - begin) time and O(log) memory.
Hash range_root(uint64_t begin, uint64_t end, const LeafSource& leaves) {
  CompactRange range;
  for (uint64_t i = begin; i < end; ++i) range.append(leaves(i));
  return range.root();
}

}  // namespace

Hash leaf_hash(std::string_view leaf) {
  const uint8_t prefix = kLeafPrefix;
  return sha256_of({{&prefix, 1}, {reinterpret_cast<const uint8_t*>(leaf.data()), leaf.size()}});
}

Hash node_hash(const Hash& left, const Hash& right) {
  const uint8_t prefix = kNodePrefix;
  return sha256_of({{&prefix, 1}, left, right});
}

Hash empty_root() { return sha256_of({}); }

std::string to_hex(const Hash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * hash.size());
  for (uint8_t byte : hash) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xF];
  }
  return out;
}

Result<Hash> from_hex(std::string_view hex, std::string_view what) {
  Hash out{};
  if (hex.size() != 2 * out.size()) {
    return Status::ParseError(printable_text(what) + ": expected 64 lowercase hex digits, got " +
                              std::to_string(hex.size()) + " characters");
  }
  // Lowercase only: a hash has one spelling, so stored text compares as text.
  const auto digit_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); ++i) {
    const int value = digit_value(hex[i]);
    if (value < 0) {
      return Status::ParseError(printable_text(what) + ": character " + std::to_string(i + 1) + " ('" +
                                printable_text(hex.substr(i, 1)) + "') is not a lowercase hex digit");
    }
    out[i / 2] = static_cast<uint8_t>(i % 2 == 0 ? value << 4 : out[i / 2] | value);
  }
  return out;
}

Hash root(uint64_t size, const LeafSource& leaves) { return range_root(0, size, leaves); }

Result<CompactRange> CompactRange::FromSubtrees(uint64_t size, std::vector<Hash> subtrees) {
  const auto expected = static_cast<size_t>(std::popcount(size));
  if (subtrees.size() != expected) {
    return Status::ParseError("a Merkle tree of " + std::to_string(size) + " leaves has " + std::to_string(expected) +
                              " perfect subtrees (one per set bit of its size), got " +
                              std::to_string(subtrees.size()) + " subtree hashes");
  }
  CompactRange range;
  range.size_ = size;
  range.subtrees_ = std::move(subtrees);
  return range;
}

void CompactRange::append(const Hash& leaf) {
  // Each trailing 1 bit of the size is a perfect subtree as large as the one
  // being carried: they merge, like a binary increment's carries.
  Hash carry = leaf;
  for (uint64_t bits = size_; (bits & 1) != 0; bits >>= 1) {
    carry = node_hash(subtrees_.back(), carry);
    subtrees_.pop_back();
  }
  subtrees_.push_back(carry);
  ++size_;
}

Hash CompactRange::root() const {
  if (subtrees_.empty()) return empty_root();
  // MTH splits at the largest power of two, so the root folds the subtrees
  // from the smallest (rightmost) up.
  Hash hash = subtrees_.back();
  for (auto it = subtrees_.rbegin() + 1; it != subtrees_.rend(); ++it) hash = node_hash(*it, hash);
  return hash;
}

std::vector<Hash> inclusion_proof(uint64_t index, uint64_t size, const LeafSource& leaves) {
  // PATH(m, D[n]) of RFC 6962 2.1.1, unrolled: descend from the root toward
  // the leaf, taking the sibling subtree's hash at each split. The path lists
  // them leaf first.
  std::vector<Hash> path;
  if (index >= size) return path;
  uint64_t begin = 0;
  uint64_t end = size;
  while (end - begin > 1) {
    const uint64_t middle = begin + split_point(end - begin);
    if (index < middle) {
      path.push_back(range_root(middle, end, leaves));
      end = middle;
    } else {
      path.push_back(range_root(begin, middle, leaves));
      begin = middle;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

bool verify_inclusion(const Hash& leaf, uint64_t index, uint64_t size, const std::vector<Hash>& path,
                      const Hash& root) {
  // RFC 9162 2.1.3.2, step for step: fn is the node's index at its level, sn
  // the last index at that level; a node with fn == sn and no right sibling
  // rises without hashing.
  if (index >= size) return false;
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

std::vector<Hash> consistency_proof(uint64_t old_size, uint64_t new_size, const LeafSource& leaves) {
  // PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 6962 2.1.2, unrolled:
  // descend while the old tree ends inside the current subtree; each step
  // contributes the hash of the other half. Where the old tree is a whole
  // left part of a subtree (`whole` false), that subtree's own hash is the
  // first element; the verifier knows it already when it is the old root.
  std::vector<Hash> proof;
  if (old_size == 0 || old_size > new_size) return proof;
  uint64_t begin = 0;
  uint64_t end = new_size;
  bool whole = true;
  while (end != old_size) {
    const uint64_t middle = begin + split_point(end - begin);
    if (old_size <= middle) {
      proof.push_back(range_root(middle, end, leaves));
      end = middle;
    } else {
      proof.push_back(range_root(begin, middle, leaves));
      begin = middle;
      whole = false;
    }
  }
  if (!whole) proof.push_back(range_root(begin, end, leaves));
  std::reverse(proof.begin(), proof.end());
  return proof;
}

namespace {

// RFC 9162 2.1.4.2 steps 2 to 7 for 0 < old_size < new_size.
bool verify_consistency_path(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                             std::span<const Hash> proof) {
  if (proof.empty()) return false;
  // Step 2: a power-of-two old tree is a node of the new one; the proof
  // leaves its hash out, and the verifier starts from the old root.
  const bool starts_at_old_root = std::has_single_bit(old_size);
  const Hash& first = starts_at_old_root ? old_root : proof.front();
  const std::span<const Hash> rest = starts_at_old_root ? proof : proof.subspan(1);
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = first;
  Hash sr = first;
  for (const Hash& c : rest) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

}  // namespace

bool verify_consistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                        const std::vector<Hash>& proof) {
  if (old_size > new_size) return false;
  // Equal sizes: the same tree, proven by nothing but equal roots.
  if (old_size == new_size) {
    return proof.empty() && old_root == new_root && (old_size != 0 || old_root == empty_root());
  }
  // Every tree extends the empty one, whose root is fixed.
  if (old_size == 0) return proof.empty() && old_root == empty_root();
  return verify_consistency_path(old_size, new_size, old_root, new_root, proof);
}

}  // namespace flopsmeter::merkle
