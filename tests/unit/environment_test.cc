// One environment prefix, FLOPSMETER_, with the AWS toolkit's names as
// aliases; an empty variable counts as unset.
#include "adapters/environment.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace flopsmeter {
namespace {

class EnvironmentTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* v : {"FLOPSMETER_PRETRAIN_FLOPS", "PRETRAIN_FLOPS", "FLOPSMETER_NVML", "FLOPS_METER_NVML"}) {
      ::unsetenv(v);
    }
  }
};

TEST_F(EnvironmentTest, ThePrefixWinsTheAliasStandsInAndEmptyIsUnset) {
  EXPECT_FALSE(env_setting(EnvSetting::kPretrainFlops).has_value());
  ::setenv("PRETRAIN_FLOPS", "3e23", 1);
  auto v = env_setting(EnvSetting::kPretrainFlops);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->value, "3e23");
  EXPECT_EQ(v->variable, "PRETRAIN_FLOPS");
  ::setenv("FLOPSMETER_PRETRAIN_FLOPS", "1e24", 1);
  v = env_setting(EnvSetting::kPretrainFlops);
  EXPECT_EQ(v->value, "1e24");
  EXPECT_EQ(v->variable, "FLOPSMETER_PRETRAIN_FLOPS");
  ::setenv("FLOPSMETER_PRETRAIN_FLOPS", "", 1);
  EXPECT_EQ(env_setting(EnvSetting::kPretrainFlops)->variable, "PRETRAIN_FLOPS") << "empty is unset";
  ::setenv("PRETRAIN_FLOPS", "", 1);
  EXPECT_FALSE(env_setting(EnvSetting::kPretrainFlops).has_value());
  ::setenv("FLOPS_METER_NVML", "1", 1);
  EXPECT_EQ(env_setting(EnvSetting::kNvml)->variable, "FLOPS_METER_NVML");
}

}  // namespace
}  // namespace flopsmeter
