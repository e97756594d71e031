// Speed of the audit ledger's pure core: the Merkle tree (src/core/merkle.h)
// and canonical JSON (src/core/canonical_json.h). The ledger's verify
// rehashes every entry and recomputes the root, and must do so for a million
// entries in under 10 s; this says how far inside that it is. Not a test: no
// figure is checked. Build from the repository root against a Release build:
//
//   g++ -std=gnu++20 -O2 -DNDEBUG -Iinclude -Isrc bench/merkle_bench.cc BUILD/libflopsmeter.a
//       -lonig -licuuc -lz -lzstd -lcrypto -ldl -pthread -o /tmp/merkle_bench
//   /tmp/merkle_bench [--leaves N] [--reps N]
//
// Sections, each the median of --reps runs (default 5) with min..max, on one
// thread, in the thread's CPU time (what the work costs, immune to being
// descheduled on a shared machine; the wall-clock median is printed beside):
//   root       leaf_hash over N entries (default 1,000,000) held in memory,
//              then root() over those hashes: once with 256-byte entries,
//              once with entries the size of the typical record below
//   append     CompactRange::append of N leaf hashes; and append + root()
//              after each, what a writer that signs every head pays
//   inclusion  verify_inclusion of a path in a tree of N leaves
//   canonical  canonical_json of a typical ledger record (~4 KB: a run's
//              figures, 40 steps, hashes), and is_canonical_json of its text
//
// Output: one tab-separated line per figure on stdout,
//   ROW <section> <measure> <median> <min> <max> <unit> <wall-clock median>
// and the setup on stderr.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/canonical_json.h"
#include "core/merkle.h"

namespace {

namespace merkle = flopsmeter::merkle;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t leaves = 1'000'000;
  int reps = 5;
};

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Thread CPU seconds and wall-clock seconds of each of `reps` runs of
// `body`, each sorted.
struct Runs {
  std::vector<double> cpu;
  std::vector<double> wall;
};

Runs time_runs(int reps, const std::function<void()>& body) {
  Runs runs;
  for (int i = 0; i < reps; ++i) {
    const Clock::time_point wall_start = Clock::now();
    const double cpu_start = thread_cpu_seconds();
    body();
    runs.cpu.push_back(thread_cpu_seconds() - cpu_start);
    runs.wall.push_back(std::chrono::duration<double>(Clock::now() - wall_start).count());
  }
  std::sort(runs.cpu.begin(), runs.cpu.end());
  std::sort(runs.wall.begin(), runs.wall.end());
  return runs;
}

// Prints `scale / seconds` (a rate) or `seconds * scale` (a time) for the
// median, the fastest and the slowest run, and the wall-clock median.
void row(const char* section, const char* measure, const Runs& runs, double scale, bool rate, const char* unit) {
  const auto value = [&](double s) { return rate ? scale / s : s * scale; };
  const auto median = [](const std::vector<double>& v) { return v[v.size() / 2]; };
  const double a = value(runs.cpu.front());
  const double b = value(runs.cpu.back());
  std::printf("ROW\t%s\t%s\t%.4g\t%.4g\t%.4g\t%s\t%.4g\n", section, measure, value(median(runs.cpu)), std::min(a, b),
              std::max(a, b), unit, value(median(runs.wall)));
  std::fflush(stdout);
}

// A ledger record of the kind the meter writes: run identity, figures, a
// step list and hashes. About 4 KB of canonical text.
nlohmann::json typical_record() {
  nlohmann::json steps = nlohmann::json::array();
  for (int i = 0; i < 40; ++i) {
    steps.push_back({{"step", i},
                     {"flop", 1.2345678901234567e15 * (i + 1)},
                     {"tokens", 16384 * (i + 1)},
                     {"loss", 2.5 / (i + 1)},
                     {"seconds", 0.731 * (i + 1)}});
  }
  return {{"kind", "run"},
          {"run_id", "0f3c9a7d5e2b4c1a8f6e0d9c7b5a3e1f"},
          {"model", {{"id", "meta-llama/Llama-3.2-1B"}, {"parameters", 1235814400}, {"method", "lora"}}},
          {"flop", {{"total", 3.1e21}, {"exact", "3100000000000000000000"}, {"formula", "peft_aware"}}},
          {"regimes", {{"eu_gpai", {{"threshold", 1e23}, {"verdict", "below"}}}}},
          {"steps", steps},
          {"previous", "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
          {"note", "fine-tune on the support corpus, r\u00e9sum\u00e9 \u2014 \u20ac"}};
}

void bench_root(const Options& o, const std::string& record_text) {
  for (size_t entry_bytes : {size_t{256}, record_text.size()}) {
    std::string entries(entry_bytes + o.leaves, 'x');  // entry i: bytes [i, i + entry_bytes)
    for (size_t i = 0; i < entries.size(); ++i) entries[i] = static_cast<char>('a' + (i * 7) % 26);
    std::vector<merkle::Hash> hashes(o.leaves);
    merkle::Hash root{};
    const Runs seconds = time_runs(o.reps, [&] {
      for (uint64_t i = 0; i < o.leaves; ++i) hashes[i] = merkle::leaf_hash(std::string_view(entries).substr(i, entry_bytes));
      root = merkle::root(o.leaves, [&](uint64_t i) { return hashes[i]; });
    });
    std::fprintf(stderr, "root of %llu entries of %zu bytes: %s\n", static_cast<unsigned long long>(o.leaves),
                 entry_bytes, merkle::to_hex(root).c_str());
    const std::string measure = "leaf hashes + root, " + std::to_string(entry_bytes) + "-byte entries";
    row("root", measure.c_str(), seconds, 1.0, false, "s");
    row("root", (measure + ", rate").c_str(), seconds, static_cast<double>(o.leaves), true, "entries/s");
  }
}

void bench_append(const Options& o) {
  std::vector<merkle::Hash> hashes(o.leaves);
  for (uint64_t i = 0; i < o.leaves; ++i) hashes[i] = merkle::leaf_hash(std::to_string(i));
  merkle::Hash sink{};
  row("append", "CompactRange::append", time_runs(o.reps, [&] {
        merkle::CompactRange range;
        for (const merkle::Hash& h : hashes) range.append(h);
        sink = range.root();
      }),
      static_cast<double>(o.leaves), true, "appends/s");
  row("append", "append + root() each time", time_runs(o.reps, [&] {
        merkle::CompactRange range;
        for (const merkle::Hash& h : hashes) {
          range.append(h);
          sink = range.root();
        }
      }),
      static_cast<double>(o.leaves), true, "appends/s");
  std::fprintf(stderr, "last root: %s\n", merkle::to_hex(sink).c_str());
}

void bench_inclusion(const Options& o) {
  std::vector<merkle::Hash> hashes(o.leaves);
  for (uint64_t i = 0; i < o.leaves; ++i) hashes[i] = merkle::leaf_hash(std::to_string(i));
  const merkle::LeafSource source = [&](uint64_t i) { return hashes[i]; };
  const merkle::Hash root = merkle::root(o.leaves, source);
  const uint64_t index = o.leaves * 2 / 3;
  const std::vector<merkle::Hash> path = merkle::inclusion_proof(index, o.leaves, source);
  constexpr int kVerifications = 100'000;
  int accepted = 0;
  row("inclusion", "verify_inclusion", time_runs(o.reps, [&] {
        for (int i = 0; i < kVerifications; ++i) accepted += merkle::verify_inclusion(hashes[index], index, o.leaves, path, root);
      }),
      kVerifications, true, "proofs/s");
  std::fprintf(stderr, "path of %zu hashes; %d accepted\n", path.size(), accepted);
}

void bench_canonical(const Options& o, const nlohmann::json& record, const std::string& text) {
  const int records = static_cast<int>(std::max<uint64_t>(1000, o.leaves / 100));
  size_t bytes = 0;
  row("canonical", "canonical_json, typical record", time_runs(o.reps, [&] {
        for (int i = 0; i < records; ++i) bytes += flopsmeter::canonical_json(record)->size();
      }),
      records, true, "records/s");
  int canonical = 0;
  row("canonical", "is_canonical_json, typical record", time_runs(o.reps, [&] {
        for (int i = 0; i < records; ++i) canonical += *flopsmeter::is_canonical_json(text) ? 1 : 0;
      }),
      records, true, "records/s");
  std::fprintf(stderr, "record: %zu bytes of canonical text (%zu written); %d checks true\n", text.size(), bytes,
               canonical);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 < argc && arg == "--leaves") {
      o.leaves = std::max<uint64_t>(2, std::strtoull(argv[++i], nullptr, 10));
    } else if (i + 1 < argc && arg == "--reps") {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: merkle_bench [--leaves N] [--reps N]\n");
      return 2;
    }
  }
  const nlohmann::json record = typical_record();
  const flopsmeter::Result<std::string> text = flopsmeter::canonical_json(record);
  if (!text.ok()) {
    std::fprintf(stderr, "merkle_bench: %s\n", text.status().ToString().c_str());
    return 1;
  }
  bench_root(o, *text);
  bench_append(o);
  bench_inclusion(o);
  bench_canonical(o, record, *text);
  return 0;
}
