// Specification of the NVML GPU sampler, run against the scripted fake NVML
// (tests/fake_nvml/fake_nvml.c): which GPUs count, the peak each one gets,
// what is integrated (bound, utilisation-weighted figure, energy), how
// unsupported queries and lost GPUs are handled, and process attribution.
//
// Each test samples at 200 Hz for a quarter of a second; figures are checked
// against the scripted values, exactly where the sampler's own clock is the
// only input (rate x attributed time) and with a tolerance where the fake's
// clock and the sampler's meet (the energy counter).
#include "adapters/gpu_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "unit/test_support.h"

namespace flopsmeter {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr double kH100SxmBf16 = 989.4e12;                // data/gpus.json h100-sxm
constexpr double kH100AtMaxClock = 132 * 4096 * 1980e6;  // sm_count x FLOP/clk/SM x MHz
constexpr double kRunSeconds = 0.25;

// An H100 SXM line of the fake's script at its maximum clock, 80% busy,
// drawing 650 W; `more` adds or overrides fields (a later key wins).
std::string h100(const std::string& uuid, const std::string& more = "") {
  return "name=NVIDIA H100 80GB HBM3 | uuid=" + uuid +
         " | sm_clock=1980 | max_sm_clock=1980 | util=80 | power_mw=650000 | energy_mj_per_s=650000"
         " | cc=9.0 | sm_count=132 | pids=self" +
         (more.empty() ? "" : " | " + more) + "\n";
}

std::vector<uint32_t> indices(const GpuSnapshot& snapshot) {
  std::vector<uint32_t> out;
  for (const GpuTotals& gpu : snapshot.gpus) out.push_back(gpu.index);
  return out;
}

// The FLOP/s the bound charged: constant rates make it exact.
double charged_rate(const GpuTotals& gpu) { return gpu.bound_flop / gpu.attributed_seconds; }

class GpuSamplerTest : public ::testing::Test {
 protected:
  // Points the fake library at `text`.
  void Script(const std::string& text) {
    std::string path = dir_.file("nvml-script.txt", text);
    setenv("FAKE_NVML_SCRIPT", path.c_str(), 1);
  }

  GpuSamplerOptions Options() const {
    GpuSamplerOptions options;
    options.library = FM_FAKE_NVML_PATH;
    options.hz = 200;
    options.catalog = &testing::builtin_catalog().gpus();
    return options;
  }

  // Starts, samples for kRunSeconds and stops.
  GpuSnapshot Run(const GpuSamplerOptions& options) {
    auto sampler = GpuSampler::Start(options);
    EXPECT_TRUE(sampler.ok()) << sampler.status().ToString();
    if (!sampler.ok()) return {};
    std::this_thread::sleep_for(std::chrono::duration<double>(kRunSeconds));
    return (*sampler)->stop();
  }

  GpuSnapshot RunWithVisible(const std::string& visible) {
    GpuSamplerOptions options = Options();
    options.visible_devices = visible;
    return Run(options);
  }

  Status StartError(const GpuSamplerOptions& options) {
    auto sampler = GpuSampler::Start(options);
    return sampler.ok() ? Status::Ok() : sampler.status();
  }

  testing::TempDir dir_;
};

// --- Which GPUs count: CUDA_VISIBLE_DEVICES, read as CUDA reads it ---------

class GpuSelectionTest : public GpuSamplerTest {
 protected:
  void SetUp() override {
    Script(h100("GPU-aaaa1111-0000") + h100("GPU-aaaa2222-0000") + h100("GPU-bbbb3333-0000"));
  }
};

TEST_F(GpuSelectionTest, EveryGpuWhenCudaVisibleDevicesIsUnset) {
  EXPECT_THAT(indices(Run(Options())), ElementsAre(0, 1, 2));
}

TEST_F(GpuSelectionTest, IndicesAndUuidsAreReportedInNvmlOrder) {
  GpuSnapshot snapshot = RunWithVisible("2,GPU-aaaa2222-0000");
  EXPECT_THAT(indices(snapshot), ElementsAre(1, 2));
  EXPECT_EQ(snapshot.gpus[1].uuid, "GPU-bbbb3333-0000");
}

TEST_F(GpuSelectionTest, AUniqueUuidPrefixNamesItsGpu) {
  EXPECT_THAT(indices(RunWithVisible("GPU-bbbb")), ElementsAre(2));
  EXPECT_THAT(indices(RunWithVisible("gpu-AAAA2")), ElementsAre(1));  // case does not matter
}

TEST_F(GpuSelectionTest, AnEmptyValueOrMinusOneHidesEveryGpu) {
  GpuSnapshot empty = RunWithVisible("");
  EXPECT_THAT(empty.gpus, IsEmpty());
  EXPECT_THAT(empty.notes, Contains(HasSubstr("empty")));
  EXPECT_THAT(RunWithVisible("-1").gpus, IsEmpty());
}

TEST_F(GpuSelectionTest, TheListStopsAtTheFirstEntryNamingNoGpuLikeCuda) {
  GpuSnapshot snapshot = RunWithVisible("1,7,0");
  EXPECT_THAT(indices(snapshot), ElementsAre(1));
  EXPECT_THAT(snapshot.notes, Contains(AllOf(HasSubstr("'7'"), HasSubstr("ignored"))));
  EXPECT_THAT(indices(RunWithVisible("0,2,-1,1")), ElementsAre(0, 2));  // CUDA's documented example
  EXPECT_THAT(indices(RunWithVisible("0,GPU-aaaa,2")), ElementsAre(0));  // an ambiguous prefix names none
}

TEST_F(GpuSelectionTest, AFirstEntryNamingNoGpuIsAnError) {
  GpuSamplerOptions options = Options();
  options.visible_devices = "7";
  Status status = StartError(options);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("'7'"), HasSubstr("GPU-bbbb3333-0000")));
}

TEST_F(GpuSelectionTest, AGpuNamedTwiceIsMeteredOnce) {
  GpuSnapshot snapshot = RunWithVisible("0,GPU-aaaa1111,0");
  EXPECT_THAT(indices(snapshot), ElementsAre(0));
  EXPECT_THAT(snapshot.notes, Contains(HasSubstr("twice")));
}

TEST_F(GpuSelectionTest, MigInstancesAreNotSupportedYet) {
  GpuSamplerOptions options = Options();
  options.visible_devices = "MIG-GPU-aaaa1111-0000/1/0";
  Status status = StartError(options);
  EXPECT_EQ(status.code(), StatusCode::kUnsupported);
  EXPECT_THAT(status.message(), HasSubstr("MIG"));
}

// --- The rate: catalog peak, derived peak, or the user's ------------------

TEST_F(GpuSamplerTest, BoundIsTheClockScaledRateTimesTheTimeOnEveryGpu) {
  Script("driver=550.54.15\n" + h100("GPU-aaaa", "pci=00000000:17:00.0") + h100("GPU-bbbb"));
  GpuSnapshot snapshot = Run(Options());
  ASSERT_EQ(snapshot.gpus.size(), 2u);
  EXPECT_EQ(snapshot.driver_version, "550.54.15");
  EXPECT_EQ(snapshot.gpus[0].pci_bus_id, "00000000:17:00.0");
  double total_bound = 0;
  for (const GpuTotals& gpu : snapshot.gpus) {
    EXPECT_EQ(gpu.catalog_id, "h100-sxm");
    EXPECT_DOUBLE_EQ(gpu.peak_flop_per_s, kH100SxmBf16);
    EXPECT_EQ(gpu.max_sm_clock_mhz, 1980u);
    // At 1980 MHz the layout gives 1070.5 TFLOP/s, above the datasheet's 989.4.
    EXPECT_NEAR(charged_rate(gpu), kH100AtMaxClock, kH100AtMaxClock * 1e-9);
    EXPECT_NEAR(gpu.attributed_seconds, snapshot.elapsed_s, 0.02);
    EXPECT_GE(gpu.attributed_seconds, kRunSeconds);
    EXPECT_NEAR(gpu.utilization_flop, 0.8 * gpu.bound_flop, gpu.bound_flop * 1e-9);
    EXPECT_GE(gpu.bound_flop, gpu.utilization_flop);
    EXPECT_NEAR(gpu.mean_utilization, 0.8, 1e-9);  // time-weighted sums
    EXPECT_NEAR(gpu.mean_sm_clock_mhz, 1980, 1e-6);
    EXPECT_GT(gpu.samples, 10u);
    EXPECT_FALSE(gpu.lost);
    total_bound += gpu.bound_flop;
  }
  EXPECT_NEAR(total_bound, 2 * kH100AtMaxClock * snapshot.elapsed_s, 2 * kH100AtMaxClock * 0.02);
}

TEST_F(GpuSamplerTest, TheDatasheetPeakIsTheRatesFloor) {
  Script(h100("GPU-aaaa", "sm_clock=1755"));  // 132 x 4096 x 1755 MHz = 948.9 TFLOP/s
  GpuTotals gpu = Run(Options()).gpus.at(0);
  EXPECT_NEAR(charged_rate(gpu), kH100SxmBf16, kH100SxmBf16 * 1e-9);
  EXPECT_NEAR(gpu.mean_sm_clock_mhz, 1755, 1e-6);
}

TEST_F(GpuSamplerTest, Fp16UsesTheBf16TensorFigureWhereThePeaksAgree) {
  Script(h100("GPU-aaaa"));
  GpuSamplerOptions options = Options();
  options.dtype = DType::kFp16;
  GpuTotals gpu = Run(options).gpus.at(0);
  EXPECT_NEAR(charged_rate(gpu), kH100AtMaxClock, kH100AtMaxClock * 1e-9);
}

TEST_F(GpuSamplerTest, AUserPeakReplacesTheCatalog) {
  Script(h100("GPU-aaaa"));
  GpuSamplerOptions options = Options();
  options.peak_flop_per_s = 5e14;
  GpuTotals gpu = Run(options).gpus.at(0);
  EXPECT_EQ(gpu.peak_source, "user-supplied peak (option \"peak-flops\")");
  EXPECT_EQ(gpu.catalog_id, "");
  EXPECT_NEAR(charged_rate(gpu), 5e14, 5e14 * 1e-9);  // not scaled by the clock
}

TEST_F(GpuSamplerTest, AnUnknownGpuOfAKnownArchitectureGetsADerivedPeak) {
  Script("name=NVIDIA H100 Prototype | sm_clock=1800 | max_sm_clock=1800 | util=50 | cc=9.0 | sm_count=100 | "
         "pids=self\n");
  GpuTotals gpu = Run(Options()).gpus.at(0);
  constexpr double kDerived = 100 * 4096 * 1800e6;
  EXPECT_DOUBLE_EQ(gpu.peak_flop_per_s, kDerived);
  EXPECT_EQ(gpu.catalog_id, "");
  EXPECT_THAT(gpu.peak_source, AllOf(HasSubstr("derived"), HasSubstr("100 SMs"), HasSubstr("4096"),
                                     HasSubstr("hopper"), HasSubstr("1800 MHz")));
  EXPECT_THAT(gpu.notes, Contains(HasSubstr("not confirmed")));
  EXPECT_NEAR(charged_rate(gpu), kDerived, kDerived * 1e-9);
}

TEST_F(GpuSamplerTest, TheSmCountFollowsFromCudaCoresWhereNvmlGivesNoAttributes) {
  Script("name=NVIDIA H100 Prototype | max_sm_clock=1800 | cc=9.0 | sm_count=unsupported | cores=12800\n");
  GpuTotals gpu = Run(Options()).gpus.at(0);
  EXPECT_DOUBLE_EQ(gpu.peak_flop_per_s, 100 * 4096 * 1800e6);  // 12800 cores / 128 per Hopper SM
  EXPECT_THAT(gpu.peak_source, HasSubstr("12800 CUDA cores"));
}

TEST_F(GpuSamplerTest, WhereAnArchitecturesEntriesDisagreeTheLargerFigureIsTaken) {
  // GA10x: 1024 dense BF16 FLOP/clk/SM on the A10, 512 on the A10G.
  Script("name=NVIDIA RTX A5000 | max_sm_clock=1695 | cc=8.6 | sm_count=64\n");
  GpuTotals gpu = Run(Options()).gpus.at(0);
  EXPECT_DOUBLE_EQ(gpu.peak_flop_per_s, 64 * 1024 * 1695e6);
  EXPECT_THAT(gpu.peak_source, AllOf(HasSubstr("ampere-ga10x"), HasSubstr("512 in a10g"), HasSubstr("upper bound")));
}

TEST_F(GpuSamplerTest, AGpuWithoutAKnownOrDerivablePeakAsksForOne) {
  Script("name=NVIDIA B300 | max_sm_clock=2000 | cc=10.3 | sm_count=160\n");
  Status status = StartError(Options());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("GPU 0 'NVIDIA B300' is not in the GPU catalog and its peak cannot be derived"),
                    HasSubstr("10.3"), HasSubstr("option \"peak-flops\" (FLOPS_METER_PEAK_FLOPS)"), HasSubstr("gpus.json")));

  Script("name=NVIDIA H100 Prototype | max_sm_clock=1800 | cc=9.0\n");  // no SM count at all
  EXPECT_THAT(StartError(Options()).message(), HasSubstr("neither its SM count nor its CUDA core count"));
}

TEST_F(GpuSamplerTest, ADtypeTheGpuHasNoPeakForIsAnError) {
  Script("name=Tesla V100-SXM2-16GB | sm_clock=1530 | max_sm_clock=1530 | cc=7.0 | sm_count=80\n");
  GpuSamplerOptions options = Options();
  options.dtype = DType::kBf16;  // Volta has no BF16 path
  Status status = StartError(options);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("v100-sxm2-16gb"), HasSubstr("bf16"), HasSubstr("fp32, fp16"),
                                      HasSubstr("option \"peak-flops\"")));
}

// --- Energy ---------------------------------------------------------------

TEST_F(GpuSamplerTest, EnergyIsTheCounterDifference) {
  Script(h100("GPU-aaaa"));  // 650 J/s
  GpuSnapshot snapshot = Run(Options());
  const GpuTotals& gpu = snapshot.gpus.at(0);
  EXPECT_EQ(gpu.energy_method, "counter");
  EXPECT_NEAR(gpu.energy_j, 650 * gpu.attributed_seconds, 650 * 0.04);  // two clocks meet
  EXPECT_DOUBLE_EQ(gpu.max_power_w, 650);
}

TEST_F(GpuSamplerTest, WithoutACounterEnergyIsThePowerIntegral) {
  Script(h100("GPU-aaaa", "energy_mj_per_s=unsupported | power_mw=300000"));
  GpuTotals gpu = Run(Options()).gpus.at(0);
  EXPECT_EQ(gpu.energy_method, "power_integral");
  EXPECT_NEAR(gpu.energy_j, 300 * gpu.attributed_seconds, 1e-6);
  EXPECT_THAT(gpu.notes, Contains(HasSubstr("nvmlDeviceGetTotalEnergyConsumption is not supported")));
}

TEST_F(GpuSamplerTest, WithoutCounterOrPowerEnergyIsUnavailable) {
  Script(h100("GPU-aaaa", "energy_mj_per_s=unsupported | power_mw=unsupported"));
  GpuTotals gpu = Run(Options()).gpus.at(0);
  EXPECT_EQ(gpu.energy_method, "unavailable");
  EXPECT_EQ(gpu.energy_j, 0);
}

TEST_F(GpuSamplerTest, ACounterGoingBackwardsRestartsTheBaseline) {
  Script(h100("GPU-aaaa", "energy_mj_per_s=1000000 | energy_reset_at_ms=100"));  // 1000 J/s, reload at 0.1 s
  GpuTotals gpu = Run(Options()).gpus.at(0);
  // Every interval but the one holding the reload is counted.
  EXPECT_LE(gpu.energy_j, 1000 * gpu.attributed_seconds * 1.02);
  EXPECT_GE(gpu.energy_j, 1000 * (gpu.attributed_seconds - 0.05));
  EXPECT_THAT(gpu.notes, Contains(HasSubstr("went back")));
}

// --- Queries NVML does not support ----------------------------------------

TEST_F(GpuSamplerTest, WithoutTheCurrentClockTheRateIsTakenAtTheMaximumClock) {
  Script(h100("GPU-aaaa", "sm_clock=unsupported") +
         h100("GPU-bbbb", "sm_clock=unsupported | max_sm_clock=unsupported"));
  GpuSnapshot snapshot = Run(Options());
  EXPECT_NEAR(charged_rate(snapshot.gpus.at(0)), kH100AtMaxClock, kH100AtMaxClock * 1e-9);
  EXPECT_THAT(snapshot.gpus[0].notes, Contains(HasSubstr("at the maximum SM clock")));
  EXPECT_NEAR(charged_rate(snapshot.gpus.at(1)), kH100SxmBf16, kH100SxmBf16 * 1e-9);
  EXPECT_THAT(snapshot.gpus[1].notes, Contains(HasSubstr("the datasheet peak")));
  EXPECT_EQ(snapshot.gpus[1].max_sm_clock_mhz, 0u);
  EXPECT_EQ(snapshot.gpus[0].mean_sm_clock_mhz, 0);
}

TEST_F(GpuSamplerTest, WithoutUtilisationTheWeightedFigureStaysZeroAndSaysSo) {
  Script(h100("GPU-aaaa", "util=unsupported"));
  GpuTotals gpu = Run(Options()).gpus.at(0);
  EXPECT_GT(gpu.bound_flop, 0);
  EXPECT_EQ(gpu.utilization_flop, 0);
  EXPECT_THAT(gpu.notes, Contains(HasSubstr("nvmlDeviceGetUtilizationRates is not supported")));
}

// --- GPUs that stop answering ---------------------------------------------

TEST_F(GpuSamplerTest, ALostGpuKeepsItsTotalsAndTheOthersGoOn) {
  Script(h100("GPU-aaaa") + h100("GPU-bbbb", "lost_at_ms=100"));
  GpuSnapshot snapshot = Run(Options());
  const GpuTotals& healthy = snapshot.gpus.at(0);
  const GpuTotals& lost = snapshot.gpus.at(1);
  EXPECT_FALSE(healthy.lost);
  EXPECT_NEAR(healthy.attributed_seconds, snapshot.elapsed_s, 0.02);
  EXPECT_TRUE(lost.lost);
  EXPECT_GT(lost.attributed_seconds, 0.02);
  EXPECT_LT(lost.attributed_seconds, 0.1);
  EXPECT_NEAR(charged_rate(lost), kH100AtMaxClock, kH100AtMaxClock * 1e-9);
  EXPECT_NEAR(lost.energy_j, 650 * lost.attributed_seconds, 650 * 0.04);
  EXPECT_THAT(lost.notes, Contains(AllOf(HasSubstr("lost at"), HasSubstr("GPU is lost (NVML error 15)"))));
}

TEST_F(GpuSamplerTest, AGpuFailingWithOtherErrorsIsLostAfterRepeatedFailures) {
  Script(h100("GPU-aaaa", "lost_at_ms=100 | lost_code=999"));
  GpuTotals gpu = Run(Options()).gpus.at(0);
  EXPECT_TRUE(gpu.lost);
  EXPECT_LT(gpu.attributed_seconds, 0.1);
  EXPECT_THAT(gpu.notes, Contains(HasSubstr("NVML error 999")));
}

// --- The library ----------------------------------------------------------

TEST_F(GpuSamplerTest, AMissingLibraryIsNotFoundAndNamed) {
  GpuSamplerOptions options = Options();
  options.library = "/nonexistent/libnvidia-ml.so.1";
  Status status = StartError(options);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("/nonexistent/libnvidia-ml.so.1"), HasSubstr("No such file")));
}

TEST_F(GpuSamplerTest, ALibraryWithoutNvmlIsNotFound) {
  GpuSamplerOptions options = Options();
  options.library = "libc.so.6";
  EXPECT_THAT(StartError(options).message(), HasSubstr("has no nvmlInit_v2"));
}

TEST_F(GpuSamplerTest, AFailingNvmlInitIsNotFound) {
  Script("init=fail\n" + h100("GPU-aaaa"));
  Status status = StartError(Options());
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("failed to initialise"), HasSubstr("Driver Not Loaded")));
}

TEST_F(GpuSamplerTest, AnOldDriverLibraryStillWorks) {
  // The unversioned process query with the v1 struct; no energy counter, no
  // attributes, no PCI info. The second PID is read at the v1 stride.
  Script(h100("GPU-aaaa", "pids=" + std::to_string(getppid()) + ",self"));
  GpuSamplerOptions options = Options();
  options.library = FM_FAKE_NVML_LEGACY_PATH;
  options.job_pids = {getpid()};
  GpuTotals gpu = Run(options).gpus.at(0);
  EXPECT_THAT(gpu.pids_seen, ElementsAre(getpid()));
  EXPECT_GT(gpu.attributed_seconds, 0.2);
  EXPECT_EQ(gpu.energy_method, "power_integral");
  EXPECT_EQ(gpu.pci_bus_id, "");
}

// --- Process attribution --------------------------------------------------

TEST_F(GpuSamplerTest, OnlyGpusRunningAJobProcessCount) {
  // The test's parent is not the job's: it is an ancestor, not a descendant.
  Script(h100("GPU-aaaa", "pids=" + std::to_string(getppid())) +
         h100("GPU-bbbb", "pids=" + std::to_string(getppid()) + ",self"));
  GpuSamplerOptions options = Options();
  options.job_pids = {getpid()};
  GpuSnapshot snapshot = Run(options);
  const GpuTotals& foreign = snapshot.gpus.at(0);
  EXPECT_EQ(foreign.bound_flop, 0);
  EXPECT_EQ(foreign.attributed_seconds, 0);
  EXPECT_EQ(foreign.energy_j, 0);
  EXPECT_THAT(foreign.pids_seen, IsEmpty());
  EXPECT_THAT(foreign.notes, Contains(HasSubstr("no job process seen")));
  const GpuTotals& job = snapshot.gpus.at(1);
  EXPECT_THAT(job.pids_seen, ElementsAre(getpid()));
  EXPECT_NEAR(job.attributed_seconds, snapshot.elapsed_s, 0.02);
}

TEST_F(GpuSamplerTest, ADescendantOfAJobProcessCountsThroughProc) {
  // The test is the job; its child's child runs on the GPU, under a name with
  // spaces and parentheses that /proc/PID/stat prints as they are.
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (fork() == 0) {
      prctl(PR_SET_NAME, "w) 1 2 (x");
      pid_t self = getpid();
      (void)!write(pipe_fds[1], &self, sizeof self);
    }
    pause();
    _exit(0);
  }
  pid_t grandchild = 0;
  ASSERT_EQ(read(pipe_fds[0], &grandchild, sizeof grandchild), ssize_t(sizeof grandchild));
  close(pipe_fds[0]);
  close(pipe_fds[1]);

  Script(h100("GPU-aaaa", "pids=" + std::to_string(grandchild)));
  GpuSamplerOptions options = Options();
  options.job_pids = {getpid()};
  GpuTotals gpu = Run(options).gpus.at(0);
  kill(grandchild, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_THAT(gpu.pids_seen, ElementsAre(grandchild));
  EXPECT_GT(gpu.attributed_seconds, 0.2);
}

TEST_F(GpuSamplerTest, AProcessOutsideThisProcCountsAsTheJobs) {
  Script(h100("GPU-aaaa", "pids=2147483000"));  // above any pid_max: another PID namespace
  GpuSamplerOptions options = Options();
  options.job_pids = {getpid()};
  GpuTotals gpu = Run(options).gpus.at(0);
  EXPECT_GT(gpu.attributed_seconds, 0.2);
  EXPECT_THAT(gpu.notes, Contains(HasSubstr("2147483000")));
}

TEST_F(GpuSamplerTest, WithoutAProcessListTheGpuCountsForTheWholeRun) {
  Script(h100("GPU-aaaa", "pids=unsupported"));
  GpuSamplerOptions options = Options();
  options.job_pids = {getpid()};
  GpuSnapshot snapshot = Run(options);
  EXPECT_NEAR(snapshot.gpus.at(0).attributed_seconds, snapshot.elapsed_s, 0.02);
  EXPECT_THAT(snapshot.gpus[0].notes, Contains(HasSubstr("upper bound")));
}

// --- The sampling thread --------------------------------------------------

TEST_F(GpuSamplerTest, StartTakesTheFirstSampleAndStopDoesNotWaitForTheNextTick) {
  Script(h100("GPU-aaaa"));
  GpuSamplerOptions options = Options();
  options.hz = 1;
  auto sampler = GpuSampler::Start(options);
  ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
  EXPECT_EQ((*sampler)->snapshot().gpus.at(0).samples, 1u);
  auto before_stop = std::chrono::steady_clock::now();
  GpuSnapshot stopped = (*sampler)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before_stop, std::chrono::milliseconds(500));
  EXPECT_EQ(stopped.gpus.at(0).samples, 2u);  // and the last
}

TEST_F(GpuSamplerTest, SnapshotsGrowWhileSamplingAndStopIsFinal) {
  Script(h100("GPU-aaaa"));
  auto sampler = GpuSampler::Start(Options());
  ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  GpuSnapshot running = (*sampler)->snapshot();
  EXPECT_GT(running.gpus.at(0).samples, 5u);
  GpuSnapshot stopped = (*sampler)->stop();
  EXPECT_GT(stopped.gpus.at(0).bound_flop, running.gpus[0].bound_flop);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  GpuSnapshot again = (*sampler)->stop();
  EXPECT_EQ(again.gpus.at(0).samples, stopped.gpus[0].samples);
  EXPECT_EQ(again.elapsed_s, stopped.elapsed_s);
  EXPECT_GT((*sampler)->thread_cpu_seconds(), 0);
}

TEST_F(GpuSamplerTest, OptionsAreChecked) {
  Script(h100("GPU-aaaa"));
  GpuSamplerOptions options = Options();
  options.hz = 0;
  EXPECT_EQ(StartError(options).code(), StatusCode::kInvalidArgument);
  options.hz = 2000;
  EXPECT_EQ(StartError(options).code(), StatusCode::kInvalidArgument);
  options = Options();
  options.catalog = nullptr;
  EXPECT_EQ(StartError(options).code(), StatusCode::kInvalidArgument);
  options = Options();
  options.peak_flop_per_s = -1;
  EXPECT_EQ(StartError(options).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace flopsmeter
