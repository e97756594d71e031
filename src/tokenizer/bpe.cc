// Byte-pair encoding as tokenizers' models::bpe: a word starts as one
// symbol per character (with continuing_subword_prefix / end_of_word_suffix,
// byte fallback and unknown-token fusing), then the lowest-ranked adjacent
// pair is merged, leftmost first, until no pair has a merge.
#include "tokenizer/bpe.h"

#include <atomic>
#include <algorithm>
#include <functional>

#include "core/strict_fields.h"  // printable
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace flopsmeter {
namespace {

// Pieces longer than this are not cached (tokenizers does the same), so a
// long unbroken line cannot fill memory; the cache is also cleared when it
// holds too many entries.
constexpr size_t kCacheMaxPieceBytes = 256;
constexpr size_t kCacheMaxEntries = 1 << 18;

std::atomic<uint64_t> next_model_id{1};

uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

// Two ids can never both be UINT32_MAX in a real vocabulary pair.
constexpr uint64_t kEmpty = ~uint64_t{0};

struct Symbol {
  uint32_t id;
  int32_t prev;
  int32_t next;
  bool alive;
};

struct Candidate {
  uint32_t rank;
  int32_t pos;
  uint32_t new_id;
  bool operator>(const Candidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

}  // namespace

uint64_t Bpe::MergeTable::mix(uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return key;
}

void Bpe::MergeTable::reserve(size_t count) {
  size_t capacity = 16;
  while (capacity < count * 2) capacity <<= 1;
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, MergeResult{});
  mask_ = capacity - 1;
}

void Bpe::MergeTable::insert_or_assign(uint64_t key, MergeResult value) {
  for (uint64_t slot = mix(key) & mask_;; slot = (slot + 1) & mask_) {
    if (keys_[slot] == kEmpty || keys_[slot] == key) {
      keys_[slot] = key;
      values_[slot] = value;
      return;
    }
  }
}

const Bpe::MergeResult* Bpe::MergeTable::find(uint64_t key) const {
  if (keys_.empty()) return nullptr;
  for (uint64_t slot = mix(key) & mask_;; slot = (slot + 1) & mask_) {
    if (keys_[slot] == key) return &values_[slot];
    if (keys_[slot] == kEmpty) return nullptr;
  }
}

Bpe::Bpe(Vocabulary vocab, std::vector<std::pair<std::string, std::string>> merges,
         BpeOptions options, Status* status)
    : vocab_(std::move(vocab)), options_(std::move(options)), id_(next_model_id++) {
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = vocab_.find(a);
    auto ib = vocab_.find(b);
    auto merged = vocab_.find(a + b);
    if (ia == vocab_.end() || ib == vocab_.end() || merged == vocab_.end()) {
      const std::string& missing = ia == vocab_.end() ? a : ib == vocab_.end() ? b : a + b;
      *status = Status::ParseError("merge " + std::to_string(rank) + " (\"" + printable(a + " " + b) +
                                   "\"): token \"" + printable(missing) + "\" is not in the vocabulary");
      return;
    }
    // A repeated pair keeps its last rank, as tokenizers' map does.
    merges_.insert_or_assign(pair_key(ia->second, ib->second), {static_cast<uint32_t>(rank), merged->second});
  }
  if (options_.continuing_subword_prefix.empty() && options_.end_of_word_suffix.empty()) {
    bmp_ids_.assign(0x10000, -1);
    for (const auto& [token, id] : vocab_) {
      size_t pos = 0;
      if (token.empty()) continue;
      const char32_t cp = unicode::next_code_point(token, &pos);
      if (pos == token.size() && cp < 0x10000 && cp != 0xFFFD) bmp_ids_[cp] = static_cast<int32_t>(id);
    }
  }
  if (options_.byte_fallback) {
    static const char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      std::string name = "<0x";
      name += kHex[b >> 4];
      name += kHex[b & 15];
      name += '>';
      auto it = vocab_.find(name);
      byte_tokens_[static_cast<size_t>(b)] = it == vocab_.end() ? -1 : static_cast<int64_t>(it->second);
    }
  }
  if (!bmp_ids_.empty()) {
    for (const char* marker : {"\u2581", " "}) {
      const std::string_view m(marker);
      if (vocab_.find(m) == vocab_.end()) continue;
      bool joins = false;
      for (const auto& entry : vocab_) {
        const std::string& token = entry.first;
        for (size_t at = token.find(m, 1); at != std::string::npos && !joins; at = token.find(m, at + 1)) {
          joins = at < m.size() || token.compare(at - m.size(), m.size(), m) != 0;
        }
        if (joins) break;
      }
      if (!joins) {
        word_marker_ = marker;
        break;
      }
    }
  }
  if (options_.unk_token) {
    auto it = vocab_.find(*options_.unk_token);
    if (it == vocab_.end()) {
      *status = Status::ParseError("unk_token \"" + printable(*options_.unk_token) + "\" is not in the vocabulary");
      return;
    }
    unk_id_ = it->second;
  }
}

std::optional<uint32_t> Bpe::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

int64_t Bpe::char_id(char32_t cp, std::string_view ch) const {
  if (cp < 0x10000 && cp != 0xFFFD) return bmp_ids_[cp];
  auto it = vocab_.find(ch);
  return it == vocab_.end() ? -1 : static_cast<int64_t>(it->second);
}

void Bpe::initial_symbols(std::string_view word, std::vector<uint32_t>* symbols) const {
  // Unknown characters waiting to be emitted (as one id when fused).
  bool unk_pending = false;
  std::string decorated;
  for (size_t pos = 0; pos < word.size();) {
    const size_t start = pos;
    const char32_t cp = unicode::next_code_point(word, &pos);
    std::string_view ch = word.substr(start, pos - start);
    const bool first = start == 0;
    const bool last = pos >= word.size();
    std::string_view key = ch;
    int64_t id = -1;
    if (!bmp_ids_.empty()) {
      id = char_id(cp, ch);
    } else {
      decorated.clear();
      if (!first) decorated += options_.continuing_subword_prefix;
      decorated += ch;
      if (last) decorated += options_.end_of_word_suffix;
      key = decorated;
      auto it = vocab_.find(key);
      if (it != vocab_.end()) id = it->second;
    }
    if (id >= 0) {
      if (unk_pending) {
        symbols->push_back(*unk_id_);
        unk_pending = false;
      }
      symbols->push_back(static_cast<uint32_t>(id));
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes_known = true;
      for (char c : key) all_bytes_known = all_bytes_known && byte_tokens_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes_known) {
        // tokenizers emits the byte tokens without flushing a pending
        // unknown token first; the order is kept for exactness.
        for (char c : key) symbols->push_back(static_cast<uint32_t>(byte_tokens_[static_cast<unsigned char>(c)]));
        continue;
      }
    }
    if (unk_id_) {
      if (unk_pending && !options_.fuse_unk) symbols->push_back(*unk_id_);
      unk_pending = true;
    }
  }
  if (unk_pending) symbols->push_back(*unk_id_);
}

void Bpe::merge(std::vector<uint32_t>* ids) const {
  const size_t n = ids->size();
  if (n < 2) return;
  // Scratch space reused across words: most words are short, and
  // allocating per word would cost more than merging.
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  symbols.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    symbols[i] = {(*ids)[i], static_cast<int32_t>(i) - 1,
                  i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  }
  const auto later = std::greater<Candidate>();  // makes the heap a min-heap
  auto consider = [&](int32_t left) {
    const int32_t right = symbols[static_cast<size_t>(left)].next;
    if (right < 0) return;
    const MergeResult* m = merges_.find(pair_key(symbols[static_cast<size_t>(left)].id, symbols[static_cast<size_t>(right)].id));
    if (m != nullptr) {
      heap.push_back({m->rank, left, m->new_id});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    const MergeResult* m = merges_.find(pair_key(left.id, right.id));
    if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  ids->clear();
  for (const Symbol& s : symbols) {
    if (s.alive) ids->push_back(s.id);
  }
}

// Looks `key` up in the calling thread's cache for this model, or computes
// its ids with `encode` and remembers them.
template <typename Encode>
void Bpe::cached(WordCache& cache, std::string_view key, std::vector<uint32_t>* ids, Encode encode) const {
  const bool cacheable = key.size() <= kCacheMaxPieceBytes;
  if (cacheable) {
    if (cache.owner != id_) {
      cache.words.clear();
      cache.owner = id_;
    }
    auto it = cache.words.find(key);
    if (it != cache.words.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<uint32_t> word;
  encode(&word);
  ids->insert(ids->end(), word.begin(), word.end());
  if (cacheable) {
    if (cache.words.size() >= kCacheMaxEntries) cache.words.clear();
    cache.words.emplace(std::string(key), std::move(word));
  }
}

void Bpe::encode_word(std::string_view word, bool whole_piece, std::vector<uint32_t>* ids) const {
  if (whole_piece && options_.ignore_merges) {
    auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  initial_symbols(word, ids);
  merge(ids);
}

Status Bpe::tokenize(std::string_view piece, std::vector<uint32_t>* ids) const {
  if (piece.empty()) return Status::Ok();
  thread_local WordCache cache;
  if (word_marker_.empty()) {
    cached(cache, piece, ids, [&](std::vector<uint32_t>* out) { encode_word(piece, true, out); });
    return Status::Ok();
  }
  // ignore_merges looks at the whole piece; the cut words then only merge.
  if (options_.ignore_merges) {
    auto it = vocab_.find(piece);
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return Status::Ok();
    }
  }
  // Cut before each marker that follows something else.
  const std::string_view m = word_marker_;
  size_t start = 0;
  auto emit = [&](std::string_view word) {
    cached(cache, word, ids, [&](std::vector<uint32_t>* out) { encode_word(word, false, out); });
  };
  for (size_t at = piece.find(m, 1); at != std::string_view::npos; at = piece.find(m, at + m.size())) {
    if (at >= m.size() && piece.compare(at - m.size(), m.size(), m) == 0) continue;
    emit(piece.substr(start, at - start));
    start = at;
  }
  emit(piece.substr(start));
  return Status::Ok();
}

Status Bpe::tokenize_byte_level(std::string_view raw, std::vector<uint32_t>* ids) const {
  if (raw.empty()) return Status::Ok();
  if (!word_marker_.empty()) return TokenModel::tokenize_byte_level(raw, ids);
  // Keyed by raw bytes: a key space of its own, so a separate cache.
  thread_local WordCache raw_cache;
  cached(raw_cache, raw, ids, [&](std::vector<uint32_t>* out) {
    std::string mapped;
    append_byte_level(raw, &mapped);
    encode_word(mapped, true, out);
  });
  return Status::Ok();
}

}  // namespace flopsmeter
