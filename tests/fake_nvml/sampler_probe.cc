// Runs the GPU sampler against a real NVML and prints what it measured: the
// check on a machine with NVIDIA GPUs that the fake library cannot give.
//
//   gpu_sampler_probe [--seconds S] [--hz H] [--dtype bf16] [--library libnvidia-ml.so.1]
//                     [--peak-flops F] [--pid PID]... [-- COMMAND ARGS...]
//
// Without COMMAND it samples every visible GPU (CUDA_VISIBLE_DEVICES as in
// the environment) for S seconds (default 5). With COMMAND it starts it,
// attributes to it and its descendants (plus any --pid), and samples until
// it exits. Exit status: 0, or 2 when the sampler cannot start.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "adapters/gpu_sampler.h"
#include "flopsmeter/catalog.h"

namespace {

void print_snapshot(const flopsmeter::GpuSnapshot& snapshot, double thread_cpu_seconds) {
  std::printf("elapsed_s %.3f  driver %s  sampler thread CPU %.4f s (%.3f%% of one core)\n", snapshot.elapsed_s,
              snapshot.driver_version.c_str(), thread_cpu_seconds,
              snapshot.elapsed_s > 0 ? 100 * thread_cpu_seconds / snapshot.elapsed_s : 0.0);
  for (const std::string& note : snapshot.notes) std::printf("  note: %s\n", note.c_str());
  for (const flopsmeter::GpuTotals& gpu : snapshot.gpus) {
    std::printf("GPU %u '%s' %s pci %s%s\n", gpu.index, gpu.name.c_str(), gpu.uuid.c_str(), gpu.pci_bus_id.c_str(),
                gpu.lost ? " LOST" : "");
    std::printf("  peak %.6g FLOP/s  catalog '%s'  max SM clock %u MHz\n  peak source: %s\n", gpu.peak_flop_per_s,
                gpu.catalog_id.c_str(), gpu.max_sm_clock_mhz, gpu.peak_source.c_str());
    std::printf("  samples %llu  attributed %.3f s  bound %.6g FLOP  utilization-weighted %.6g FLOP\n",
                static_cast<unsigned long long>(gpu.samples), gpu.attributed_seconds, gpu.bound_flop,
                gpu.utilization_flop);
    std::printf("  mean utilisation %.3f  mean SM clock %.1f MHz  max power %.1f W  energy %.3f J (%s)\n",
                gpu.mean_utilization, gpu.mean_sm_clock_mhz, gpu.max_power_w, gpu.energy_j,
                gpu.energy_method.c_str());
    std::string pids;
    for (int64_t pid : gpu.pids_seen) pids += " " + std::to_string(pid);
    std::printf("  job pids seen:%s\n", pids.empty() ? " none" : pids.c_str());
    for (const std::string& note : gpu.notes) std::printf("  note: %s\n", note.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  flopsmeter::GpuSamplerOptions options;
  double seconds = 5;
  int command_at = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--") {
      command_at = i + 1;
      break;
    } else if (arg == "--seconds" && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--hz" && has_value) {
      options.hz = std::atof(argv[++i]);
    } else if (arg == "--library" && has_value) {
      options.library = argv[++i];
    } else if (arg == "--peak-flops" && has_value) {
      options.peak_flop_per_s = std::atof(argv[++i]);
    } else if (arg == "--pid" && has_value) {
      options.job_pids.push_back(std::atoll(argv[++i]));
    } else if (arg == "--dtype" && has_value) {
      auto dtype = flopsmeter::parse_dtype(argv[++i]);
      if (!dtype.ok()) {
        std::fprintf(stderr, "%s\n", dtype.status().ToString().c_str());
        return 2;
      }
      options.dtype = *dtype;
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S] [--hz H] [--dtype D] [--library L] [--peak-flops F] "
                   "[--pid PID]... [-- COMMAND ARGS...]\n", argv[0]);
      return 2;
    }
  }
  auto catalog = flopsmeter::Catalog::Load("");
  if (!catalog.ok()) {
    std::fprintf(stderr, "%s\n", catalog.status().ToString().c_str());
    return 2;
  }
  options.catalog = &catalog->gpus();
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) options.visible_devices = visible;

  pid_t child = 0;
  if (command_at > 0 && command_at < argc) {
    child = fork();
    if (child == 0) {
      execvp(argv[command_at], argv + command_at);
      std::perror("exec");
      _exit(127);
    }
    options.job_pids.push_back(child);
  }

  auto sampler = flopsmeter::GpuSampler::Start(options);
  if (!sampler.ok()) {
    std::fprintf(stderr, "%s\n", sampler.status().ToString().c_str());
    if (child > 0) waitpid(child, nullptr, 0);
    return 2;
  }
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + std::chrono::duration<double>(seconds);
  while (child > 0 ? waitpid(child, nullptr, WNOHANG) == 0 : std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  flopsmeter::GpuSnapshot snapshot = (*sampler)->stop();
  print_snapshot(snapshot, (*sampler)->thread_cpu_seconds());
  return 0;
}
