// "Did you mean": a name typed short finds the names that hold it, a typo
// finds its own family before a stranger one edit nearer.
#include "core/suggest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flopsmeter {
namespace {

using ::testing::ElementsAre;

TEST(ClosestNames, TheSameFamilyBeatsAStrangerNearerByEditDistance) {
  const std::vector<std::string> options = {"local-rank", "lora-bias", "lora-r", "lora-targets", "rank"};
  // local-rank is 2 edits from lora-rank, lora-r 3: the family wins.
  EXPECT_THAT(closest_names("lora-rank", options, 2), ElementsAre("lora-r", "lora-bias"));
  EXPECT_THAT(closest_names("budget-fracton", {"budget", "budget-fraction", "budget-lookahead"}, 1),
              ElementsAre("budget-fraction"));
}

TEST(ClosestNames, AnIdTypedShortFindsTheIdsHoldingIt) {
  const std::vector<std::string> ids = {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-7B-Instruct"};
  EXPECT_THAT(closest_names("qwen/qwen2.5-7b", ids, 1), ElementsAre("Qwen/Qwen2.5-7B-Instruct"));
  // Without any kinship, edit distance alone, ties in candidate order.
  EXPECT_THAT(closest_names("zzz", {"abc", "zza", "zzb"}, 2), ElementsAre("zza", "zzb"));
  EXPECT_TRUE(closest_names("x", {}, 3).empty());
}

}  // namespace
}  // namespace flopsmeter
