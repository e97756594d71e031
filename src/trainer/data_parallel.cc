#include "trainer/data_parallel.h"

// Ranks need libtorch's Gloo process group, whose header needs Gloo's own
// (Debian: libgloo-dev); without them the trainer still builds, for one
// process. ProcessGroupGloo.hpp declares its class only where PyTorch was
// built with Gloo, as Debian's libtorch and PyTorch's own builds are.
#if __has_include(<gloo/algorithm.h>)
#define FM_TRAINER_HAS_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <chrono>

#include "adapters/environment.h"
#include "api/option_map.h"

namespace flopsmeter {
namespace {

// A world of one: nothing to exchange.
class SingleProcess final : public DataParallel {
 public:
  SingleProcess() : DataParallel(0, 1, 0) {}
  void sum(torch::Tensor&) override {}
  void max(torch::Tensor&) override {}
  void barrier() override {}
  std::string share(const std::string&, const std::string& value) override { return value; }
};

#ifdef FM_TRAINER_HAS_GLOO
class GlooGroup final : public DataParallel {
 public:
  GlooGroup(uint32_t rank, uint32_t world_size, uint32_t local_rank, c10::intrusive_ptr<c10d::Store> store,
            c10::intrusive_ptr<c10d::ProcessGroupGloo> group)
      : DataParallel(rank, world_size, local_rank), store_(std::move(store)), group_(std::move(group)) {}

  void sum(torch::Tensor& t) override { reduce(t, c10d::ReduceOp::SUM); }
  void max(torch::Tensor& t) override { reduce(t, c10d::ReduceOp::MAX); }
  void barrier() override { group_->barrier()->wait(); }
  std::string share(const std::string& key, const std::string& value) override {
    if (leader()) {
      store_->set(key, std::vector<uint8_t>(value.begin(), value.end()));
      return value;
    }
    const std::vector<uint8_t> got = store_->get(key);  // waits for rank 0, within the store's timeout
    return std::string(got.begin(), got.end());
  }

 private:
  void reduce(torch::Tensor& t, c10d::ReduceOp op) {
    std::vector<torch::Tensor> on_cpu = {t.device().is_cpu() ? t.contiguous() : t.to(torch::kCPU).contiguous()};
    c10d::AllreduceOptions options;
    options.reduceOp = op;
    group_->allreduce(on_cpu, options)->wait();
    if (!on_cpu[0].is_same(t)) t.copy_(on_cpu[0]);
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

#endif  // FM_TRAINER_HAS_GLOO

// A launcher variable as a whole number; `fallback` when unset.
Result<uint64_t> env_number(const char* name, uint64_t fallback, uint64_t most) {
  const std::string text = env_variable(name);
  if (text.empty()) return fallback;
  OptionMap o;
  o.values[name] = text;
  Result<uint64_t> v = option_uint(o, name);
  if (!v.ok() || *v > most) {
    return Status::InvalidArgument(std::string("environment ") + name + "='" + text + "': expected a whole number" +
                                   (v.ok() ? " up to " + std::to_string(most) : ""));
  }
  return *v;
}

// How long a rank waits for the others to join, or for a collective, before
// it gives up: long enough for a peer to load a large model.
constexpr std::chrono::minutes kJoinTimeout{30};

}  // namespace

Result<std::unique_ptr<DataParallel>> DataParallel::FromEnvironment() {
  FM_ASSIGN_OR_RETURN(uint64_t world_size, env_number("WORLD_SIZE", 1, UINT32_MAX));
  if (world_size == 0) return Status::InvalidArgument("environment WORLD_SIZE='0': a job has at least one rank");
  FM_ASSIGN_OR_RETURN(uint64_t rank, env_number("RANK", 0, world_size - 1));
  FM_ASSIGN_OR_RETURN(uint64_t local_rank, env_number("LOCAL_RANK", rank, UINT32_MAX));
  if (world_size == 1) return std::unique_ptr<DataParallel>(std::make_unique<SingleProcess>());
#ifndef FM_TRAINER_HAS_GLOO
  (void)local_rank;
  return Status::Unsupported("WORLD_SIZE " + std::to_string(world_size) +
                             ": data-parallel ranks need libtorch's Gloo process group, and Gloo's headers (Debian: "
                             "libgloo-dev) were missing when this trainer was built");
#else
  for (const char* name : {"MASTER_ADDR", "MASTER_PORT"}) {
    if (env_variable(name).empty()) {
      return Status::InvalidArgument(std::string("environment ") + name + " is not set: a job of " +
                                     std::to_string(world_size) +
                                     " ranks (WORLD_SIZE) meets at MASTER_ADDR:MASTER_PORT, as torchrun sets them");
    }
  }
  const std::string address = env_variable("MASTER_ADDR");
  FM_ASSIGN_OR_RETURN(uint64_t port, env_number("MASTER_PORT", 0, 65535));
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(port);
  // torchrun's elastic agent may host the store itself; then every rank is its client.
  store_options.isServer = rank == 0 && env_variable("TORCHELASTIC_USE_AGENT_STORE") != "True";
  // Every rank checks in (the server waits for all of them), as PyTorch's own rendezvous does.
  store_options.numWorkers = world_size;
  store_options.waitWorkers = true;
  store_options.timeout = kJoinTimeout;
  auto tcp = c10::make_intrusive<c10d::TCPStore>(address, store_options);
  // Our keys apart from the agent's.
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::PrefixStore>("flopsmeter-train", tcp);
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->timeout = kJoinTimeout;
  const std::string interface = env_variable("GLOO_SOCKET_IFNAME");
  options->devices.push_back(interface.empty() ? c10d::ProcessGroupGloo::createDefaultDevice()
                                               : c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(rank), static_cast<int>(world_size),
                                                           options);
  return std::unique_ptr<DataParallel>(std::make_unique<GlooGroup>(static_cast<uint32_t>(rank),
                                                                   static_cast<uint32_t>(world_size),
                                                                   static_cast<uint32_t>(local_rank), store, group));
#endif
}

}  // namespace flopsmeter
