// The append-only Merkle tree of the audit ledger, as Certificate
// Transparency defines it (RFC 6962, section 2.1; the same algorithms are in
// RFC 9162, section 2.1): SHA-256, leaf hashes over 0x00 || leaf bytes,
// interior nodes over 0x01 || left || right, the tree of n leaves split at the
// largest power of two smaller than n. Inclusion proofs (audit paths) show
// that a leaf is in a tree of a given root; consistency proofs show that a
// tree of size n extends, unchanged, the tree of size m < n whose root
// someone kept.
//
// Pure computation over byte strings: no I/O. Thread safety: every function
// is reentrant; a CompactRange is a value.
#ifndef FLOPSMETER_CORE_MERKLE_H_
#define FLOPSMETER_CORE_MERKLE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter::merkle {

using Hash = std::array<uint8_t, 32>;

// SHA-256(0x00 || leaf).
Hash leaf_hash(std::string_view leaf);
// SHA-256(0x01 || left || right).
Hash node_hash(const Hash& left, const Hash& right);
// The root of the empty tree: SHA-256 of the empty string (RFC 6962 2.1).
Hash empty_root();

// 64 lowercase hex digits, and back. from_hex takes lowercase only, so that
// a hash has one spelling; its errors (kParseError) name `what` and say why
// (length, a character that is not a lowercase hex digit).
std::string to_hex(const Hash& hash);
Result<Hash> from_hex(std::string_view hex, std::string_view what);

// The leaf hashes of a tree, by index; called with indices below the size
// asked for only.
using LeafSource = std::function<Hash(uint64_t index)>;

// MTH(D[0:size]): the root of the tree of the first `size` leaves, in O(size)
// time and O(log size) memory.
Hash root(uint64_t size, const LeafSource& leaves);

// The right edge of a tree: the roots of its maximal perfect subtrees, left
// to right (one per set bit of its size). Enough to append a leaf and to get
// the root in O(log size), so an append never rereads the tree.
class CompactRange {
 public:
  CompactRange() = default;
  // The range of a tree of `size` leaves from its stored `subtrees`.
  // Errors: kParseError when the count of subtrees is not the number of set
  // bits of `size`.
  static Result<CompactRange> FromSubtrees(uint64_t size, std::vector<Hash> subtrees);

  // Adds the leaf hash `leaf` on the right. REQUIRES: size() < 2^64 - 1.
  void append(const Hash& leaf);
  uint64_t size() const { return size_; }
  Hash root() const;  // MTH of the tree so far; empty_root() for size 0
  const std::vector<Hash>& subtrees() const { return subtrees_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> subtrees_;
};

// PATH(index, D[0:size]): the audit path of leaf `index` in the tree of
// `size` leaves, the leaf's sibling first. REQUIRES: index < size (otherwise
// the path is empty). O(size) time, O(log size) memory.
std::vector<Hash> inclusion_proof(uint64_t index, uint64_t size, const LeafSource& leaves);
// Whether `path` proves `leaf` (a leaf hash) at `index` in a tree of `size`
// leaves with `root` (RFC 9162 2.1.3.2). The size is bound only through the
// root: a path can also fit another size whose tree has the same shape
// around the leaf (leaf 0 of 3 and of 4), so take size and root from one
// signed tree head.
bool verify_inclusion(const Hash& leaf, uint64_t index, uint64_t size, const std::vector<Hash>& path, const Hash& root);

// PROOF(old_size, D[0:new_size]): the consistency proof between the trees of
// `old_size` and `new_size` leaves; empty when the sizes are equal.
// REQUIRES: 0 < old_size <= new_size (otherwise the proof is empty).
// O(new_size) time, O(log new_size) memory.
std::vector<Hash> consistency_proof(uint64_t old_size, uint64_t new_size, const LeafSource& leaves);
// Whether `proof` shows that the tree of `new_size` leaves with `new_root`
// extends the tree of `old_size` leaves with `old_root` (RFC 9162 2.1.4.2).
// Equal sizes need an empty proof and equal roots; an old size of 0 needs an
// empty proof and the empty root (every tree extends the empty tree), which
// RFC 9162 leaves undefined.
bool verify_consistency(uint64_t old_size, uint64_t new_size, const Hash& old_root, const Hash& new_root,
                        const std::vector<Hash>& proof);

}  // namespace flopsmeter::merkle

#endif  // FLOPSMETER_CORE_MERKLE_H_
