// The ledger's Merkle tree (src/core/merkle.h) against RFC 6962's
// definitions and the published reference data of Certificate Transparency:
//
//   RFC 6962 2.1     https://www.rfc-editor.org/rfc/rfc6962#section-2.1
//   RFC 9162 2.1.3.2 https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2
//   RFC 9162 2.1.4.2 https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2
//   github.com/transparency-dev/merkle (the Go code Trillian and the CT logs
//   use; the same data was in google/trillian merkle/ and
//   google/certificate-transparency-go merkle/ before it moved there):
//     testonly/constants.go   the 8 reference leaves, every node hash of
//                             their tree, the root of every prefix, the
//                             compact ranges of every prefix
//     proof/verify_test.go    inclusion paths and consistency proofs of
//                             that tree, and the probes a verifier must
//                             refuse
//     rfc6962/rfc6962_test.go the empty root, empty-leaf and leaf hashes
//
// The exhaustive tests compare every size up to 64 with a naive recursive
// implementation of the RFC's own definitions, written below.
#include "core/merkle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flopsmeter::merkle {
namespace {

Hash H(std::string_view hex) {
  Result<Hash> hash = from_hex(hex, "test vector");
  EXPECT_TRUE(hash.ok()) << hash.status().ToString();
  return hash.ok() ? *hash : Hash{};
}

std::string bytes(std::initializer_list<uint8_t> values) { return std::string(values.begin(), values.end()); }

// testonly/constants.go, LeafInputs(): the leaf data d0..d7.
const std::vector<std::string>& reference_leaf_data() {
  static const std::vector<std::string> kLeaves = {
      bytes({}),
      bytes({0x00}),
      bytes({0x10}),
      bytes({0x20, 0x21}),
      bytes({0x30, 0x31}),
      bytes({0x40, 0x41, 0x42, 0x43}),
      bytes({0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57}),
      bytes({0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f}),
  };
  return kLeaves;
}

// testonly/constants.go, RootHashes(): MTH of the first n reference leaves,
// n = 0..8.
const std::vector<Hash>& reference_roots() {
  static const std::vector<Hash> kRoots = {
      H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
      H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
      H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
      H("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
      H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
      H("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
      H("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
      H("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
      H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
  };
  return kRoots;
}

// testonly/constants.go, NodeHashes(): [level][index] of the 8-leaf tree.
const std::vector<std::vector<Hash>>& reference_nodes() {
  static const std::vector<std::vector<Hash>> kNodes = {
      {H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
       H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
       H("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
       H("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
       H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
       H("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
       H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
       H("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1")},
      {H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
       H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
       H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
       H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")},
      {H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
       H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")},
      {H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")},
  };
  return kNodes;
}

std::vector<Hash> leaf_hashes_of(const std::vector<std::string>& data) {
  std::vector<Hash> out;
  for (const std::string& d : data) out.push_back(leaf_hash(d));
  return out;
}

LeafSource source_of(const std::vector<Hash>& hashes) {
  return [&hashes](uint64_t index) { return hashes.at(index); };
}

// ---- A naive reference, straight from RFC 6962 2.1's recursive definitions.
using Leaves = std::vector<Hash>;

Leaves slice(const Leaves& d, size_t begin, size_t end) { return Leaves(d.begin() + begin, d.begin() + end); }

size_t largest_power_of_two_below(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH(D[n]) over leaf hashes.
Hash naive_mth(const Leaves& d) {
  if (d.empty()) return empty_root();
  if (d.size() == 1) return d[0];
  const size_t k = largest_power_of_two_below(d.size());
  return node_hash(naive_mth(slice(d, 0, k)), naive_mth(slice(d, k, d.size())));
}

// PATH(m, D[n]), RFC 6962 2.1.1.
std::vector<Hash> naive_path(size_t m, const Leaves& d) {
  if (d.size() <= 1) return {};
  const size_t k = largest_power_of_two_below(d.size());
  std::vector<Hash> path;
  if (m < k) {
    path = naive_path(m, slice(d, 0, k));
    path.push_back(naive_mth(slice(d, k, d.size())));
  } else {
    path = naive_path(m - k, slice(d, k, d.size()));
    path.push_back(naive_mth(slice(d, 0, k)));
  }
  return path;
}

// The sides of the siblings on PATH(m, D[n]), leaf first: true where the
// sibling is on the right. Two trees hash a path alike exactly when these
// agree.
std::vector<bool> naive_path_shape(size_t m, size_t n) {
  if (n <= 1) return {};
  const size_t k = largest_power_of_two_below(n);
  std::vector<bool> shape = m < k ? naive_path_shape(m, k) : naive_path_shape(m - k, n - k);
  shape.push_back(m < k);
  return shape;
}

// SUBPROOF(m, D[n], b), RFC 6962 2.1.2.
std::vector<Hash> naive_subproof(size_t m, const Leaves& d, bool b) {
  const size_t n = d.size();
  if (m == n) return b ? std::vector<Hash>{} : std::vector<Hash>{naive_mth(d)};
  const size_t k = largest_power_of_two_below(n);
  std::vector<Hash> proof;
  if (m <= k) {
    proof = naive_subproof(m, slice(d, 0, k), b);
    proof.push_back(naive_mth(slice(d, k, n)));
  } else {
    proof = naive_subproof(m - k, slice(d, k, n), false);
    proof.push_back(naive_mth(slice(d, 0, k)));
  }
  return proof;
}

std::vector<Hash> naive_proof(size_t m, const Leaves& d) { return naive_subproof(m, d, true); }

// Leaf hashes of "leaf 0", "leaf 1", ... for the exhaustive tests.
const Leaves& generated_leaves() {
  static const Leaves kLeaves = [] {
    Leaves leaves;
    for (int i = 0; i < 1000; ++i) leaves.push_back(leaf_hash("leaf " + std::to_string(i)));
    return leaves;
  }();
  return kLeaves;
}

constexpr size_t kExhaustiveMaxSize = 64;

Hash flip_byte(Hash hash, size_t byte) {
  hash[byte] ^= 0x01;
  return hash;
}

// Every single-byte change of every element, every element replaced by
// another hash, every adjacent pair swapped, an element dropped at either
// end or added at either end: proofs that must all fail.
std::vector<std::vector<Hash>> tampered(const std::vector<Hash>& proof, const Hash& other) {
  std::vector<std::vector<Hash>> out;
  for (size_t i = 0; i < proof.size(); ++i) {
    for (size_t byte = 0; byte < proof[i].size(); ++byte) {
      out.push_back(proof);
      out.back()[i] = flip_byte(proof[i], byte);
    }
    out.push_back(proof);
    out.back()[i] = other;
    if (i + 1 < proof.size()) {
      out.push_back(proof);
      std::swap(out.back()[i], out.back()[i + 1]);
    }
  }
  if (!proof.empty()) {
    out.emplace_back(proof.begin() + 1, proof.end());
    out.emplace_back(proof.begin(), proof.end() - 1);
  }
  out.push_back(proof);
  out.back().push_back(other);
  out.push_back(proof);
  out.back().insert(out.back().begin(), other);
  return out;
}

// ---------------------------------------------------------------- hashes

TEST(MerkleHashTest, MatchesTheRfc6962HasherVectors) {
  // rfc6962/rfc6962_test.go, TestRFC6962Hasher.
  EXPECT_EQ(to_hex(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(leaf_hash("")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(to_hex(leaf_hash("L123456")), "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
}

TEST(MerkleHashTest, SeparatesLeavesFromNodesAndOrdersChildren) {
  // After rfc6962/rfc6962_test.go, TestRFC6962HasherCollisions: a node is
  // not the leaf of its children's concatenation, and order matters.
  const Hash a = leaf_hash("Hello");
  const Hash b = leaf_hash("World");
  EXPECT_NE(a, b);
  const std::string both = std::string(a.begin(), a.end()) + std::string(b.begin(), b.end());
  EXPECT_NE(node_hash(a, b), leaf_hash(both));
  EXPECT_NE(node_hash(a, b), node_hash(b, a));
  EXPECT_NE(leaf_hash(""), empty_root());
}

TEST(MerkleHashTest, EveryReferenceNodeIsTheHashOfItsChildren) {
  const std::vector<std::vector<Hash>>& nodes = reference_nodes();
  const Leaves leaves = leaf_hashes_of(reference_leaf_data());
  ASSERT_EQ(nodes[0], leaves);
  for (size_t level = 1; level < nodes.size(); ++level) {
    for (size_t i = 0; i < nodes[level].size(); ++i) {
      EXPECT_EQ(nodes[level][i], node_hash(nodes[level - 1][2 * i], nodes[level - 1][2 * i + 1]))
          << "level " << level << " index " << i;
    }
  }
}

// ---------------------------------------------------------------- hex

TEST(MerkleHexTest, RoundTripsLowercaseHex) {
  const Hash hash = leaf_hash("x");
  const std::string hex = to_hex(hash);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  Result<Hash> back = from_hex(hex, "root");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, hash);
  Hash every_byte{};
  for (size_t i = 0; i < every_byte.size(); ++i) every_byte[i] = static_cast<uint8_t>(i * 8 + 7);
  EXPECT_EQ(from_hex(to_hex(every_byte), "x").value(), every_byte);
}

TEST(MerkleHexTest, RefusesWrongLengthsAndDigitsNamingTheField) {
  const std::string good = to_hex(leaf_hash("x"));
  Result<Hash> short_hex = from_hex(good.substr(1), "checkpoint root");
  EXPECT_EQ(short_hex.status().code(), StatusCode::kParseError);
  EXPECT_EQ(short_hex.status().message(), "checkpoint root: expected 64 lowercase hex digits, got 63 characters");
  EXPECT_FALSE(from_hex(good + "0", "root").ok());
  EXPECT_FALSE(from_hex("", "root").ok());

  std::string upper = good;
  upper[5] = 'A';
  Result<Hash> bad_digit = from_hex(upper, "entry 7 hash");
  EXPECT_EQ(bad_digit.status().code(), StatusCode::kParseError);
  EXPECT_EQ(bad_digit.status().message(), "entry 7 hash: character 6 ('A') is not a lowercase hex digit");
  std::string control = good;
  control[63] = '\x1b';
  EXPECT_EQ(from_hex(control, "h").status().message(), "h: character 64 ('\\x1b') is not a lowercase hex digit");
  for (char c : std::string("gG -xz")) {
    std::string bad = good;
    bad[0] = c;
    EXPECT_FALSE(from_hex(bad, "h").ok()) << c;
  }
}

// ---------------------------------------------------------------- roots

TEST(MerkleRootTest, MatchesTheReferenceRootOfEveryPrefix) {
  const Leaves leaves = leaf_hashes_of(reference_leaf_data());
  for (uint64_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(to_hex(root(n, source_of(leaves))), to_hex(reference_roots()[n])) << "size " << n;
  }
}

TEST(MerkleRootTest, EqualsTheRecursiveDefinitionUpTo64Leaves) {
  const Leaves& all = generated_leaves();
  for (size_t n = 0; n <= kExhaustiveMaxSize; ++n) {
    EXPECT_EQ(root(n, source_of(all)), naive_mth(slice(all, 0, n))) << "size " << n;
  }
}

TEST(MerkleRootTest, ReadsEachLeafOnceInOrder) {
  const Leaves& all = generated_leaves();
  std::vector<uint64_t> reads;
  const Hash r = root(37, [&](uint64_t i) {
    reads.push_back(i);
    return all.at(i);
  });
  EXPECT_EQ(r, naive_mth(slice(all, 0, 37)));
  std::vector<uint64_t> expected(37);
  for (uint64_t i = 0; i < 37; ++i) expected[i] = i;
  EXPECT_EQ(reads, expected);
}

// ---------------------------------------------------------------- compact ranges

TEST(MerkleCompactRangeTest, HoldsTheReferenceSubtreesOfEveryPrefix) {
  // testonly/constants.go, CompactTrees(): the right edge of each prefix.
  const std::vector<std::vector<Hash>>& nh = reference_nodes();
  const std::vector<std::vector<Hash>> expected = {
      {},
      {nh[0][0]},
      {nh[1][0]},
      {nh[1][0], nh[0][2]},
      {nh[2][0]},
      {nh[2][0], nh[0][4]},
      {nh[2][0], nh[1][2]},
      {nh[2][0], nh[1][2], nh[0][6]},
      {nh[3][0]},
  };
  const Leaves leaves = leaf_hashes_of(reference_leaf_data());
  CompactRange range;
  EXPECT_EQ(range.subtrees(), expected[0]);
  EXPECT_EQ(range.root(), empty_root());
  for (size_t n = 1; n <= leaves.size(); ++n) {
    range.append(leaves[n - 1]);
    EXPECT_EQ(range.size(), n);
    EXPECT_EQ(range.subtrees(), expected[n]) << "size " << n;
    EXPECT_EQ(range.root(), reference_roots()[n]) << "size " << n;
  }
}

TEST(MerkleCompactRangeTest, EqualsTheRootAndRoundTripsForSizesUpTo1000) {
  const Leaves& all = generated_leaves();
  CompactRange range;
  for (size_t n = 0; n <= all.size(); ++n) {
    ASSERT_EQ(range.size(), n);
    EXPECT_EQ(range.subtrees().size(), static_cast<size_t>(std::popcount(n))) << "size " << n;
    // The RFC's recursion itself, independent of root() (which appends).
    const Hash expected = naive_mth(slice(all, 0, n));
    ASSERT_EQ(range.root(), expected) << "size " << n;
    ASSERT_EQ(root(n, source_of(all)), expected) << "size " << n;
    Result<CompactRange> restored = CompactRange::FromSubtrees(n, range.subtrees());
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_EQ(restored->size(), n);
    EXPECT_EQ(restored->root(), expected);
    if (n < all.size()) {
      // A restored range appends like the one it was saved from.
      restored->append(all[n]);
      range.append(all[n]);
      EXPECT_EQ(restored->subtrees(), range.subtrees()) << "size " << n + 1;
    }
  }
}

TEST(MerkleCompactRangeTest, FromSubtreesRefusesAWrongSubtreeCount) {
  const Hash h = leaf_hash("x");
  Result<CompactRange> too_few = CompactRange::FromSubtrees(5, {h});
  EXPECT_EQ(too_few.status().code(), StatusCode::kParseError);
  EXPECT_EQ(too_few.status().message(),
            "a Merkle tree of 5 leaves has 2 perfect subtrees (one per set bit of its size), got 1 subtree hashes");
  EXPECT_EQ(CompactRange::FromSubtrees(5, {h, h, h}).status().code(), StatusCode::kParseError);
  EXPECT_EQ(CompactRange::FromSubtrees(0, {h}).status().code(), StatusCode::kParseError);
  EXPECT_EQ(CompactRange::FromSubtrees(1, {}).status().code(), StatusCode::kParseError);
  EXPECT_EQ(CompactRange::FromSubtrees(uint64_t{1} << 40, {h, h}).status().code(), StatusCode::kParseError);
  EXPECT_TRUE(CompactRange::FromSubtrees(0, {}).ok());
  EXPECT_TRUE(CompactRange::FromSubtrees(uint64_t{1} << 40, {h}).ok());
  EXPECT_TRUE(CompactRange::FromSubtrees(~uint64_t{0} - 1, std::vector<Hash>(63, h)).ok());
}

// ---------------------------------------------------------------- inclusion

struct InclusionVector {
  uint64_t index;
  uint64_t size;
  std::vector<Hash> path;
};

// proof/verify_test.go, inclusionProofs (whose leaf numbers are 1-based;
// here they are indices).
std::vector<InclusionVector> reference_inclusion_vectors() {
  return {
      {0, 1, {}},
      {0,
       8,
       {H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}},
      {5,
       8,
       {H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
      {2, 3, {H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")}},
      {1,
       5,
       {H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")}},
  };
}

TEST(MerkleInclusionTest, ReproducesAndVerifiesTheReferencePaths) {
  const Leaves leaves = leaf_hashes_of(reference_leaf_data());
  for (const InclusionVector& v : reference_inclusion_vectors()) {
    SCOPED_TRACE("leaf " + std::to_string(v.index) + " of " + std::to_string(v.size));
    EXPECT_EQ(inclusion_proof(v.index, v.size, source_of(leaves)), v.path);
    EXPECT_TRUE(verify_inclusion(leaves[v.index], v.index, v.size, v.path, reference_roots()[v.size]));
  }
}

TEST(MerkleInclusionTest, RefusesTheReferenceVerifierProbes) {
  // proof/verify_test.go, corruptInclusionProof: the probes its verifier
  // must refuse, for the same paths.
  const Leaves leaves = leaf_hashes_of(reference_leaf_data());
  const Hash some_hash = H("abacaba000000000000000000000000000000000000000000060061e00123456");
  for (const InclusionVector& v : reference_inclusion_vectors()) {
    if (v.path.empty()) continue;  // the Go test starts at its second vector
    SCOPED_TRACE("leaf " + std::to_string(v.index) + " of " + std::to_string(v.size));
    const Hash& leaf = leaves[v.index];
    const Hash& r = reference_roots()[v.size];
    EXPECT_FALSE(verify_inclusion(leaf, v.index - 1, v.size, v.path, r));
    EXPECT_FALSE(verify_inclusion(leaf, v.index + 1, v.size, v.path, r));
    EXPECT_FALSE(verify_inclusion(leaf, v.index ^ 2, v.size, v.path, r));
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size * 2, v.path, r));
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size / 2, v.path, r));
    EXPECT_FALSE(verify_inclusion(leaf_hash("WrongLeaf"), v.index, v.size, v.path, r));
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size, v.path, empty_root()));
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size, v.path, some_hash));
    for (const std::vector<Hash>& bad : tampered(v.path, r)) {
      EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size, bad, r));
    }
  }
}

TEST(MerkleInclusionTest, EqualsTheRecursiveDefinitionForEveryLeafUpTo64) {
  const Leaves& all = generated_leaves();
  for (size_t n = 1; n <= kExhaustiveMaxSize; ++n) {
    const Leaves d = slice(all, 0, n);
    const Hash r = naive_mth(d);
    for (size_t i = 0; i < n; ++i) {
      const std::vector<Hash> path = inclusion_proof(i, n, source_of(all));
      ASSERT_EQ(path, naive_path(i, d)) << "leaf " << i << " of " << n;
      EXPECT_TRUE(verify_inclusion(all[i], i, n, path, r)) << "leaf " << i << " of " << n;
    }
  }
}

TEST(MerkleInclusionTest, EveryTamperedPathFailsUpTo64) {
  const Leaves& all = generated_leaves();
  for (size_t n = 1; n <= kExhaustiveMaxSize; ++n) {
    const Hash r = naive_mth(slice(all, 0, n));
    for (size_t i = 0; i < n; ++i) {
      const std::vector<Hash> path = naive_path(i, slice(all, 0, n));
      for (const std::vector<Hash>& bad : tampered(path, all[n])) {
        ASSERT_FALSE(verify_inclusion(all[i], i, n, bad, r)) << "leaf " << i << " of " << n;
      }
      ASSERT_FALSE(verify_inclusion(flip_byte(all[i], 0), i, n, path, r));
      ASSERT_FALSE(verify_inclusion(all[i], i, n, path, flip_byte(r, 31)));
    }
  }
}

TEST(MerkleInclusionTest, AWrongIndexFailsAndAWrongSizeFailsWithItsOwnRoot) {
  const Leaves& all = generated_leaves();
  std::vector<Hash> roots;
  for (size_t n = 0; n <= kExhaustiveMaxSize + 8; ++n) roots.push_back(naive_mth(slice(all, 0, n)));
  for (size_t n = 1; n <= kExhaustiveMaxSize; ++n) {
    for (size_t i = 0; i < n; ++i) {
      const std::vector<Hash> path = naive_path(i, slice(all, 0, n));
      for (size_t other = 0; other < n + 8; ++other) {
        if (other == i) continue;
        ASSERT_FALSE(verify_inclusion(all[i], other, n, path, roots[n])) << i << " as " << other << " of " << n;
        // The leaf that really sits at the other index does not fit this path either.
        if (other < n) {
          ASSERT_FALSE(verify_inclusion(all[other], other, n, path, roots[n]));
        }
      }
      for (size_t size = 0; size < roots.size(); ++size) {
        if (size == n) continue;
        ASSERT_FALSE(verify_inclusion(all[i], i, size, path, roots[size])) << i << " of " << n << " as of " << size;
      }
    }
  }
}

TEST(MerkleInclusionTest, ThePathBindsTheSizeOnlyThroughTheRoot) {
  // Leaf 0's path in 3 leaves [d1, d2] hashes like a path in 4 leaves, so
  // with the 3-leaf root it verifies as a claim about 4 leaves: the RFC's
  // verifier accepts exactly when the two trees have the same shape around
  // the leaf. Size and root must come from one signed tree head.
  const Leaves& all = generated_leaves();
  const std::vector<Hash> path03 = naive_path(0, slice(all, 0, 3));
  EXPECT_TRUE(verify_inclusion(all[0], 0, 4, path03, naive_mth(slice(all, 0, 3))));
  for (size_t n = 1; n <= kExhaustiveMaxSize; ++n) {
    const Hash r = naive_mth(slice(all, 0, n));
    for (size_t i = 0; i < n; ++i) {
      const std::vector<Hash> path = naive_path(i, slice(all, 0, n));
      for (size_t size = i + 1; size <= kExhaustiveMaxSize + 8; ++size) {
        ASSERT_EQ(verify_inclusion(all[i], i, size, path, r), naive_path_shape(i, size) == naive_path_shape(i, n))
            << i << " of " << n << " as of " << size;
      }
    }
  }
}

TEST(MerkleInclusionTest, RefusesImpossibleIndicesAndSizes) {
  // proof/verify_test.go, TestVerifyInclusion's probes, and their generation side.
  const Hash leaf = leaf_hash("data");
  for (auto [index, size] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}, {1, 0}, {1, 1}, {2, 1}, {5, 5}}) {
    EXPECT_FALSE(verify_inclusion(leaf, index, size, {}, leaf)) << index << " of " << size;
    EXPECT_FALSE(verify_inclusion(leaf, index, size, {}, empty_root())) << index << " of " << size;
    EXPECT_TRUE(inclusion_proof(index, size, source_of(generated_leaves())).empty());
  }
  // A one-leaf tree: the leaf is the root and the path is empty.
  EXPECT_TRUE(verify_inclusion(leaf, 0, 1, {}, leaf));
  EXPECT_FALSE(verify_inclusion(leaf, 0, 1, {leaf}, leaf));
  EXPECT_FALSE(verify_inclusion(leaf, 0, 1, {}, empty_root()));
  EXPECT_FALSE(verify_inclusion(leaf, UINT64_MAX, UINT64_MAX, {}, leaf));
}

TEST(MerkleInclusionTest, ReadsEveryOtherLeafOnceAndNeverTheLeafItself) {
  const Leaves& all = generated_leaves();
  for (uint64_t index : {0u, 17u, 63u, 99u}) {
    std::map<uint64_t, int> reads;
    const std::vector<Hash> path = inclusion_proof(index, 100, [&](uint64_t i) {
      ++reads[i];
      return all.at(i);
    });
    EXPECT_EQ(path, naive_path(index, slice(all, 0, 100)));
    EXPECT_EQ(reads.size(), 99u);
    EXPECT_EQ(reads.count(index), 0u);
    for (auto [i, count] : reads) EXPECT_EQ(count, 1) << "leaf " << i;
  }
}

// ---------------------------------------------------------------- consistency

struct ConsistencyVector {
  uint64_t old_size;
  uint64_t new_size;
  std::vector<Hash> proof;
};

// proof/verify_test.go, consistencyProofs.
std::vector<ConsistencyVector> reference_consistency_vectors() {
  return {
      {1, 1, {}},
      {1,
       8,
       {H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")}},
      {6,
       8,
       {H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
      {2,
       5,
       {H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")}},
      {6,
       7,
       {H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")}},
  };
}

TEST(MerkleConsistencyTest, ReproducesAndVerifiesTheReferenceProofs) {
  const Leaves leaves = leaf_hashes_of(reference_leaf_data());
  for (const ConsistencyVector& v : reference_consistency_vectors()) {
    SCOPED_TRACE(std::to_string(v.old_size) + " to " + std::to_string(v.new_size));
    EXPECT_EQ(consistency_proof(v.old_size, v.new_size, source_of(leaves)), v.proof);
    EXPECT_TRUE(verify_consistency(v.old_size, v.new_size, reference_roots()[v.old_size],
                                   reference_roots()[v.new_size], v.proof));
  }
}

TEST(MerkleConsistencyTest, RefusesTheReferenceVerifierProbes) {
  // proof/verify_test.go, corruptConsistencyProof, for the non-empty proofs.
  for (const ConsistencyVector& v : reference_consistency_vectors()) {
    if (v.proof.empty()) continue;
    SCOPED_TRACE(std::to_string(v.old_size) + " to " + std::to_string(v.new_size));
    const uint64_t m = v.old_size;
    const uint64_t n = v.new_size;
    const Hash& r1 = reference_roots()[m];
    const Hash& r2 = reference_roots()[n];
    const Hash wrong = leaf_hash("WrongRoot");
    EXPECT_FALSE(verify_consistency(m - 1, n, r1, r2, v.proof));
    EXPECT_FALSE(verify_consistency(m + 1, n, r1, r2, v.proof));
    EXPECT_FALSE(verify_consistency(m ^ 2, n, r1, r2, v.proof));
    EXPECT_FALSE(verify_consistency(m, n * 2, r1, r2, v.proof));
    EXPECT_FALSE(verify_consistency(m, n / 2, r1, r2, v.proof));
    EXPECT_FALSE(verify_consistency(m, n, wrong, r2, v.proof));
    EXPECT_FALSE(verify_consistency(m, n, r1, wrong, v.proof));
    EXPECT_FALSE(verify_consistency(m, n, r2, r1, v.proof));
    EXPECT_FALSE(verify_consistency(m, n, r1, r2, {}));
    for (const Hash& extra : {r1, r2, v.proof[0]}) {
      std::vector<Hash> longer = v.proof;
      longer.push_back(extra);
      EXPECT_FALSE(verify_consistency(m, n, r1, r2, longer));
      longer = v.proof;
      longer.insert(longer.begin(), extra);
      EXPECT_FALSE(verify_consistency(m, n, r1, r2, longer));
    }
    for (const std::vector<Hash>& bad : tampered(v.proof, r1)) {
      EXPECT_FALSE(verify_consistency(m, n, r1, r2, bad));
    }
  }
}

TEST(MerkleConsistencyTest, HandlesEqualAndEmptySizesAsTheReferenceVerifierDoes) {
  // proof/verify_test.go, TestVerifyConsistency; an empty old tree must
  // further have the empty root, which the Go verifier does not check.
  const Hash a = leaf_hash("don't care 1");
  const Hash b = leaf_hash("don't care 2");
  const Hash e = empty_root();
  EXPECT_TRUE(verify_consistency(1, 1, b, b, {}));
  EXPECT_FALSE(verify_consistency(1, 1, a, b, {}));
  EXPECT_FALSE(verify_consistency(1, 1, e, e, {e}));
  EXPECT_TRUE(verify_consistency(0, 0, e, e, {}));
  EXPECT_FALSE(verify_consistency(0, 0, a, a, {}));
  EXPECT_FALSE(verify_consistency(0, 0, e, e, {e}));
  EXPECT_TRUE(verify_consistency(0, 1, e, b, {}));
  EXPECT_FALSE(verify_consistency(0, 1, a, b, {}));
  EXPECT_FALSE(verify_consistency(0, 1, e, e, {e}));
  EXPECT_FALSE(verify_consistency(1, 0, a, b, {}));
  EXPECT_FALSE(verify_consistency(2, 1, a, b, {}));
  EXPECT_FALSE(verify_consistency(1, 2, a, b, {}));
  // Generation outside 0 < old_size <= new_size yields nothing.
  EXPECT_TRUE(consistency_proof(0, 5, source_of(generated_leaves())).empty());
  EXPECT_TRUE(consistency_proof(6, 5, source_of(generated_leaves())).empty());
  EXPECT_TRUE(consistency_proof(5, 5, source_of(generated_leaves())).empty());
}

TEST(MerkleConsistencyTest, EqualsTheRecursiveDefinitionForEveryPairUpTo64) {
  const Leaves& all = generated_leaves();
  std::vector<Hash> roots;
  for (size_t n = 0; n <= kExhaustiveMaxSize; ++n) roots.push_back(naive_mth(slice(all, 0, n)));
  for (size_t n = 1; n <= kExhaustiveMaxSize; ++n) {
    const Leaves d = slice(all, 0, n);
    for (size_t m = 1; m <= n; ++m) {
      const std::vector<Hash> proof = consistency_proof(m, n, source_of(all));
      ASSERT_EQ(proof, naive_proof(m, d)) << m << " to " << n;
      EXPECT_TRUE(verify_consistency(m, n, roots[m], roots[n], proof)) << m << " to " << n;
    }
    EXPECT_TRUE(verify_consistency(0, n, empty_root(), roots[n], {}));
  }
}

TEST(MerkleConsistencyTest, EveryTamperedProofAndWrongSizeFailsUpTo64) {
  const Leaves& all = generated_leaves();
  std::vector<Hash> roots;
  for (size_t n = 0; n <= kExhaustiveMaxSize + 8; ++n) roots.push_back(naive_mth(slice(all, 0, n)));
  for (size_t n = 1; n <= kExhaustiveMaxSize; ++n) {
    for (size_t m = 1; m < n; ++m) {
      const std::vector<Hash> proof = naive_proof(m, slice(all, 0, n));
      for (const std::vector<Hash>& bad : tampered(proof, roots[m])) {
        ASSERT_FALSE(verify_consistency(m, n, roots[m], roots[n], bad)) << m << " to " << n;
      }
      ASSERT_FALSE(verify_consistency(m, n, roots[n], roots[m], proof));
      ASSERT_FALSE(verify_consistency(m, n, flip_byte(roots[m], 0), roots[n], proof));
      ASSERT_FALSE(verify_consistency(m, n, roots[m], flip_byte(roots[n], 31), proof));
      // Another size, with the root a tree of that size has.
      for (size_t other = 0; other < roots.size(); ++other) {
        if (other != m) {
          ASSERT_FALSE(verify_consistency(other, n, roots[other], roots[n], proof)) << m << "->" << other;
        }
        if (other != n) {
          ASSERT_FALSE(verify_consistency(m, other, roots[m], roots[other], proof)) << n << "->" << other;
        }
      }
    }
  }
}

TEST(MerkleConsistencyTest, ReadsEachLeafAtMostOnce) {
  const Leaves& all = generated_leaves();
  for (auto [m, n] : std::vector<std::pair<uint64_t, uint64_t>>{{1, 100}, {37, 100}, {64, 100}, {99, 100}}) {
    std::map<uint64_t, int> reads;
    const std::vector<Hash> proof = consistency_proof(m, n, [&](uint64_t i) {
      ++reads[i];
      return all.at(i);
    });
    EXPECT_EQ(proof, naive_proof(m, slice(all, 0, n)));
    for (auto [i, count] : reads) {
      EXPECT_LT(i, n);
      EXPECT_EQ(count, 1) << "leaf " << i;
    }
  }
}

}  // namespace
}  // namespace flopsmeter::merkle
