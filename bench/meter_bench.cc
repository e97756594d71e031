// Overhead of the runtime meter (include/flopsmeter/meter.h) and of the GPU
// sampler (src/adapters/gpu_sampler.h): what metering costs a training job,
// each figure beside the same work done without the meter, from one run.
// Not a test: no figure is checked. bench/meter_bench.sh builds and runs it
// (with bench/meter_bench.py for the Python side) and prints the table;
// docs/meter-overhead.md has the figures. By hand, from the repository root:
//
//   g++ -std=gnu++20 -O2 -DNDEBUG -Iinclude -Isrc bench/meter_bench.cc BUILD/libflopsmeter.a
//       -lonig -licuuc -lz -lzstd -lcrypto -ldl -pthread -o /tmp/meter_bench
//   /tmp/meter_bench hot     [--reps N] [--calls N]
//   /tmp/meter_bench loop    [--reps N] [--steps N] [--step-ms MS]
//   /tmp/meter_bench step    [--seconds S]
//   /tmp/meter_bench sampler --library BUILD/tests/fake_nvml/libnvidia-ml-fake.so [--seconds S] [--gpus N]
//   common: [--tmp DIR] (run directories; default $TMPDIR or /tmp)
//           [--model ID] (default meta-llama/Llama-3.2-1B, LoRA r=16)
//
// Output: one tab-separated line per figure on stdout,
//   ROW <section> <measure> <ours> <baseline> <overhead> <note>
// and progress on stderr.
//
// hot      add(tokens, positions, 1) + add_sequences(len, rows) per call, on
//          1 thread and on 2 threads adding to one meter at once; the
//          baseline does the same arithmetic into volatile locals. Thread CPU
//          time per call (immune to being descheduled on a shared machine),
//          median of --reps runs with min..max.
// loop     a training-like loop: each step runs 4 micro-batches of a fixed
//          CPU load (a 64x64 float matrix multiply repeated to ~step-ms/4 on
//          a free CPU), add + add_sequences after each, step() after the
//          4th. Baseline: the same loop without the meter (the same clock
//          reads around volatile adds). Configs run interleaved per
//          repetition, the order rotating (baseline, minimal counter, meter
//          with a journal line every 10 s, every 0.5 s), so drift of the
//          machine's load hits all alike. Reported: the end-to-end difference
//          of wall time per step, the time inside the meter's calls per step,
//          the p50 of a (cache-cold) add pair, step()'s p50 and max.
//          minimal: a minimal lock-free counter (MinimalCounter below), the
//          floor any thread-safe meter pays.
// step     step() in a tight loop (no journal line: interval 1e9 s); the
//          compliance formula's count (64 and 8192 distinct sequence
//          lengths) on the first step() and then on the background thread;
//          flush() (a journal line with fsync), end() and Begin(), each call
//          timed.
// sampler  GpuSampler at 10 Hz on the fake NVML with --gpus GPUs for
//          --seconds: the sampler thread's CPU time / wall time, beside an
//          idle thread waking at the same rate and doing nothing.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/gpu_sampler.h"
#include "flopsmeter/catalog.h"
#include "flopsmeter/meter.h"

namespace {

using Clock = std::chrono::steady_clock;
using flopsmeter::Meter;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double cpu_now(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}
double thread_cpu_now() { return cpu_now(CLOCK_THREAD_CPUTIME_ID); }
// The meter's background thread's CPU, while this thread sleeps: the
// process's CPU less this thread's (no sampler runs in these sections).
double others_cpu_now() { return cpu_now(CLOCK_PROCESS_CPUTIME_ID) - thread_cpu_now(); }

// What one steady_clock read costs here (a VM's clock source can make it
// slow): the floor under every per-call timing below.
double clock_read_ns() {
  const Clock::time_point t0 = Clock::now();
  Clock::time_point t = t0;
  for (int i = 0; i < 100000; ++i) t = Clock::now();
  return std::chrono::duration<double>(t - t0).count() / 100000 * 1e9;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "meter_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Stats {
  double median = 0, min = 0, max = 0;
};
Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * double(v.size() - 1) + 0.5));
  return v[i];
}

std::string fmt(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, a);
  return buf;
}
std::string spread(const Stats& s, const char* format, const char* unit) {
  return "median of runs; min " + fmt(format, s.min) + unit + ", max " + fmt(format, s.max) + unit;
}

// One figure: ours (the meter), minimal (the minimal lock-free counter, where
// measured), baseline (no meter), overhead (ours against the baseline).
void row(const std::string& section, const std::string& measure, const std::string& ours, const std::string& minimal,
         const std::string& baseline, const std::string& overhead, const std::string& note) {
  std::printf("ROW\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", section.c_str(), measure.c_str(), ours.c_str(), minimal.c_str(),
              baseline.c_str(), overhead.c_str(), note.c_str());
  std::fflush(stdout);
}

struct Args {
  std::string mode;
  int reps = 5;
  uint64_t calls = 2000000;
  int steps = 100;
  double step_ms = 10;
  double seconds = 5;
  int gpus = 8;
  std::string library;
  std::string tmp;
  std::string model = "meta-llama/Llama-3.2-1B";
};

// A fresh run directory per meter, removed at exit.
std::vector<std::string> g_run_dirs;
std::string new_run_dir(const Args& a) {
  std::string templ = a.tmp + "/meter_bench.XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) die("mkdtemp in " + a.tmp + ": " + std::strerror(errno));
  g_run_dirs.push_back(buf.data());
  return buf.data();
}
void remove_run_dirs() {
  for (const std::string& d : g_run_dirs) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
}

std::unique_ptr<Meter> begin_meter(const Args& a, double journal_interval_s, std::string* run_dir = nullptr) {
  const std::string dir = new_run_dir(a);
  if (run_dir) *run_dir = dir;
  char interval[32];
  std::snprintf(interval, sizeof interval, "%.17g", journal_interval_s);
  const std::string json = std::string("{\"run\": \"") + dir + "\", \"model\": \"" + a.model +
                           "\", \"method\": \"lora\", \"lora-r\": 16, \"budget-fraction\": 0.9, "
                           "\"journal-interval\": " + interval + ", \"command\": [\"meter_bench\"]}";
  auto options = flopsmeter::meter_options_from_json(json, "meter_bench");
  if (!options.ok()) die(options.status().ToString());
  auto meter = Meter::Begin(*options);
  if (!meter.ok()) die("Meter::Begin: " + meter.status().ToString());
  return std::move(*meter);
}

void end_meter(std::unique_ptr<Meter>& m) {
  auto rec = m->end({});
  if (!rec.ok()) die("Meter::end: " + rec.status().ToString());
  m.reset();
}

size_t journal_lines(const std::string& run_dir) {
  std::ifstream in(run_dir + "/journal-rank0.jsonl");
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

// ------------------------------------------------------------------ hot path

// The inputs of call i: a few dozen distinct padded lengths, as a dataloader
// with bucketing or dynamic padding produces.
struct Batch {
  uint64_t len, rows, tokens, positions;
};
inline Batch batch_of(uint64_t i) {
  Batch b;
  b.len = 256 + (i & 63);
  b.rows = 8;
  b.positions = b.len * b.rows;
  b.tokens = b.positions - (i & 127);
  return b;
}

struct VolatileSink {
  volatile uint64_t tokens = 0, positions = 0, micro_batches = 0, sequences = 0;
};
// x += y on a volatile (a load and a store the compiler must keep).
inline void vadd(volatile uint64_t& x, uint64_t y) { x = x + y; }

// The floor for any thread-safe meter, as a second reference: the same two
// virtual calls doing the relaxed fetch_adds Meter::add does (tokens,
// positions, covered positions, micro-batches, each on its own cache line)
// and one per sequence length into a compact table indexed by the length.
class Counter {
 public:
  virtual ~Counter() = default;
  virtual void add(uint64_t tokens, uint64_t positions, uint64_t micro_batches) noexcept = 0;
  virtual void add_sequences(uint64_t length, uint64_t count) noexcept = 0;
};
class MinimalCounter final : public Counter {
 public:
  void add(uint64_t tokens, uint64_t positions, uint64_t micro_batches) noexcept override {
    tokens_.fetch_add(tokens, std::memory_order_relaxed);
    positions_.fetch_add(positions, std::memory_order_relaxed);
    covered_.fetch_add(positions, std::memory_order_relaxed);
    micro_batches_.fetch_add(micro_batches, std::memory_order_relaxed);
  }
  void add_sequences(uint64_t length, uint64_t count) noexcept override {
    by_length_[length & (kLengths - 1)].fetch_add(count, std::memory_order_relaxed);
  }

 private:
  static constexpr size_t kLengths = 8192;
  alignas(64) std::atomic<uint64_t> tokens_{0};
  alignas(64) std::atomic<uint64_t> positions_{0};
  alignas(64) std::atomic<uint64_t> covered_{0};
  alignas(64) std::atomic<uint64_t> micro_batches_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> by_length_{new std::atomic<uint64_t>[kLengths]()};
};
// Through a volatile pointer, so the calls stay virtual as the meter's are.
Counter* volatile g_minimal = nullptr;
Counter* minimal_counter() {
  if (!g_minimal) g_minimal = new MinimalCounter;
  return g_minimal;
}

// Thread CPU seconds for `calls` calls (M: Meter or Counter).
template <typename M>
double hot_meter(M* m, uint64_t calls) {
  const double c0 = thread_cpu_now();
  for (uint64_t i = 0; i < calls; ++i) {
    const Batch b = batch_of(i);
    m->add(b.tokens, b.positions, 1);
    m->add_sequences(b.len, b.rows);
  }
  return thread_cpu_now() - c0;
}
double hot_baseline(VolatileSink* s, uint64_t calls) {
  const double c0 = thread_cpu_now();
  for (uint64_t i = 0; i < calls; ++i) {
    const Batch b = batch_of(i);
    vadd(s->tokens, b.tokens);
    vadd(s->positions, b.positions);
    vadd(s->micro_batches, 1);
    vadd(s->sequences, b.rows);
  }
  return thread_cpu_now() - c0;
}

// Two threads at once; returns the mean per-thread CPU ns/call and sets the
// achieved concurrency (sum of CPU / wall: 2 when both really ran together).
template <typename Fn>
double two_threads(uint64_t calls, Fn&& fn, double* concurrency) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  double cpu[2] = {0, 0};
  Clock::time_point start;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      cpu[t] = fn(t, calls);
    });
  }
  while (ready.load() < 2) std::this_thread::yield();
  start = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  const double wall = seconds_since(start);
  *concurrency = wall > 0 ? (cpu[0] + cpu[1]) / wall : 0;
  return (cpu[0] + cpu[1]) / 2 / double(calls) * 1e9;
}

void run_hot(const Args& a) {
  auto meter = begin_meter(a, 1e9);
  Counter* minimal = minimal_counter();
  std::vector<double> m1, n1, b1, m2, n2, b2, conc_m, conc_b;
  std::fprintf(stderr, "meter_bench: hot path, %d runs of %llu calls\n", a.reps,
               static_cast<unsigned long long>(a.calls));
  hot_meter(meter.get(), a.calls / 10);  // warm the histogram and caches
  hot_meter(minimal, a.calls / 10);
  for (int r = 0; r < a.reps; ++r) {
    VolatileSink sink;
    const double n = double(a.calls);
    b1.push_back(hot_baseline(&sink, a.calls) / n * 1e9);
    n1.push_back(hot_meter(minimal, a.calls) / n * 1e9);
    m1.push_back(hot_meter(meter.get(), a.calls) / n * 1e9);
    VolatileSink sinks[2];
    double c = 0;
    b2.push_back(two_threads(a.calls, [&](int t, uint64_t k) { return hot_baseline(&sinks[t], k); }, &c));
    conc_b.push_back(c);
    n2.push_back(two_threads(a.calls, [&](int, uint64_t k) { return hot_meter(minimal, k); }, &c));
    m2.push_back(two_threads(a.calls, [&](int, uint64_t k) { return hot_meter(meter.get(), k); }, &c));
    conc_m.push_back(c);
  }
  end_meter(meter);
  const Stats sm1 = stats_of(m1), sn1 = stats_of(n1), sb1 = stats_of(b1);
  const Stats sm2 = stats_of(m2), sn2 = stats_of(n2), sb2 = stats_of(b2);
  row("1 hot path (C++)", "add+add_sequences, 1 thread [ns/call, thread CPU]", fmt("%.1f", sm1.median),
      fmt("%.1f", sn1.median), fmt("%.1f", sb1.median), fmt("+%.1f ns", sm1.median - sb1.median),
      "ours " + spread(sm1, "%.1f", "") + "; baseline: the same sums into volatile locals");
  row("1 hot path (C++)", "add+add_sequences, 2 threads, one meter [ns/call/thread]", fmt("%.1f", sm2.median),
      fmt("%.1f", sn2.median), fmt("%.1f", sb2.median), fmt("+%.1f ns", sm2.median - sb2.median),
      "ours " + spread(sm2, "%.1f", "") + "; both threads add to the same counters (cache lines shared); "
      "the threads really overlapped x" + fmt("%.2f", stats_of(conc_m).median) + " of 2 (baseline x" +
          fmt("%.2f", stats_of(conc_b).median) + ")");
}

// ------------------------------------------------------------------ training-like loop

// A fixed CPU load: a 64x64 float matrix product, `reps` times.
class Work {
 public:
  Work() : a_(kN * kN), b_(kN * kN), c_(kN * kN) {
    for (size_t i = 0; i < a_.size(); ++i) {
      a_[i] = float(i % 13) * 0.01f;
      b_[i] = float(i % 7) * 0.02f;
    }
  }
  void run(int reps) {
    for (int r = 0; r < reps; ++r) {
      std::fill(c_.begin(), c_.end(), 0.0f);
      for (int i = 0; i < kN; ++i)
        for (int k = 0; k < kN; ++k) {
          const float aik = a_[i * kN + k];
          for (int j = 0; j < kN; ++j) c_[i * kN + j] += aik * b_[k * kN + j];
        }
      a_[r % (kN * kN)] += c_[(r * 7) % (kN * kN)] * 1e-9f;  // a dependency, so nothing is hoisted
    }
    sink_ = sink_ + c_[0];
  }

 private:
  static constexpr int kN = 64;
  std::vector<float> a_, b_, c_;
  volatile float sink_ = 0;
};

struct LoopResult {
  double wall_s = 0;
  double in_calls_s = 0;            // inside add/add_sequences/step (or the baseline's stand-ins)
  std::vector<double> step_call_s;  // each step() call
  std::vector<double> add_call_s;   // each micro-batch's add + add_sequences (or stand-in)
  size_t journal_lines = 0;         // progress lines written during the loop
};

// One run: `m` the meter (step() after each step), or `counter` the minimal
// counter (no step()), or neither (the baseline: volatile adds).
LoopResult run_loop_once(Meter* m, Counter* counter, const std::string& run_dir, Work& work, int reps_per_mb,
                         int steps) {
  constexpr int kMicroBatches = 4;
  LoopResult r;
  r.step_call_s.reserve(steps);
  r.add_call_s.reserve(size_t(steps) * kMicroBatches);
  const size_t lines_before = m ? journal_lines(run_dir) : 0;
  VolatileSink sink;
  uint64_t i = 0;
  const Clock::time_point start = Clock::now();
  for (int s = 1; s <= steps; ++s) {
    for (int mb = 0; mb < kMicroBatches; ++mb, ++i) {
      work.run(reps_per_mb);
      const Batch b = batch_of(i);
      const Clock::time_point t0 = Clock::now();
      if (m) {
        m->add(b.tokens, b.positions, 1);
        m->add_sequences(b.len, b.rows);
      } else if (counter) {
        counter->add(b.tokens, b.positions, 1);
        counter->add_sequences(b.len, b.rows);
      } else {
        vadd(sink.tokens, b.tokens);
        vadd(sink.positions, b.positions);
        vadd(sink.micro_batches, 1);
        vadd(sink.sequences, b.rows);
      }
      const double dt = seconds_since(t0);
      r.in_calls_s += dt;
      r.add_call_s.push_back(dt);
    }
    const Clock::time_point t0 = Clock::now();
    if (m) {
      auto st = m->step(uint64_t(s));
      if (!st.ok()) die("step: " + st.status().ToString());
      if (st->stop) die("the budget guard stopped the loop: raise the budget");
    } else {
      vadd(sink.micro_batches, 0);
    }
    const double dt = seconds_since(t0);
    r.in_calls_s += dt;
    r.step_call_s.push_back(dt);
  }
  r.wall_s = seconds_since(start);
  if (m) r.journal_lines = journal_lines(run_dir) - lines_before;
  return r;
}

void run_loop(const Args& a) {
  Work work;
  // Calibrate: reps of the 64^3 product per micro-batch for ~step_ms/4.
  double one = 1e9;
  for (int t = 0; t < 20; ++t) {
    const Clock::time_point t0 = Clock::now();
    work.run(1);
    one = std::min(one, seconds_since(t0));
  }
  const int reps_per_mb = std::max(1, int(a.step_ms / 4 / 1e3 / one + 0.5));
  std::fprintf(stderr, "meter_bench: loop, %d runs x 4 configs x %d steps (%d products of 64x64 per micro-batch)\n",
               a.reps, a.steps, reps_per_mb);
  struct Config {
    const char* name;
    double interval;  // < 0: baseline, 0: the minimal counter
    std::vector<double> per_step_us, in_calls_us, overhead_us, overhead_pct, step_p50_us, step_max_us, add_p50_ns;
    std::vector<double> lines;
  };
  std::vector<Config> configs = {{"baseline", -1, {}, {}, {}, {}, {}, {}, {}, {}},
                                 {"minimal counter", 0, {}, {}, {}, {}, {}, {}, {}, {}},
                                 {"journal 10 s", 10, {}, {}, {}, {}, {}, {}, {}, {}},
                                 {"journal 0.5 s", 0.5, {}, {}, {}, {}, {}, {}, {}, {}}};
  // Warm-up: one short baseline pass.
  run_loop_once(nullptr, nullptr, "", work, reps_per_mb, std::max(5, a.steps / 10));
  for (int r = 0; r < a.reps; ++r) {
    std::vector<LoopResult> results(configs.size());
    for (size_t k = 0; k < configs.size(); ++k) {
      const size_t c = (k + size_t(r)) % configs.size();  // rotate the order
      std::string dir;
      std::unique_ptr<Meter> m;
      if (configs[c].interval > 0) m = begin_meter(a, configs[c].interval, &dir);
      results[c] = run_loop_once(m.get(), configs[c].interval == 0 ? minimal_counter() : nullptr, dir, work,
                                 reps_per_mb, a.steps);
      if (m) end_meter(m);
    }
    const double base = results[0].wall_s / a.steps;
    for (size_t c = 0; c < configs.size(); ++c) {
      const LoopResult& lr = results[c];
      Config& cf = configs[c];
      const double per_step = lr.wall_s / a.steps;
      cf.per_step_us.push_back(per_step * 1e6);
      cf.in_calls_us.push_back(lr.in_calls_s / a.steps * 1e6);
      cf.overhead_us.push_back((per_step - base) * 1e6);
      cf.overhead_pct.push_back((per_step - base) / base * 100);
      cf.step_p50_us.push_back(percentile(lr.step_call_s, 0.5) * 1e6);
      cf.add_p50_ns.push_back(percentile(lr.add_call_s, 0.5) * 1e9);
      cf.step_max_us.push_back(*std::max_element(lr.step_call_s.begin(), lr.step_call_s.end()) * 1e6);
      cf.lines.push_back(double(lr.journal_lines));
    }
  }
  const Config& b = configs[0];
  const Config& mc = configs[1];
  const Stats bstep = stats_of(b.per_step_us), bcalls = stats_of(b.in_calls_us), badd = stats_of(b.add_p50_ns),
              bstepcall = stats_of(b.step_p50_us);
  const Stats mcalls = stats_of(mc.in_calls_us), madd = stats_of(mc.add_p50_ns);
  const std::string section = "2 training loop (C++)";
  row(section, "step time, no meter [us/step]", "", "", fmt("%.0f", bstep.median), "",
      spread(bstep, "%.0f", " us") + "; 4 micro-batches of " + std::to_string(reps_per_mb) +
          " 64x64 products each (10 ms/step when the CPU is free); " + std::to_string(a.steps) + " steps/run, " +
          std::to_string(a.reps) + " runs");
  for (size_t c = 2; c < configs.size(); ++c) {
    const Config& cf = configs[c];
    const Stats step = stats_of(cf.per_step_us), calls = stats_of(cf.in_calls_us), ov = stats_of(cf.overhead_us),
                pct = stats_of(cf.overhead_pct), p50 = stats_of(cf.step_p50_us), mx = stats_of(cf.step_max_us),
                lines = stats_of(cf.lines), add = stats_of(cf.add_p50_ns);
    const std::string label = std::string(cf.name);
    row(section, label + ": wall per step, end to end [us/step]", fmt("%.0f", step.median), "",
        fmt("%.0f", bstep.median), fmt("%+.1f us", ov.median) + " (" + fmt("%+.3f", pct.median) + "%)",
        "per-run difference to the same repetition's baseline run: min " + fmt("%+.1f", ov.min) + ", max " +
            fmt("%+.1f", ov.max) + " us (" + fmt("%+.2f", pct.min) + ".." + fmt("%+.2f", pct.max) +
            "%); the machine's noise, not the meter, sets this spread");
    const double direct = calls.median - bcalls.median;
    row(section, label + ": time inside meter calls [us/step]", fmt("%.2f", calls.median), fmt("%.2f", mcalls.median),
        fmt("%.2f", bcalls.median),
        fmt("%+.2f us", direct) + " (" + fmt("%.3f", direct / bstep.median * 100) + "%)",
        "4x(add+add_sequences) + step(), a clock read (" + fmt("%.0f", clock_read_ns()) +
            " ns here) around each call; minimal counter: no step(); baseline: volatile adds; " + spread(calls, "%.2f", " us"));
    row(section, label + ": add+add_sequences per micro-batch, p50 [ns]", fmt("%.0f", add.median),
        fmt("%.0f", madd.median), fmt("%.0f", badd.median), fmt("%+.0f ns", add.median - badd.median),
        "each call after ~2.5 ms of other work, memory cache-cold (section 1 is the hot loop); " +
            spread(add, "%.0f", " ns"));
    row(section, label + ": step() p50 / max per run [us]", fmt("%.2f", p50.median) + " / " + fmt("%.0f", mx.median),
        "", fmt("%.2f", bstepcall.median), "",
        "the max is the first step (it counts) or preemption; journal lines per run, all written by the background "
        "thread: " +
            fmt("%.0f", lines.median) + "; largest max " + fmt("%.0f", mx.max) + " us");
  }
}

// ------------------------------------------------------------------ step() and flush()

// The formula's recompute: the first step() counts on the caller's thread
// (`first_cpu_us`); after that the meter's background thread recounts every
// second and step() only scales. `count` more steps, each 1.02 s after the
// last: their thread CPU (`cpu_us`) and the background thread's CPU during
// each wait (`background_us`), which is the recompute.
void recompute_costs(Meter* m, int count, uint64_t* step, double* first_cpu_us, std::vector<double>* cpu_us,
                     std::vector<double>* background_us) {
  for (int k = 0; k <= count; ++k) {
    m->add(1000, 1024, 1);
    const double c0 = thread_cpu_now();
    auto st = m->step(++*step);
    const double cpu = (thread_cpu_now() - c0) * 1e6;
    if (!st.ok()) die("step: " + st.status().ToString());
    if (k == 0) {
      *first_cpu_us = cpu;
    } else {
      cpu_us->push_back(cpu);
    }
    if (k == count) break;
    m->add(1000, 1024, 1);  // new tokens: the next recount is due
    const double o0 = others_cpu_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1020));
    background_us->push_back((others_cpu_now() - o0) * 1e6);
  }
}

void recompute_and_report(Meter* m, const std::string& lengths) {
  uint64_t step = 0;
  double first_us = 0;
  std::vector<double> cpu_us, background_us;
  recompute_costs(m, 3, &step, &first_us, &cpu_us, &background_us);
  row("5 meter calls (C++)", "first step(): the formula counted on the caller's thread, " + lengths + " [us]",
      fmt("%.0f", first_us), "", "", "", "thread CPU; once per process");
  row("5 meter calls (C++)", "step() 1 s later: scales the background count, " + lengths + " [us]",
      fmt("%.1f", percentile(cpu_us, 0.5)), "", "", "", "thread CPU, p50 of 3");
  row("5 meter calls (C++)", "the recount on the background thread, " + lengths + " [us/s]",
      fmt("%.0f", percentile(background_us, 0.5)), "", "", "",
      "CPU of the process's other threads in each 1.02 s wait, p50 of 3: once per second, off the training thread");
}

void run_step(const Args& a) {
  std::string dir;
  auto m = begin_meter(a, 1e9, &dir);
  std::fprintf(stderr, "meter_bench: step() for %.1f s, flush() x 20, formula recomputes\n", a.seconds);
  std::vector<double> t;
  t.reserve(1 << 22);
  uint64_t i = 0;
  size_t slow = 0;
  const Clock::time_point start = Clock::now();
  while (seconds_since(start) < a.seconds) {
    const Batch b = batch_of(i);
    m->add(b.tokens, b.positions, 1);
    m->add_sequences(b.len, b.rows);
    const Clock::time_point t0 = Clock::now();
    auto st = m->step(++i);
    const double dt = seconds_since(t0);
    t.push_back(dt);
    if (dt > 20e-6) ++slow;
    if (!st.ok()) die("step: " + st.status().ToString());
  }
  row("5 meter calls (C++)", "step() [ns/call]", fmt("%.0f", percentile(t, 0.5) * 1e9), "", "", "",
      "wall p50 of " + std::to_string(t.size()) + " calls in " + fmt("%.1f", a.seconds) + " s (64 lengths), " +
          "including one clock read (" + fmt("%.0f", clock_read_ns()) + " ns here); p99 " +
          fmt("%.0f", percentile(t, 0.99) * 1e9) + " ns; " + std::to_string(slow) +
          " calls > 20 us (the first, which counts, and preemption); max " +
          fmt("%.0f", *std::max_element(t.begin(), t.end()) * 1e6) + " us");
  // A fresh meter, so that its first step() is the one that counts.
  end_meter(m);
  m = begin_meter(a, 1e9, &dir);
  for (uint32_t len = 1; len <= 64; ++len) m->add_sequences(len * 16, 1);
  recompute_and_report(m.get(), "64 lengths");
  std::vector<double> f;
  const uintmax_t flush_bytes_before = std::filesystem::file_size(dir + "/journal-rank0.jsonl");
  for (int k = 0; k < 20; ++k) {
    const Clock::time_point t0 = Clock::now();
    auto st = m->flush();
    f.push_back(seconds_since(t0));
    if (!st.ok()) die("flush: " + st.ToString());
  }
  row("5 meter calls (C++)", "flush(): journal line + fsync [ms/call]", fmt("%.2f", percentile(f, 0.5) * 1e3), "", "", "",
      "p50 of 20; min " + fmt("%.2f", percentile(f, 0) * 1e3) + ", max " + fmt("%.2f", percentile(f, 1) * 1e3) +
          " ms, " + fmt("%.0f", double(std::filesystem::file_size(dir + "/journal-rank0.jsonl") - flush_bytes_before) / 20) +
          " bytes per line; paid by the background thread at each interval, by the caller for checkpoint() and "
          "flush(); depends on the disk under " + a.tmp);
  const Clock::time_point e0 = Clock::now();
  end_meter(m);
  row("5 meter calls (C++)", "end(): end line + flops_meter.json [ms]", fmt("%.1f", seconds_since(e0) * 1e3), "", "", "",
      "once per run; " + std::to_string(i) + " steps, 1 rank");

  // Varlen attention (flash_attention_2) records every sequence's own
  // length: up to the context length of distinct lengths.
  constexpr uint64_t kLengths = 8192;
  std::vector<double> begins;
  const Clock::time_point b0 = Clock::now();
  m = begin_meter(a, 1e9, &dir);
  begins.push_back(seconds_since(b0));
  for (uint64_t len = 1; len <= kLengths; ++len) m->add_sequences(len, 1);
  recompute_and_report(m.get(), "8192 lengths");
  // Each flush carries every length again: each got one more sequence.
  std::vector<double> fl;
  const uintmax_t bytes_before = std::filesystem::file_size(dir + "/journal-rank0.jsonl");
  for (int k = 0; k < 3; ++k) {
    for (uint64_t len = 1; len <= kLengths; ++len) m->add_sequences(len, 1);
    const Clock::time_point f0 = Clock::now();
    auto st = m->flush();
    fl.push_back(seconds_since(f0) * 1e3);
    if (!st.ok()) die("flush: " + st.ToString());
  }
  row("5 meter calls (C++)", "flush() with 8192 lengths to journal [ms]", fmt("%.2f", percentile(fl, 0.5)), "", "", "",
      "p50 of 3 (min " + fmt("%.2f", percentile(fl, 0)) + ", max " + fmt("%.2f", percentile(fl, 1)) +
          " ms); the line carries each length whose count grew since the last line: " +
          fmt("%.0f", double(std::filesystem::file_size(dir + "/journal-rank0.jsonl") - bytes_before) / 3 / 1024) +
          " KiB per line");
  m.reset();  // freed without end(): leaves the run open (a progress line)
  for (int k = 0; k < 2; ++k) {
    const Clock::time_point t0 = Clock::now();
    auto mm = begin_meter(a, 10);
    begins.push_back(seconds_since(t0));
    mm.reset();
  }
  row("5 meter calls (C++)", "Meter::Begin [ms]", fmt("%.1f", percentile(begins, 0.5) * 1e3), "", "", "",
      "p50 of 3; once per process: catalog, model, begin line (fsync); model " + a.model + " + LoRA r=16");
}

// ------------------------------------------------------------------ sampler

// The floor: a thread that wakes at `hz` exactly as the sampler's loop does
// (condition variable, wait_until the next tick) and does nothing.
class IdleTicker {
 public:
  explicit IdleTicker(double hz) : period_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / hz))) {
    thread_ = std::thread([this] { loop(); });
  }
  ~IdleTicker() { stop(); }
  double stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    return cpu_.load();
  }
  double cpu() const { return cpu_.load(); }

 private:
  void loop() {
    Clock::time_point next = Clock::now() + period_;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_until(lock, next, [this] { return stop_; })) {
      lock.unlock();
      cpu_.store(thread_cpu_now());
      lock.lock();
      next += period_;
      if (Clock::time_point now = Clock::now(); next <= now) next = now + period_;
    }
  }
  Clock::duration period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<double> cpu_{0};
  std::thread thread_;
};

void run_sampler(const Args& a) {
  if (a.library.empty()) die("sampler: --library PATH (the fake NVML library) is required");
  const std::string dir = new_run_dir(a);
  const std::string script = dir + "/nvml-script.txt";
  {
    std::ofstream out(script);
    out << "driver=550.54.15\n";
    for (int g = 0; g < a.gpus; ++g) {
      out << "name=NVIDIA H100 80GB HBM3 | uuid=GPU-bench-" << g << " | pci=00000000:" << (g + 10)
          << ":00.0 | sm_clock=1980 | max_sm_clock=1980 | util=80 | power_mw=650000"
             " | energy_mj_per_s=650000 | cc=9.0 | sm_count=132 | pids=self\n";
    }
  }
  setenv("FAKE_NVML_SCRIPT", script.c_str(), 1);
  auto catalog = flopsmeter::Catalog::Load("");
  if (!catalog.ok()) die("Catalog::Load: " + catalog.status().ToString());
  const double hz = 10;
  for (int attributed = 0; attributed < 2; ++attributed) {
    flopsmeter::GpuSamplerOptions o;
    o.library = a.library;
    o.hz = hz;
    o.catalog = &catalog->gpus();
    if (attributed) o.job_pids = {int64_t(::getpid())};
    std::fprintf(stderr, "meter_bench: sampler at %.0f Hz, %d fake GPUs, %s, %.1f s\n", hz, a.gpus,
                 attributed ? "job-pids attribution" : "no attribution", a.seconds);
    IdleTicker idle(hz);
    const double idle_cpu0 = 0;  // the idle thread's clock starts with it
    auto sampler = flopsmeter::GpuSampler::Start(o);
    if (!sampler.ok()) die("GpuSampler::Start: " + sampler.status().ToString());
    const Clock::time_point t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
    const double wall = seconds_since(t0);
    const double cpu = (*sampler)->thread_cpu_seconds();
    const double idle_cpu = idle.cpu() - idle_cpu0;
    flopsmeter::GpuSnapshot snap = (*sampler)->stop();
    idle.stop();
    uint64_t samples = 0;
    for (const auto& g : snap.gpus) samples = std::max(samples, g.samples);
    if (snap.gpus.size() != size_t(a.gpus)) die("sampler saw " + std::to_string(snap.gpus.size()) + " GPUs");
    const double pct = cpu / wall * 100, idle_pct = idle_cpu / wall * 100;
    row("4 GPU sampler (C++)",
        std::string("10 Hz, ") + std::to_string(a.gpus) + " fake GPUs" +
            (attributed ? ", job-pids attribution [% of a core]" : " [% of a core]"),
        fmt("%.4f", pct), "", fmt("%.4f", idle_pct), fmt("%+.4f pt", pct - idle_pct),
        fmt("%.2f", cpu * 1e3) + " ms CPU in " + fmt("%.1f", wall) + " s, " + std::to_string(samples) +
            " samples, " + fmt("%.0f", samples ? cpu / double(samples) * 1e6 : 0) +
            " us/sample; baseline: an idle thread waking at 10 Hz; fake NVML, not a driver");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  const char* tmp = std::getenv("TMPDIR");
  a.tmp = tmp && *tmp ? tmp : "/tmp";
  if (argc < 2) die("usage: meter_bench hot|loop|step|sampler [options] (see the file's header)");
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) die("option " + arg + " needs a value");
    const char* v = argv[++i];
    if (arg == "--reps") a.reps = std::max(1, std::atoi(v));
    else if (arg == "--calls") a.calls = std::max<uint64_t>(1000, std::strtoull(v, nullptr, 10));
    else if (arg == "--steps") a.steps = std::max(1, std::atoi(v));
    else if (arg == "--step-ms") a.step_ms = std::atof(v);
    else if (arg == "--seconds") a.seconds = std::atof(v);
    else if (arg == "--gpus") a.gpus = std::atoi(v);
    else if (arg == "--library") a.library = v;
    else if (arg == "--tmp") a.tmp = v;
    else if (arg == "--model") a.model = v;
    else die("unknown option " + arg);
  }
  if (a.mode == "hot") run_hot(a);
  else if (a.mode == "loop") run_loop(a);
  else if (a.mode == "step") run_step(a);
  else if (a.mode == "sampler") run_sampler(a);
  else die("unknown mode " + a.mode);
  remove_run_dirs();
  return 0;
}
