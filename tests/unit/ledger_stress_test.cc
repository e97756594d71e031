// The ledger under load and under SIGKILL, through its public API on both
// backends: many processes appending at once lose and duplicate nothing and
// leave a tree that verifies, and a writer killed at any point leaves a
// ledger that verifies. (The store's own suite checks the same of bare
// rows; here every append also signs a head and registers its models.)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "flopsmeter/ledger.h"
#include "ledger_support.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// The sanitizers make each append several times slower; the figures the
// issue sets (32 x 200, 100 kills) run in the release build.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

constexpr int kWriters = 32;
constexpr int kAppendsPerWriter = kSanitized ? 20 : 200;
constexpr int kRunFlop = 1000;  // each run's figure: the lineage's sum counts the runs

class LedgerStressTest : public testing::LedgerFixture {
 protected:
  // A ledger holding the base model "base" (pretraining 1e24), Acme's
  // fine-tune of it "acme/sft" and the writers' key, made before any child
  // starts.
  void MakeBase() {
    std::unique_ptr<Ledger> ledger = Open();
    ASSERT_NE(ledger, nullptr);
    for (const ModelSpec& m : {testing::base_model("base", "Origin", "1000000000000000000000000"),
                               testing::derived_model("acme/sft", "Acme", {"base"})}) {
      Result<LedgerAppend> added = ledger->add_model(m);
      ASSERT_TRUE(added.ok()) << added.status().ToString();
    }
  }

  // The runs the ledger holds, by id.
  std::multiset<std::string> RunIds() {
    std::unique_ptr<Ledger> ledger = Open();
    const Json runs = ledger ? Parsed(ledger->runs_json("")) : Json();
    std::multiset<std::string> ids;
    for (const Json& r : runs.value("runs", Json::array())) ids.insert(r.value("run_id", std::string()));
    return ids;
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerStressTest, ::testing::ValuesIn(testing::backends()),
                         testing::backend_name);

// Each writer appends its runs one call at a time (one transaction, one
// signed head each) on a connection of its own.
TEST_P(LedgerStressTest, ManyProcessesAppendingAtOnceLoseAndDuplicateNothing) {
  MakeBase();
  const LedgerOptions options = Options();
  std::vector<pid_t> children;
  for (int writer = 0; writer < kWriters; ++writer) {
    children.push_back(testing::fork_child([&options, writer]() -> Status {
      FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, Ledger::Open(options, false));
      for (int i = 0; i < kAppendsPerWriter; ++i) {
        const std::string id = "w" + std::to_string(writer) + "-" + std::to_string(i);
        FM_RETURN_IF_ERROR(ledger->add_run(testing::run_record(id, std::to_string(kRunFlop)), testing::run_on("acme/sft"))
                               .status());
      }
      return Status();
    }));
  }
  for (pid_t child : children) EXPECT_EQ(testing::wait_child(child), 0);

  const std::multiset<std::string> ids = RunIds();
  EXPECT_EQ(ids.size(), size_t{kWriters} * kAppendsPerWriter);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "a run was appended twice";
  const Json verified = Verify();
  EXPECT_TRUE(verified.value("ok", false)) << verified.dump(2);
  // The key, the two models and every run; each append's head covers it.
  EXPECT_EQ(verified.value("entries", 0), 3 + kWriters * kAppendsPerWriter);
  std::unique_ptr<Ledger> ledger = Open();
  ASSERT_NE(ledger, nullptr);
  const Json sft = Parsed(ledger->model_json("acme/sft"))["model"];
  EXPECT_EQ(sft["own_compute"]["flop"], std::to_string(kWriters * kAppendsPerWriter * kRunFlop));
}

// A writer appending runs that make new models (two entries in one
// transaction), killed with SIGKILL after a random delay: whatever it
// committed is whole and covered by a signed head, and verify passes.
TEST_P(LedgerStressTest, AWriterKilledAtRandomPointsLeavesALedgerThatVerifies) {
  MakeBase();
  const LedgerOptions options = Options();
  const int kills = kSanitized ? 10 : (sqlite() ? 100 : 40);
  std::mt19937 random(20261207);
  std::uniform_int_distribution<int> delay_us(0, 30000);
  for (int round = 0; round < kills; ++round) {
    const pid_t pid = testing::fork_child([&options, round]() -> Status {
      FM_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger, Ledger::Open(options, false));
      for (int i = 0;; ++i) {
        const std::string id = "k" + std::to_string(round) + "-" + std::to_string(i);
        const std::string model = "acme/" + id;
        FM_RETURN_IF_ERROR(ledger
                               ->add_run(testing::run_record(id, std::to_string(kRunFlop)),
                                         testing::run_on(model, testing::derived_model(model, "Acme", {"base"})))
                               .status());
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    const int exit_status = testing::wait_child(pid);
    ASSERT_EQ(exit_status, 128 + SIGKILL) << "the writer failed before it was killed (round " << round << ")";
    const Json verified = Verify();
    ASSERT_TRUE(verified.value("ok", false)) << "round " << round << ":\n" << verified.dump(2);
  }
  // Every run committed made its model in the same transaction.
  std::unique_ptr<Ledger> ledger = Open();
  ASSERT_NE(ledger, nullptr);
  const Json models = Parsed(ledger->models_json());
  EXPECT_EQ(models.value("models", Json::array()).size(), 2 + RunIds().size());
}

}  // namespace
}  // namespace flopsmeter
