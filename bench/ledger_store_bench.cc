// Throughput of the ledger store: appends per second with one entry per
// transaction (a commit, and its sync, per entry) and with 1000, and the
// rate of reading entries back in chunks, as `ledger verify` reads them.
// Not a test; figures for docs/ledger.md. Build from the repository root
// after building the library (Release):
//
//   c++ -std=gnu++20 -O2 -DNDEBUG -Iinclude -Isrc bench/ledger_store_bench.cc \
//       build/libflopsmeter.a -lsqlite3 -lpq -o /tmp/ledger_store_bench
//
//   /tmp/ledger_store_bench DIR            SQLite, a ledger file in DIR (keep it on the disk you mean)
//   bash tests/ledger/with_postgres.sh /tmp/ledger_store_bench DIR
//                                          also PostgreSQL, on a throwaway local server
//
// Entries are ~350 bytes of JSON, like a run entry. Sizes: SQLite 1M
// entries, PostgreSQL 100k (FLOPSMETER_BENCH_PG_ENTRIES overrides, a
// multiple of 1000 plus 1000), then 50k more about spread subjects. Scans
// run twice and the faster is kept (the second reads from the page cache).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "adapters/ledger_store.h"

namespace {

using flopsmeter::LedgerStore;
using flopsmeter::StoredEntry;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void fail(const flopsmeter::Status& status) {
  std::fprintf(stderr, "ledger_store_bench: %s\n", status.ToString().c_str());
  std::exit(1);
}

// Subjects: `spread`, each entry of a transaction is about another of 1000
// subjects (every insert lands on another page of the subject index, the
// worst case); else four consecutive entries share one (a run's entries
// together).
StoredEntry bench_entry(uint64_t index, bool spread) {
  StoredEntry e;
  e.index = index;
  e.entry = R"({"kind":"run","run_id":"run-)" + std::to_string(index) +
            R"(","model":"meta-llama/Llama-3.1-8B","method":"lora","flop":"123456789012345678901234",)" +
            R"("tokens":1234567890,"gpus":[{"name":"NVIDIA H100 80GB HBM3","count":8}],)" +
            R"("journal_sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",)" +
            R"("time":"2026-01-02T03:04:05Z","notes":"benchmark entry padding to a realistic size"})";
  for (size_t i = 0; i < e.leaf_hash.size(); ++i) e.leaf_hash[i] = static_cast<uint8_t>(index * 31 + i);
  e.kind = "run";
  e.subject = "run-" + std::to_string(spread ? index % 1000 : index / 4);
  return e;
}

// Appends `entries` entries, `per_transaction` at a time; entries per second.
double append(LedgerStore& store, uint64_t entries, uint64_t per_transaction, bool spread) {
  const Clock::time_point start = Clock::now();
  for (uint64_t done = 0; done < entries; done += per_transaction) {
    auto writer = store.begin_write();
    if (!writer.ok()) fail(writer.status());
    auto state = (*writer)->state();
    if (!state.ok()) fail(state.status());
    for (uint64_t i = 0; i < per_transaction; ++i) {
      if (auto s = (*writer)->insert_entry(bench_entry(state->size + i, spread)); !s.ok()) fail(s);
    }
    if (auto s = (*writer)->set_state({state->size + per_transaction, {}}); !s.ok()) fail(s);
    if (auto s = (*writer)->commit(); !s.ok()) fail(s);
  }
  return static_cast<double>(entries) / seconds_since(start);
}

// Reads the first `entries` entries in chunks of 10000, twice; the faster
// pass's entries per second and MB/s of entry text. `reuse`: into one
// vector (entries_into), else a fresh vector per chunk (entries()).
void scan(LedgerStore& store, uint64_t entries, bool reuse, const char* label) {
  constexpr uint64_t kChunk = 10000;
  double best = 0;
  uint64_t bytes = 0;
  std::vector<StoredEntry> chunk;
  for (int pass = 0; pass < 2; ++pass) {
    bytes = 0;
    const Clock::time_point start = Clock::now();
    for (uint64_t from = 0; from < entries; from += kChunk) {
      if (reuse) {
        if (auto s = store.entries_into(from, kChunk, chunk); !s.ok()) fail(s);
      } else {
        auto fresh = store.entries(from, kChunk);
        if (!fresh.ok()) fail(fresh.status());
        chunk = std::move(*fresh);
      }
      for (const StoredEntry& e : chunk) bytes += e.entry.size();
    }
    const double elapsed = seconds_since(start);
    if (best == 0 || elapsed < best) best = elapsed;
  }
  std::printf("  scan %-44s %9.0f entries/s %7.1f MB/s of entry text\n", label,
              static_cast<double>(entries) / best, static_cast<double>(bytes) / best / 1e6);
}

std::unique_ptr<LedgerStore> open_ledger(const std::string& location) {
  auto store = LedgerStore::Open(location, true);
  if (!store.ok()) fail(store.status());
  return std::move(*store);
}

void bench(const std::string& location, uint64_t single_appends, uint64_t total) {
  auto store = open_ledger(location);
  std::printf("%s (%s)\n", store->backend(), store->display_location().c_str());
  std::printf("  append, 1 entry per transaction:                    %8.0f entries/s (%llu entries)\n",
              append(*store, single_appends, 1, false), static_cast<unsigned long long>(single_appends));
  std::printf("  append, 1000 entries per transaction:               %8.0f entries/s (to %llu entries)\n",
              append(*store, total - single_appends, 1000, false), static_cast<unsigned long long>(total));
  std::printf("  append, 1000 per transaction, subjects spread:      %8.0f entries/s (50 transactions more)\n",
              append(*store, 50000, 1000, true));
  scan(*store, 100000, true, "of 100k entries, entries_into (one vector)");
  scan(*store, 100000, false, "of 100k entries, entries() (a vector a chunk)");
  if (total >= 1000000) {
    scan(*store, 1000000, true, "of 1M entries, entries_into (one vector)");
    scan(*store, 1000000, false, "of 1M entries, entries() (a vector a chunk)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ledger_store_bench DIR\n");
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/bench-ledger.sqlite";
  std::filesystem::remove(path);
  bench(path, 2000, 1000000 + 2000);
  std::filesystem::remove(path);

  if (const char* url = std::getenv("FLOPSMETER_TEST_PG_URL")) {
    const char* size = std::getenv("FLOPSMETER_BENCH_PG_ENTRIES");
    bench(url, 1000, size ? std::strtoull(size, nullptr, 10) : 100000 + 1000);
  }
  return 0;
}
