/* A fake libnvidia-ml for the GPU sampler's tests: the NVML entry points the
 * sampler uses, answering from a script instead of a driver.
 *
 * nvmlInit_v2 reads the file named by $FAKE_NVML_SCRIPT. One GPU per line,
 * fields separated by '|', each `key=value` (spaces around either are
 * trimmed, so names keep their inner spaces); '#' starts a comment line:
 *
 *   name=NVIDIA H100 80GB HBM3 | uuid=GPU-aaaa | sm_clock=1755 | max_sm_clock=1980
 *     | util=80 | power_mw=650000 | energy_mj_per_s=650000 | pids=123,self | cc=9.0 | sm_count=132
 *
 * (one line in the file). Keys:
 *   name               nvmlDeviceGetName (required; it makes the line a GPU)
 *   uuid, pci          nvmlDeviceGetUUID, the PCI bus id (defaults: GPU-fake-<i>, 00000000:<i+1>:00.0)
 *   sm_clock, max_sm_clock   MHz, current and maximum SM clock
 *   util               percent, nvmlDeviceGetUtilizationRates' gpu field
 *   power_mw           nvmlDeviceGetPowerUsage
 *   energy_mj_per_s    the energy counter grows at this rate from nvmlInit
 *   energy_start_mj    the counter's value at nvmlInit (default 1000000)
 *   energy_reset_at_ms the counter restarts from 0 at this time (a driver reload)
 *   pids               compute processes: comma list; "self" is the caller's pid
 *   cc, sm_count, cores      compute capability "M.m", multiprocessors
 *                      (nvmlDeviceGetAttributes_v2), CUDA cores
 *   lost_at_ms         from this time (ms since nvmlInit) every query on the
 *                      device fails with lost_code (default 15, GPU is lost)
 * A value `unsupported` (or an omitted key) makes the query answer
 * NVML_ERROR_NOT_SUPPORTED. Lines without a name set the library:
 *   init=fail          nvmlInit_v2 answers NVML_ERROR_DRIVER_NOT_LOADED
 *   driver=550.54.15   nvmlSystemGetDriverVersion
 * An unknown key or a malformed value fails nvmlInit_v2 (NVML_ERROR_UNKNOWN)
 * with a message on stderr, so a typo in a test cannot pass silently.
 *
 * Built twice: fake_nvml exports the current entry points; with
 * FAKE_NVML_LEGACY (fake_nvml_legacy) the library looks like an old driver:
 * only the unversioned process query (the v1 struct), and no attributes,
 * core count, PCI info or energy counter.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAKE_EXPORT __attribute__((visibility("default")))

enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_DRIVER_NOT_LOADED = 9,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_UNKNOWN = 999,
};
enum { NVML_CLOCK_SM = 1 };

enum { kMaxDevices = 16, kMaxPids = 64, kTextBytes = 96 };
#define UNSUPPORTED (-1LL) /* a numeric field the script left out or marked unsupported */

typedef struct {
  char bus_id_legacy[16];
  unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
  char bus_id[32];
} nvmlPciInfo_t;
typedef struct {
  unsigned gpu, memory;
} nvmlUtilization_t;
typedef struct {
  unsigned multiprocessor_count, shared_copy_engine_count, shared_decoder_count, shared_encoder_count,
      shared_jpeg_count, shared_ofa_count, gpu_instance_slice_count, compute_instance_slice_count;
  unsigned long long memory_size_mb;
} nvmlDeviceAttributes_t;
typedef struct {
  unsigned pid;
  unsigned long long used_gpu_memory;
} nvmlProcessInfo_v1_t;
typedef struct {
  unsigned pid;
  unsigned long long used_gpu_memory;
  unsigned gpu_instance_id, compute_instance_id;
} nvmlProcessInfo_v2_t;

typedef struct nvmlDevice_st {
  char name[kTextBytes], uuid[kTextBytes], pci[32];
  long long sm_clock, max_sm_clock, util, power_mw;
  long long energy_mj_per_s, energy_start_mj, energy_reset_at_ms;
  long long cc_major, cc_minor, sm_count, cores;
  long long lost_at_ms, lost_code;
  int pids_supported;
  unsigned pid_count;
  unsigned pids[kMaxPids];
} FakeDevice;
typedef FakeDevice* nvmlDevice_t;

static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static int g_init_count;
static struct timespec g_init_time;
static FakeDevice g_devices[kMaxDevices];
static unsigned g_device_count;
static char g_driver[kTextBytes];

/* Microseconds since nvmlInit. */
static long long elapsed_us(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)(now.tv_sec - g_init_time.tv_sec) * 1000000 + (now.tv_nsec - g_init_time.tv_nsec) / 1000;
}

static void copy_text(char* out, size_t size, const char* text) {
  snprintf(out, size, "%s", text);
}

static char* trim(char* s) {
  while (isspace((unsigned char)*s)) ++s;
  char* end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
  return s;
}

/* A whole-number field; "unsupported" is UNSUPPORTED. Returns 0 on a bad value. */
static int parse_number(const char* value, long long* out) {
  if (strcmp(value, "unsupported") == 0) {
    *out = UNSUPPORTED;
    return 1;
  }
  char* end = NULL;
  errno = 0;
  long long n = strtoll(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || n < 0) return 0;
  *out = n;
  return 1;
}

static int parse_pids(char* value, FakeDevice* d) {
  d->pid_count = 0; /* a later `pids` replaces an earlier one */
  if (strcmp(value, "unsupported") == 0) {
    d->pids_supported = 0;
    return 1;
  }
  d->pids_supported = 1;
  for (char* item = strtok(value, ","); item != NULL; item = strtok(NULL, ",")) {
    item = trim(item);
    long long pid = 0;
    if (strcmp(item, "self") == 0) {
      pid = getpid();
    } else if (!parse_number(item, &pid) || pid == UNSUPPORTED) {
      return 0;
    }
    if (d->pid_count == kMaxPids) return 0;
    d->pids[d->pid_count++] = (unsigned)pid;
  }
  return 1;
}

static int parse_capability(const char* value, FakeDevice* d) {
  if (strcmp(value, "unsupported") == 0) return 1;
  int major = 0, minor = 0, used = 0;
  if (sscanf(value, "%d.%d%n", &major, &minor, &used) != 2 || value[used] != '\0') return 0;
  d->cc_major = major;
  d->cc_minor = minor;
  return 1;
}

static int set_device_field(FakeDevice* d, const char* key, char* value) {
  struct {
    const char* key;
    long long* field;
  } numbers[] = {
      {"sm_clock", &d->sm_clock},
      {"max_sm_clock", &d->max_sm_clock},
      {"util", &d->util},
      {"power_mw", &d->power_mw},
      {"energy_mj_per_s", &d->energy_mj_per_s},
      {"energy_start_mj", &d->energy_start_mj},
      {"energy_reset_at_ms", &d->energy_reset_at_ms},
      {"sm_count", &d->sm_count},
      {"cores", &d->cores},
      {"lost_at_ms", &d->lost_at_ms},
      {"lost_code", &d->lost_code},
  };
  for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; ++i) {
    if (strcmp(key, numbers[i].key) == 0) return parse_number(value, numbers[i].field);
  }
  if (strcmp(key, "name") == 0) return copy_text(d->name, sizeof d->name, value), 1;
  if (strcmp(key, "uuid") == 0) return copy_text(d->uuid, sizeof d->uuid, value), 1;
  if (strcmp(key, "pci") == 0) return copy_text(d->pci, sizeof d->pci, value), 1;
  if (strcmp(key, "pids") == 0) return parse_pids(value, d);
  if (strcmp(key, "cc") == 0) return parse_capability(value, d);
  return 0;
}

static void reset_device(FakeDevice* d, unsigned index) {
  memset(d, 0, sizeof *d);
  d->sm_clock = d->max_sm_clock = d->util = d->power_mw = UNSUPPORTED;
  d->energy_mj_per_s = d->energy_reset_at_ms = UNSUPPORTED;
  d->energy_start_mj = 1000000;
  d->cc_major = d->cc_minor = d->sm_count = d->cores = UNSUPPORTED;
  d->lost_at_ms = UNSUPPORTED;
  d->lost_code = NVML_ERROR_GPU_IS_LOST;
  snprintf(d->uuid, sizeof d->uuid, "GPU-fake-%u", index);
  snprintf(d->pci, sizeof d->pci, "00000000:%02X:00.0", index + 1);
}

/* One script line: a GPU when it names one, else library settings.
 * Returns the init result for this line. */
static int load_line(char* line, int line_number, const char* path) {
  line = trim(line);
  if (*line == '\0' || *line == '#') return NVML_SUCCESS;
  if (g_device_count == kMaxDevices) {
    fprintf(stderr, "fake_nvml: %s:%d: more than %d GPUs\n", path, line_number, kMaxDevices);
    return NVML_ERROR_UNKNOWN;
  }
  FakeDevice* d = &g_devices[g_device_count];
  reset_device(d, g_device_count);
  int is_device = 0, init_fails = 0;
  char* save = NULL;
  for (char* field = strtok_r(line, "|", &save); field != NULL; field = strtok_r(NULL, "|", &save)) {
    char* eq = strchr(field, '=');
    if (eq == NULL) {
      fprintf(stderr, "fake_nvml: %s:%d: field '%s' is not key=value\n", path, line_number, trim(field));
      return NVML_ERROR_UNKNOWN;
    }
    *eq = '\0';
    char* key = trim(field);
    char* value = trim(eq + 1);
    int ok = 1;
    if (strcmp(key, "init") == 0) {
      init_fails = strcmp(value, "fail") == 0;
      ok = init_fails || strcmp(value, "ok") == 0;
    } else if (strcmp(key, "driver") == 0) {
      copy_text(g_driver, sizeof g_driver, value);
    } else {
      is_device |= strcmp(key, "name") == 0;
      ok = set_device_field(d, key, value);
    }
    if (!ok) {
      fprintf(stderr, "fake_nvml: %s:%d: bad field '%s' = '%s'\n", path, line_number, key, value);
      return NVML_ERROR_UNKNOWN;
    }
  }
  if (is_device) ++g_device_count;
  return init_fails ? NVML_ERROR_DRIVER_NOT_LOADED : NVML_SUCCESS;
}

static int load_script(void) {
  g_device_count = 0;
  copy_text(g_driver, sizeof g_driver, "999.99.99-fake");
  const char* path = getenv("FAKE_NVML_SCRIPT");
  FILE* file = path ? fopen(path, "r") : NULL;
  if (file == NULL) {
    fprintf(stderr, "fake_nvml: cannot read $FAKE_NVML_SCRIPT ('%s')\n", path ? path : "unset");
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  char line[4096];
  int line_number = 0, result = NVML_SUCCESS;
  while (result == NVML_SUCCESS && fgets(line, sizeof line, file) != NULL) {
    result = load_line(line, ++line_number, path);
  }
  fclose(file);
  return result;
}

/* The device behind a handle, or the error a query on it answers. */
static int device_state(nvmlDevice_t device, FakeDevice** out) {
  if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device < g_devices || device >= g_devices + g_device_count) return NVML_ERROR_INVALID_ARGUMENT;
  if (device->lost_at_ms != UNSUPPORTED && elapsed_us() >= device->lost_at_ms * 1000) return (int)device->lost_code;
  *out = device;
  return NVML_SUCCESS;
}

/* Every device query: checks the handle, then reads one number under the lock. */
#define DEVICE_QUERY(device, d)                 \
  FakeDevice* d = NULL;                         \
  pthread_mutex_lock(&g_mutex);                 \
  int state_ = device_state(device, &d);        \
  pthread_mutex_unlock(&g_mutex);               \
  if (state_ != NVML_SUCCESS) return state_;

static int answer_unsigned(long long value, unsigned* out) {
  if (out == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (value == UNSUPPORTED) return NVML_ERROR_NOT_SUPPORTED;
  *out = (unsigned)value;
  return NVML_SUCCESS;
}

static int answer_text(const char* text, char* out, unsigned length) {
  if (out == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (strlen(text) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(out, text, strlen(text) + 1);
  return NVML_SUCCESS;
}

FAKE_EXPORT int nvmlInit_v2(void) {
  pthread_mutex_lock(&g_mutex);
  int result = NVML_SUCCESS;
  if (g_init_count == 0) {
    clock_gettime(CLOCK_MONOTONIC, &g_init_time);
    result = load_script();
  }
  if (result == NVML_SUCCESS) ++g_init_count;
  pthread_mutex_unlock(&g_mutex);
  return result;
}

FAKE_EXPORT int nvmlShutdown(void) {
  pthread_mutex_lock(&g_mutex);
  int result = g_init_count > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
  if (g_init_count > 0) --g_init_count;
  pthread_mutex_unlock(&g_mutex);
  return result;
}

FAKE_EXPORT const char* nvmlErrorString(int result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
  }
}

FAKE_EXPORT int nvmlSystemGetDriverVersion(char* version, unsigned length) {
  if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
  return answer_text(g_driver, version, length);
}

FAKE_EXPORT int nvmlDeviceGetCount_v2(unsigned* count) {
  if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
  return answer_unsigned(g_device_count, count);
}

FAKE_EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device == NULL || index >= g_device_count) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &g_devices[index];
  return NVML_SUCCESS;
}

FAKE_EXPORT int nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned length) {
  DEVICE_QUERY(device, d);
  return answer_text(d->name, name, length);
}

FAKE_EXPORT int nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned length) {
  DEVICE_QUERY(device, d);
  return answer_text(d->uuid, uuid, length);
}

FAKE_EXPORT int nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major, int* minor) {
  DEVICE_QUERY(device, d);
  if (major == NULL || minor == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (d->cc_major == UNSUPPORTED) return NVML_ERROR_NOT_SUPPORTED;
  *major = (int)d->cc_major;
  *minor = (int)d->cc_minor;
  return NVML_SUCCESS;
}

FAKE_EXPORT int nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned* clock) {
  DEVICE_QUERY(device, d);
  return type == NVML_CLOCK_SM ? answer_unsigned(d->sm_clock, clock) : NVML_ERROR_NOT_SUPPORTED;
}

FAKE_EXPORT int nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, int type, unsigned* clock) {
  DEVICE_QUERY(device, d);
  return type == NVML_CLOCK_SM ? answer_unsigned(d->max_sm_clock, clock) : NVML_ERROR_NOT_SUPPORTED;
}

FAKE_EXPORT int nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* utilization) {
  DEVICE_QUERY(device, d);
  if (utilization == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  utilization->memory = 0;
  return answer_unsigned(d->util, &utilization->gpu);
}

FAKE_EXPORT int nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned* power_mw) {
  DEVICE_QUERY(device, d);
  return answer_unsigned(d->power_mw, power_mw);
}

/* The process list in either struct layout. */
#define FILL_PROCESSES(InfoType, device, count, infos)                 \
  DEVICE_QUERY(device, d);                                             \
  if ((count) == NULL) return NVML_ERROR_INVALID_ARGUMENT;             \
  if (!d->pids_supported) return NVML_ERROR_NOT_SUPPORTED;             \
  if (*(count) < d->pid_count) {                                       \
    *(count) = d->pid_count;                                           \
    return NVML_ERROR_INSUFFICIENT_SIZE;                               \
  }                                                                    \
  for (unsigned i = 0; i < d->pid_count; ++i) {                        \
    InfoType info;                                                     \
    memset(&info, 0xff, sizeof info); /* MIG ids: 0xFFFFFFFF */        \
    info.pid = d->pids[i];                                             \
    info.used_gpu_memory = 1ULL << 30;                                 \
    (infos)[i] = info;                                                 \
  }                                                                    \
  *(count) = d->pid_count;                                             \
  return NVML_SUCCESS;

FAKE_EXPORT int nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned* count,
                                                     nvmlProcessInfo_v1_t* infos) {
  FILL_PROCESSES(nvmlProcessInfo_v1_t, device, count, infos)
}

#ifndef FAKE_NVML_LEGACY

FAKE_EXPORT int nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned* count,
                                                        nvmlProcessInfo_v2_t* infos) {
  FILL_PROCESSES(nvmlProcessInfo_v2_t, device, count, infos)
}

FAKE_EXPORT int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned* count,
                                                        nvmlProcessInfo_v2_t* infos) {
  FILL_PROCESSES(nvmlProcessInfo_v2_t, device, count, infos)
}

FAKE_EXPORT int nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  DEVICE_QUERY(device, d);
  if (pci == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  memset(pci, 0, sizeof *pci);
  copy_text(pci->bus_id, sizeof pci->bus_id, d->pci);
  return NVML_SUCCESS;
}

FAKE_EXPORT int nvmlDeviceGetAttributes_v2(nvmlDevice_t device, nvmlDeviceAttributes_t* attributes) {
  DEVICE_QUERY(device, d);
  if (attributes == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  memset(attributes, 0, sizeof *attributes);
  return answer_unsigned(d->sm_count, &attributes->multiprocessor_count);
}

FAKE_EXPORT int nvmlDeviceGetNumGpuCores(nvmlDevice_t device, unsigned* cores) {
  DEVICE_QUERY(device, d);
  return answer_unsigned(d->cores, cores);
}

FAKE_EXPORT int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energy_mj) {
  DEVICE_QUERY(device, d);
  if (energy_mj == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (d->energy_mj_per_s == UNSUPPORTED) return NVML_ERROR_NOT_SUPPORTED;
  long long us = elapsed_us();
  long long start = d->energy_start_mj;
  if (d->energy_reset_at_ms != UNSUPPORTED && us >= d->energy_reset_at_ms * 1000) {
    us -= d->energy_reset_at_ms * 1000;
    start = 0;
  }
  *energy_mj = (unsigned long long)(start + d->energy_mj_per_s * us / 1000000);
  return NVML_SUCCESS;
}

#endif /* FAKE_NVML_LEGACY */
