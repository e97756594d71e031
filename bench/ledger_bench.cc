// Speed of the audit ledger through its public API (include/flopsmeter/ledger.h)
// on SQLite, against issue 12's targets: appends with a signed head at
// >= 10,000 entries/s on one core (a batch may share one head, as long as
// every entry is covered before the call returns), and verify of 1M entries
// in < 10 s. Not a test: no figure is checked. Build from the repository
// root against a Release build:
//
//   g++ -std=gnu++20 -O2 -DNDEBUG -Iinclude -Isrc bench/ledger_bench.cc BUILD/libflopsmeter.a
//       -lonig -licuuc -lz -lzstd -lcrypto -lsqlite3 -lpq -lsodium -ldl -pthread -o /tmp/ledger_bench
//   /tmp/ledger_bench DIR [--append-runs N] [--batch N] [--singles N] [--verify N,N,...]
//                         [--records meter,aws,small] [--meter-max N] [--reps N]
//                         [--only append|verify] [--reuse]
//
// DIR holds the ledgers (keep it on the disk you mean to measure) and a
// signing key. They are removed at the end unless --reuse, which also takes
// ledgers already there (of the size asked for or smaller, extended as
// needed) instead of building them again: verify ledgers do not depend on
// the code that appended them, so one build serves many runs.
//
// Records (--records, default all three), each made distinct per run by its
// id (replaced in place, so every record of a kind has the same size):
//   meter  a real flops_meter.json, written once by the Meter API for
//          meta-llama/Llama-3.2-1B with LoRA r=16 over 200 optimizer steps:
//          ~32 KB as the meter writes it (indented; every regime's verdict),
//          ~35 KB of canonical entry (the record is a string in the entry)
//   aws    the AWS toolkit's fields of that record (N_total, tokens_processed,
//          Flops_*, training_id, ...), ~740 bytes, added as `ledger import`
//          adds them (imported)
//   small  a minimal flopsmeter run record (schema, run id, status and the
//          compliance figure a ledger reads), 150 bytes
// Every 10 runs make a new model (fine-tunes of one base), so a batch of
// 1000 runs appends 1100 entries.
//
// Sections:
//   append  add_runs of --batch runs per call (one transaction, one signed
//           head; default 1000), --append-runs runs in all (default
//           20,000), fresh records each call, made before the clock
//           starts; then add_run one per call (--singles, default 300),
//           each its own transaction, head and sync.
//   verify  verify_json over ledgers of each size in --verify (default
//           100000,1000000 entries), built with add_runs batches (the build
//           time is printed), --reps times each (default 3; the ledger is
//           then in the page cache). The meter kind stops at --meter-max
//           entries (default 100,000: 1M would be 35 GB).
//
// Times: the wall clock and the process's CPU time (all its threads, user
// and system). On a shared machine other load shows in the first and not in
// the second; an append's fsync waits show in the first only. Each figure
// is the median over the calls (append) or runs (verify), with the fastest
// and slowest wall figure.
// Output: one tab-separated line per figure on stdout,
//   ROW <section> <measure> <median from wall> <median from CPU> <min..max from wall> <unit> <target>
// and the set-up (sizes, build times, load average) on stderr.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/ledger.h"
#include "flopsmeter/meter.h"

namespace {

using flopsmeter::Ledger;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ledger_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(flopsmeter::Result<T> result, const char* what) {
  if (!result.ok()) die(std::string(what) + ": " + result.status().ToString());
  return std::move(*result);
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Timing {
  double wall = 0;
  double cpu = 0;
};

template <typename F>
Timing timed(F&& body) {
  const Clock::time_point wall_start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  body();
  return {std::chrono::duration<double>(Clock::now() - wall_start).count(), process_cpu_seconds() - cpu_start};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

// A figure: `work` units per timing (a rate) or seconds per timing (rate false).
void row(const char* section, const std::string& measure, const std::vector<Timing>& runs, double work, bool rate,
         const char* unit, const char* target) {
  std::vector<double> wall, cpu;
  for (const Timing& t : runs) {
    wall.push_back(rate ? work / t.wall : t.wall * work);
    cpu.push_back(rate ? work / t.cpu : t.cpu * work);
  }
  std::printf("ROW\t%s\t%s\t%.4g\t%.4g\t%.4g..%.4g\t%s\t%s\n", section, measure.c_str(), median(wall), median(cpu),
              *std::min_element(wall.begin(), wall.end()), *std::max_element(wall.begin(), wall.end()), unit,
              target);
  std::fflush(stdout);
}

struct Options {
  std::string dir;
  uint64_t append_runs = 20000;
  uint64_t batch = 1000;
  uint64_t singles = 300;
  std::vector<uint64_t> verify_sizes = {100000, 1000000};
  uint64_t meter_max = 100000;  // 35 KB entries: 1M would be 35 GB
  int reps = 3;
  std::vector<std::string> kinds = {"meter", "aws", "small"};
  std::string only;
  bool reuse = false;
};

// ---------------------------------------------------------------- records

// A record as the meter writes it: a LoRA run of Llama-3.2-1B, 200 steps.
std::string meter_record(const std::string& dir) {
  const std::string run = dir + "/bench-run";
  std::filesystem::remove_all(run);
  const std::string json = "{\"run\": \"" + run +
                           "\", \"model\": \"meta-llama/Llama-3.2-1B\", \"method\": \"lora\", \"lora-r\": 16, "
                           "\"budget-fraction\": 0.9, \"max-length\": 2048, \"micro-batch-size\": 8, "
                           "\"grad-accum\": 4, \"command\": [\"ledger_bench\"]}";
  auto options = must(flopsmeter::meter_options_from_json(json, "ledger_bench"), "meter options");
  auto meter = must(flopsmeter::Meter::Begin(options), "Meter::Begin");
  for (uint64_t step = 1; step <= 200; ++step) {
    for (int micro = 0; micro < 4; ++micro) {
      const uint64_t len = 512 + (step * 37 + micro * 101) % 1536;
      meter->add(len * 8 - (step % 97), len * 8, 1);
      meter->add_sequences(len, 8);
    }
    must(meter->step(step), "Meter::step");
  }
  must(meter->end({}), "Meter::end");
  meter.reset();
  std::ifstream in(run + "/flops_meter.json");
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove_all(run);
  return text.str();
}

// Records of one kind, made distinct by an id that appears in the text (the
// run id, and anything quoting it; the AWS toolkit's training_id) as `id_`;
// the replacement has its length.
//   meter  the meter's record as written
//   aws    the AWS toolkit's fields of it, as `ledger import` takes them
//   small  a minimal flopsmeter run record
class Records {
 public:
  Records(const std::string& kind, const std::string& real) : kind_(kind) {
    const auto j = nlohmann::json::parse(real);
    id_ = j.at("run_id").get<std::string>();
    if (id_.size() < 12) die("the meter's run id is unexpectedly short: " + id_);
    if (kind == "meter") {
      template_ = real;
    } else if (kind == "aws") {
      nlohmann::json aws = nlohmann::json::object();
      for (const char* key : {"N_total", "N_trainable", "tokens_processed", "Flops_architecture", "Flops_hardware",
                              "pct_of_pretrain", "exceeds_30pct", "Flops_original", "threshold_type",
                              "threshold_value", "gpu_size", "gpu_rank", "gpu_name", "instance_type", "model_name",
                              "num_epochs", "training_duration_seconds", "model_package_group_name",
                              "recipe_config", "recipe_config_details"}) {
        aws[key] = j.at(key);
      }
      aws["training_id"] = id_;
      aws["training_job_name"] = id_;
      template_ = aws.dump(2);
    } else if (kind == "small") {
      template_ = R"({"schema":"flopsmeter.run/3","run_id":")" + id_ +
                  R"(","status":"completed","compliance":{"formula":"peft_aware","exact":"0"}})";
    } else {
      die("unknown record kind " + kind);
    }
  }
  std::string text(uint64_t i) const {
    char tail[32];
    std::snprintf(tail, sizeof tail, "%012llu", static_cast<unsigned long long>(i));
    const std::string id = id_.substr(0, id_.size() - 12) + tail;
    std::string t = template_;
    for (size_t at = t.find(id_); at != std::string::npos; at = t.find(id_, at + id.size())) t.replace(at, id.size(), id);
    return t;
  }
  size_t size() const { return template_.size(); }
  const char* name() const { return kind_.c_str(); }
  bool imported() const { return kind_ == "aws"; }

 private:
  std::string kind_;
  std::string id_;
  std::string template_;
};

constexpr const char* kBase = "meta-llama/Llama-3.2-1B";

// Runs [first, first + n): run i makes (or adds to) model acme/sft-(i / 10).
std::vector<Ledger::RunToAdd> batch_of(const Records& records, uint64_t first, uint64_t n) {
  std::vector<Ledger::RunToAdd> out(n);
  for (uint64_t k = 0; k < n; ++k) {
    const uint64_t i = first + k;
    out[k].record_json = records.text(i);
    out[k].run.model = "acme/sft-" + std::to_string(i / 10);
    out[k].run.imported = records.imported();
    flopsmeter::ModelSpec derived;
    derived.name = out[k].run.model;
    derived.organisation = "acme";
    derived.parents = {kBase};
    derived.how = "fine-tune";
    out[k].run.derived = std::move(derived);
  }
  return out;
}

std::unique_ptr<Ledger> open_ledger(const Options& o, const std::string& file) {
  flopsmeter::LedgerOptions lo;
  lo.location = o.dir + "/" + file;
  lo.key_path = o.dir + "/bench.key";
  lo.organisation = "acme";
  if (!std::filesystem::exists(lo.key_path)) must(flopsmeter::generate_ledger_key(lo.key_path), "keygen");
  auto ledger = must(Ledger::Open(lo, true), "Ledger::Open");
  flopsmeter::ModelSpec base;
  base.name = kBase;
  base.organisation = "meta-llama";
  base.pretraining.flop = flopsmeter::Flop{1} << 80;
  base.pretraining.status = "third_party_estimate";
  base.pretraining.source = "ledger_bench";
  must(ledger->add_model(base), "add_model");  // no change when it is there
  return ledger;
}

uint64_t tree_size(Ledger& ledger) {
  const auto head = nlohmann::json::parse(must(ledger.head_json(), "head_json"));
  return head.at("size").get<uint64_t>();
}

// ----------------------------------------------------------------- append

void bench_append(const Options& o, const Records& records, uint64_t first_run) {
  const std::string file = std::string("append-") + records.name() + ".sqlite";
  std::filesystem::remove(o.dir + "/" + file);
  auto ledger = open_ledger(o, file);
  std::vector<Timing> calls;
  uint64_t entries = 0, run = first_run;
  const uint64_t start_size = tree_size(*ledger);
  const double load = load_average();
  for (uint64_t done = 0; done < o.append_runs; done += o.batch, run += o.batch) {
    const auto batch = batch_of(records, run, o.batch);
    const uint64_t before = tree_size(*ledger);
    calls.push_back(timed([&] { must(ledger->add_runs(batch), "add_runs"); }));
    const uint64_t added = tree_size(*ledger) - before;
    if (entries == 0) entries = added;  // every full batch adds as many (models every 10 runs)
    if (added != entries) die("a batch added " + std::to_string(added) + " entries, another " + std::to_string(entries));
  }
  std::fprintf(stderr, "append (%s records of %zu bytes): %llu runs in calls of %llu -> %llu entries, load %.2f\n",
               records.name(), records.size(), static_cast<unsigned long long>(o.append_runs),
               static_cast<unsigned long long>(o.batch),
               static_cast<unsigned long long>(tree_size(*ledger) - start_size), load);
  const std::string what = std::string(records.name()) + " records, add_runs of " + std::to_string(o.batch);
  row("append", what + ", entries/s", calls, static_cast<double>(entries), true, "entries/s", ">= 10000");
  row("append", what + ", per entry", calls, 1e6 / static_cast<double>(entries), false, "us/entry", "<= 100");

  std::vector<Timing> singles;
  for (uint64_t i = 0; i < o.singles; ++i, ++run) {
    const auto one = batch_of(records, run, 1);
    singles.push_back(timed([&] { must(ledger->add_run(one[0].record_json, one[0].run), "add_run"); }));
  }
  row("append", std::string(records.name()) + " records, add_run one per call", singles, 1, true, "calls/s", "-");
  ledger.reset();
  if (!o.reuse) std::filesystem::remove(o.dir + "/" + file);
}

// ----------------------------------------------------------------- verify

// Extends the ledger to at least `size` entries with add_runs batches.
void build_to(Ledger& ledger, const Options& o, const Records& records, uint64_t size) {
  uint64_t have = tree_size(ledger);
  if (have >= size) return;
  const Timing t = timed([&] {
    // Runs are numbered on from what the ledger has (1.1 entries a run).
    uint64_t run = have;
    while (have < size) {
      const uint64_t n = std::min<uint64_t>(o.batch, (size - have) * 10 / 11 + 1);
      must(ledger.add_runs(batch_of(records, run, n)), "add_runs");
      run += n;
      have = tree_size(ledger);
    }
  });
  std::fprintf(stderr, "built the %s ledger to %llu entries in %.1f s wall, %.1f s CPU (load %.2f)\n", records.name(),
               static_cast<unsigned long long>(have), t.wall, t.cpu, load_average());
}

void bench_verify(const Options& o, const Records& records) {
  const std::string file = std::string("verify-") + records.name() + ".sqlite";
  const std::string path = o.dir + "/" + file;
  if (!o.reuse) std::filesystem::remove(path);
  auto ledger = open_ledger(o, file);
  for (uint64_t size : o.verify_sizes) {
    if (std::string(records.name()) == "meter" && size > o.meter_max) {
      std::fprintf(stderr, "the meter ledger of %llu entries is skipped (over --meter-max, %llu)\n",
                   static_cast<unsigned long long>(size), static_cast<unsigned long long>(o.meter_max));
      continue;
    }
    if (tree_size(*ledger) > size + 2 * o.batch) {  // built for a larger size (a build ends a batch past it)
      std::fprintf(stderr, "the %s ledger has more than %llu entries; skipped\n", records.name(),
                   static_cast<unsigned long long>(size));
      continue;
    }
    build_to(*ledger, o, records, size);
    const uint64_t entries = tree_size(*ledger);
    std::vector<Timing> runs;
    const double load = load_average();
    for (int r = 0; r < o.reps; ++r) {
      std::string report;
      runs.push_back(timed([&] { report = must(ledger->verify_json("", {}), "verify_json"); }));
      const auto j = nlohmann::json::parse(report);
      if (!j.at("ok").get<bool>() || j.at("entries").get<uint64_t>() != entries) die("verify failed: " + report);
    }
    std::fprintf(stderr, "verify: %s ledger of %llu entries, %.2f GB file, load %.2f\n", records.name(),
                 static_cast<unsigned long long>(entries),
                 static_cast<double>(std::filesystem::file_size(path)) / 1e9, load);
    const std::string what = std::string("verify_json, ") + std::to_string(entries) + " " + records.name() + " entries";
    const std::string target = entries >= 1000000 ? "< 10 s" : "-";
    row("verify", what, runs, 1, false, "s", target.c_str());
    row("verify", what + ", rate", runs, static_cast<double>(entries), true, "entries/s", ">= 100000");
  }
  ledger.reset();
  if (!o.reuse) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
}

std::vector<uint64_t> parse_sizes(const std::string& list) {
  std::vector<uint64_t> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::strtoull(item.c_str(), nullptr, 10));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (has_value && arg == "--append-runs") {
      o.append_runs = std::strtoull(argv[++i], nullptr, 10);
    } else if (has_value && arg == "--batch") {
      o.batch = std::max<uint64_t>(1, std::strtoull(argv[++i], nullptr, 10));
    } else if (has_value && arg == "--singles") {
      o.singles = std::strtoull(argv[++i], nullptr, 10);
    } else if (has_value && arg == "--verify") {
      o.verify_sizes = parse_sizes(argv[++i]);
    } else if (has_value && arg == "--meter-max") {
      o.meter_max = std::strtoull(argv[++i], nullptr, 10);
    } else if (has_value && arg == "--reps") {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else if (has_value && arg == "--records") {
      o.kinds.clear();
      std::stringstream in(argv[++i]);
      for (std::string kind; std::getline(in, kind, ',');) o.kinds.push_back(kind);
    } else if (has_value && arg == "--only") {
      o.only = argv[++i];
    } else if (arg == "--reuse") {
      o.reuse = true;
    } else if (arg[0] != '-' && o.dir.empty()) {
      o.dir = arg;
    } else {
      std::fprintf(stderr,
                   "usage: ledger_bench DIR [--append-runs N] [--batch N] [--singles N] [--verify N,N,...] "
                   "[--reps N] [--records meter,aws,small] [--meter-max N] [--only append|verify] [--reuse]\n");
      return 2;
    }
  }
  if (o.dir.empty()) die("give a directory for the ledgers");
  std::filesystem::create_directories(o.dir);
  const std::string real = meter_record(o.dir);
  std::vector<Records> kinds;
  for (const std::string& kind : o.kinds) {
    kinds.emplace_back(kind, real);
    std::fprintf(stderr, "records: %s, %zu bytes\n", kinds.back().name(), kinds.back().size());
  }
  std::fprintf(stderr, "%ld CPUs online, load %.2f\n", sysconf(_SC_NPROCESSORS_ONLN), load_average());
  if (o.only.empty() || o.only == "append") {
    for (const Records& records : kinds) bench_append(o, records, 0);
  }
  if (o.only.empty() || o.only == "verify") {
    for (const Records& records : kinds) bench_verify(o, records);
  }
  if (!o.reuse) std::filesystem::remove(o.dir + "/bench.key");
  return 0;
}
