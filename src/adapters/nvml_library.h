// NVML (libnvidia-ml) loaded at run time with dlopen, so flopsmeter builds
// without CUDA and runs on machines without an NVIDIA driver.
//
// Only the few entry points the GPU sampler needs are resolved, with our own
// declarations of their types (the ABI of nvml.h, API version 12). A missing
// optional entry point reads as NVML_ERROR_NOT_SUPPORTED, so an old driver
// degrades query by query instead of failing to load.
//
//   auto nvml = NvmlLibrary::Open("libnvidia-ml.so.1");
//   if (!nvml.ok()) { ... }                    // kNotFound: dlerror or nvmlInit
//   auto count = (*nvml)->device_count();      // NvmlReply<unsigned>
//   if (count.ok()) { ... count.value ... }
//
// Errors: Open() returns kNotFound naming the library when dlopen fails, a
// required entry point is missing or nvmlInit_v2 fails. Every query returns
// the NVML return code with the value; nothing here throws.
//
// Thread safety: NVML itself is thread-safe, and an open NvmlLibrary is
// immutable, so queries may be made from several threads.
#ifndef FLOPSMETER_ADAPTERS_NVML_LIBRARY_H_
#define FLOPSMETER_ADAPTERS_NVML_LIBRARY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// nvmlReturn_t values used by name (nvml.h's enum; the rest are only shown).
enum NvmlCode : int {
  kNvmlSuccess = 0,
  kNvmlErrorNotSupported = 3,
  kNvmlErrorInsufficientSize = 7,
  kNvmlErrorFunctionNotFound = 13,
  kNvmlErrorGpuIsLost = 15,
  kNvmlErrorUnknown = 999,
};

// nvmlDevice_t: an opaque handle owned by the library.
using NvmlDevice = struct nvmlDevice_st*;

// A query's NVML return code and, when it is kNvmlSuccess, its value.
template <typename T>
struct NvmlReply {
  int code = kNvmlErrorUnknown;
  T value{};
  bool ok() const { return code == kNvmlSuccess; }
  bool unsupported() const { return code == kNvmlErrorNotSupported || code == kNvmlErrorFunctionNotFound; }
};

struct NvmlComputeCapability {
  int major = 0;
  int minor = 0;
};

class NvmlLibrary {
 public:
  // dlopen()s `library` (a soname or a path), resolves the entry points and
  // calls nvmlInit_v2. The destructor calls nvmlShutdown and dlclose.
  static Result<std::unique_ptr<NvmlLibrary>> Open(const std::string& library);
  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  // "GPU is lost (NVML error 15)": nvmlErrorString with the code.
  std::string describe(int code) const;

  NvmlReply<std::string> driver_version() const;
  NvmlReply<unsigned> device_count() const;
  NvmlReply<NvmlDevice> device_by_index(unsigned index) const;
  NvmlReply<std::string> name(NvmlDevice device) const;
  NvmlReply<std::string> uuid(NvmlDevice device) const;                // "GPU-..."
  NvmlReply<std::string> pci_bus_id(NvmlDevice device) const;          // "00000000:17:00.0"
  NvmlReply<NvmlComputeCapability> compute_capability(NvmlDevice device) const;
  // Streaming multiprocessors (nvmlDeviceGetAttributes_v2; NVML documents it
  // for MIG handles, so a full GPU may answer not supported).
  NvmlReply<unsigned> multiprocessor_count(NvmlDevice device) const;
  NvmlReply<unsigned> cuda_core_count(NvmlDevice device) const;        // nvmlDeviceGetNumGpuCores
  NvmlReply<unsigned> sm_clock_mhz(NvmlDevice device) const;           // current
  NvmlReply<unsigned> max_sm_clock_mhz(NvmlDevice device) const;
  NvmlReply<unsigned> gpu_utilization_percent(NvmlDevice device) const;  // over NVML's last period
  NvmlReply<unsigned> power_mw(NvmlDevice device) const;
  NvmlReply<unsigned long long> energy_mj(NvmlDevice device) const;    // since the driver loaded
  // PIDs of the compute processes on the device, from the newest process
  // query the library has (_v3, _v2, then the unversioned one).
  NvmlReply<std::vector<uint32_t>> compute_process_pids(NvmlDevice device) const;

 private:
  struct Api;
  NvmlLibrary(void* handle, std::unique_ptr<Api> api);

  void* handle_;
  std::unique_ptr<Api> api_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_NVML_LIBRARY_H_
