// NVML through dlopen/dlsym, with our own declarations of the types in the
// ABI (nvml.h, NVML API version 12; layouts checked by the static_asserts).
#include "adapters/nvml_library.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace flopsmeter {
namespace {

// nvmlClockType_t
constexpr int kNvmlClockSm = 1;

// NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_DEVICE_UUID_V2_BUFFER_SIZE are 96,
// NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80; a larger buffer is always fine.
constexpr unsigned kStringBufferBytes = 256;

// nvmlPciInfo_t, as nvmlDeviceGetPciInfo_v3 fills it.
struct NvmlPciInfo {
  char bus_id_legacy[16];
  unsigned domain;
  unsigned bus;
  unsigned device;
  unsigned pci_device_id;
  unsigned pci_subsystem_id;
  char bus_id[32];  // "00000000:17:00.0"
};
static_assert(sizeof(NvmlPciInfo) == 68);

// nvmlUtilization_t: percent of the last sample period (1/6 s to 1 s).
struct NvmlUtilization {
  unsigned gpu;
  unsigned memory;
};

// nvmlDeviceAttributes_t (nvmlDeviceGetAttributes_v2).
struct NvmlDeviceAttributes {
  unsigned multiprocessor_count;
  unsigned shared_copy_engine_count;
  unsigned shared_decoder_count;
  unsigned shared_encoder_count;
  unsigned shared_jpeg_count;
  unsigned shared_ofa_count;
  unsigned gpu_instance_slice_count;
  unsigned compute_instance_slice_count;
  unsigned long long memory_size_mb;
};
static_assert(sizeof(NvmlDeviceAttributes) == 40);

// nvmlProcessInfo_v1_t: what the unversioned
// nvmlDeviceGetComputeRunningProcesses fills.
struct NvmlProcessInfoV1 {
  unsigned pid;
  unsigned long long used_gpu_memory;
};
static_assert(sizeof(NvmlProcessInfoV1) == 16);

// nvmlProcessInfo_v2_t, which is also nvmlProcessInfo_t, the struct the _v3
// query fills: v1 plus the MIG instance ids (0xFFFFFFFF without MIG).
struct NvmlProcessInfoV2 {
  unsigned pid;
  unsigned long long used_gpu_memory;
  unsigned gpu_instance_id;
  unsigned compute_instance_id;
};
static_assert(sizeof(NvmlProcessInfoV2) == 24);

template <typename Info>
using ProcessQuery = int (*)(NvmlDevice, unsigned*, Info*);

// The PIDs a process query reports, growing the buffer when NVML says it is
// too small (processes can start between two calls, hence the retries).
template <typename Info>
NvmlReply<std::vector<uint32_t>> query_pids(ProcessQuery<Info> query, NvmlDevice device) {
  std::vector<Info> infos(32);
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto count = static_cast<unsigned>(infos.size());
    int code = query(device, &count, infos.data());
    if (code == kNvmlErrorInsufficientSize) {
      infos.resize(std::max<size_t>(count, infos.size()) * 2);
      continue;
    }
    if (code != kNvmlSuccess) return {code, {}};
    std::vector<uint32_t> pids;
    for (size_t i = 0; i < std::min<size_t>(count, infos.size()); ++i) pids.push_back(infos[i].pid);
    return {kNvmlSuccess, std::move(pids)};
  }
  return {kNvmlErrorInsufficientSize, {}};
}

}  // namespace

// The entry points; a null optional one answers "not supported".
struct NvmlLibrary::Api {
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  const char* (*error_string)(int) = nullptr;
  int (*driver_version)(char*, unsigned) = nullptr;
  int (*device_count)(unsigned*) = nullptr;
  int (*handle_by_index)(unsigned, NvmlDevice*) = nullptr;
  int (*name)(NvmlDevice, char*, unsigned) = nullptr;
  int (*uuid)(NvmlDevice, char*, unsigned) = nullptr;
  int (*pci_info)(NvmlDevice, NvmlPciInfo*) = nullptr;
  int (*compute_capability)(NvmlDevice, int*, int*) = nullptr;
  int (*attributes)(NvmlDevice, NvmlDeviceAttributes*) = nullptr;
  int (*core_count)(NvmlDevice, unsigned*) = nullptr;
  int (*clock)(NvmlDevice, int, unsigned*) = nullptr;
  int (*max_clock)(NvmlDevice, int, unsigned*) = nullptr;
  int (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  int (*power)(NvmlDevice, unsigned*) = nullptr;
  int (*energy)(NvmlDevice, unsigned long long*) = nullptr;
  ProcessQuery<NvmlProcessInfoV2> processes_v2_layout = nullptr;  // _v3 or _v2
  ProcessQuery<NvmlProcessInfoV1> processes_v1_layout = nullptr;  // unversioned
};

namespace {

template <typename Fn>
void resolve(void* handle, const char* symbol, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(handle, symbol));
}

// A string query into a local buffer, always NUL-terminated.
template <typename Fn>
NvmlReply<std::string> query_string(Fn fn, NvmlDevice device) {
  if (fn == nullptr) return {kNvmlErrorFunctionNotFound, {}};
  char buffer[kStringBufferBytes] = {};
  int code = fn(device, buffer, kStringBufferBytes - 1);
  if (code != kNvmlSuccess) return {code, {}};
  return {kNvmlSuccess, std::string(buffer, strnlen(buffer, kStringBufferBytes))};
}

// "GPU is lost (NVML error 15)"; the number alone when NVML has no text.
std::string describe_code(const char* (*error_string)(int), int code) {
  const char* text = error_string ? error_string(code) : nullptr;
  std::string number = "NVML error " + std::to_string(code);
  return text && *text ? std::string(text) + " (" + number + ")" : number;
}

// A query with one unsigned output.
template <typename Fn, typename... Args>
NvmlReply<unsigned> query_unsigned(Fn fn, Args... args) {
  if (fn == nullptr) return {kNvmlErrorFunctionNotFound, 0};
  unsigned value = 0;
  int code = fn(args..., &value);
  return {code, code == kNvmlSuccess ? value : 0};
}

}  // namespace

NvmlLibrary::NvmlLibrary(void* handle, std::unique_ptr<Api> api) : handle_(handle), api_(std::move(api)) {}

NvmlLibrary::~NvmlLibrary() {
  api_->shutdown();
  dlclose(handle_);
}

Result<std::unique_ptr<NvmlLibrary>> NvmlLibrary::Open(const std::string& library) {
  dlerror();  // clear a stale message
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Status::NotFound("cannot load the NVML library '" + library + "': " + (why ? why : "dlopen failed") +
                            " (is the NVIDIA driver installed?)");
  }
  auto api = std::make_unique<Api>();
  resolve(handle, "nvmlInit_v2", api->init);
  resolve(handle, "nvmlShutdown", api->shutdown);
  resolve(handle, "nvmlErrorString", api->error_string);
  resolve(handle, "nvmlSystemGetDriverVersion", api->driver_version);
  resolve(handle, "nvmlDeviceGetCount_v2", api->device_count);
  resolve(handle, "nvmlDeviceGetHandleByIndex_v2", api->handle_by_index);
  resolve(handle, "nvmlDeviceGetName", api->name);
  resolve(handle, "nvmlDeviceGetUUID", api->uuid);
  resolve(handle, "nvmlDeviceGetPciInfo_v3", api->pci_info);
  resolve(handle, "nvmlDeviceGetCudaComputeCapability", api->compute_capability);
  resolve(handle, "nvmlDeviceGetAttributes_v2", api->attributes);
  resolve(handle, "nvmlDeviceGetNumGpuCores", api->core_count);
  resolve(handle, "nvmlDeviceGetClockInfo", api->clock);
  resolve(handle, "nvmlDeviceGetMaxClockInfo", api->max_clock);
  resolve(handle, "nvmlDeviceGetUtilizationRates", api->utilization);
  resolve(handle, "nvmlDeviceGetPowerUsage", api->power);
  resolve(handle, "nvmlDeviceGetTotalEnergyConsumption", api->energy);
  resolve(handle, "nvmlDeviceGetComputeRunningProcesses_v3", api->processes_v2_layout);
  if (api->processes_v2_layout == nullptr) {
    resolve(handle, "nvmlDeviceGetComputeRunningProcesses_v2", api->processes_v2_layout);
  }
  if (api->processes_v2_layout == nullptr) {
    resolve(handle, "nvmlDeviceGetComputeRunningProcesses", api->processes_v1_layout);
  }

  const std::pair<const char*, bool> required[] = {
      {"nvmlInit_v2", api->init != nullptr},
      {"nvmlShutdown", api->shutdown != nullptr},
      {"nvmlDeviceGetCount_v2", api->device_count != nullptr},
      {"nvmlDeviceGetHandleByIndex_v2", api->handle_by_index != nullptr},
      {"nvmlDeviceGetName", api->name != nullptr},
      {"nvmlDeviceGetUUID", api->uuid != nullptr},
  };
  for (const auto& [symbol, present] : required) {
    if (!present) {
      dlclose(handle);
      return Status::NotFound("the library '" + library + "' is not a usable NVML library: it has no " + symbol);
    }
  }

  int code = api->init();
  if (code != kNvmlSuccess) {
    std::string why = describe_code(api->error_string, code);
    dlclose(handle);
    return Status::NotFound("NVML ('" + library + "') failed to initialise: " + why +
                            " (is the NVIDIA driver loaded?)");
  }
  return std::unique_ptr<NvmlLibrary>(new NvmlLibrary(handle, std::move(api)));
}

std::string NvmlLibrary::describe(int code) const { return describe_code(api_->error_string, code); }

NvmlReply<std::string> NvmlLibrary::driver_version() const {
  if (api_->driver_version == nullptr) return {kNvmlErrorFunctionNotFound, {}};
  char buffer[kStringBufferBytes] = {};
  int code = api_->driver_version(buffer, kStringBufferBytes - 1);
  if (code != kNvmlSuccess) return {code, {}};
  return {kNvmlSuccess, std::string(buffer, strnlen(buffer, kStringBufferBytes))};
}

NvmlReply<unsigned> NvmlLibrary::device_count() const { return query_unsigned(api_->device_count); }

NvmlReply<NvmlDevice> NvmlLibrary::device_by_index(unsigned index) const {
  NvmlDevice device = nullptr;
  int code = api_->handle_by_index(index, &device);
  return {code, code == kNvmlSuccess ? device : nullptr};
}

NvmlReply<std::string> NvmlLibrary::name(NvmlDevice device) const { return query_string(api_->name, device); }

NvmlReply<std::string> NvmlLibrary::uuid(NvmlDevice device) const { return query_string(api_->uuid, device); }

NvmlReply<std::string> NvmlLibrary::pci_bus_id(NvmlDevice device) const {
  if (api_->pci_info == nullptr) return {kNvmlErrorFunctionNotFound, {}};
  NvmlPciInfo info{};
  int code = api_->pci_info(device, &info);
  if (code != kNvmlSuccess) return {code, {}};
  return {kNvmlSuccess, std::string(info.bus_id, strnlen(info.bus_id, sizeof info.bus_id))};
}

NvmlReply<NvmlComputeCapability> NvmlLibrary::compute_capability(NvmlDevice device) const {
  if (api_->compute_capability == nullptr) return {kNvmlErrorFunctionNotFound, {}};
  NvmlComputeCapability cc;
  int code = api_->compute_capability(device, &cc.major, &cc.minor);
  return {code, code == kNvmlSuccess ? cc : NvmlComputeCapability{}};
}

NvmlReply<unsigned> NvmlLibrary::multiprocessor_count(NvmlDevice device) const {
  if (api_->attributes == nullptr) return {kNvmlErrorFunctionNotFound, 0};
  NvmlDeviceAttributes attributes{};
  int code = api_->attributes(device, &attributes);
  return {code, code == kNvmlSuccess ? attributes.multiprocessor_count : 0};
}

NvmlReply<unsigned> NvmlLibrary::cuda_core_count(NvmlDevice device) const {
  return query_unsigned(api_->core_count, device);
}

NvmlReply<unsigned> NvmlLibrary::sm_clock_mhz(NvmlDevice device) const {
  return query_unsigned(api_->clock, device, kNvmlClockSm);
}

NvmlReply<unsigned> NvmlLibrary::max_sm_clock_mhz(NvmlDevice device) const {
  return query_unsigned(api_->max_clock, device, kNvmlClockSm);
}

NvmlReply<unsigned> NvmlLibrary::gpu_utilization_percent(NvmlDevice device) const {
  if (api_->utilization == nullptr) return {kNvmlErrorFunctionNotFound, 0};
  NvmlUtilization utilization{};
  int code = api_->utilization(device, &utilization);
  return {code, code == kNvmlSuccess ? utilization.gpu : 0};
}

NvmlReply<unsigned> NvmlLibrary::power_mw(NvmlDevice device) const { return query_unsigned(api_->power, device); }

NvmlReply<unsigned long long> NvmlLibrary::energy_mj(NvmlDevice device) const {
  if (api_->energy == nullptr) return {kNvmlErrorFunctionNotFound, 0};
  unsigned long long energy = 0;
  int code = api_->energy(device, &energy);
  return {code, code == kNvmlSuccess ? energy : 0};
}

NvmlReply<std::vector<uint32_t>> NvmlLibrary::compute_process_pids(NvmlDevice device) const {
  if (api_->processes_v2_layout != nullptr) return query_pids(api_->processes_v2_layout, device);
  if (api_->processes_v1_layout != nullptr) return query_pids(api_->processes_v1_layout, device);
  return {kNvmlErrorFunctionNotFound, {}};
}

}  // namespace flopsmeter
