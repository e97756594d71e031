// PEFT adapters as users have them: adapter_config.json, as PEFT's
// save_pretrained writes it, gives the method and its settings exactly as
// the same options given one by one would.
#include "adapters/peft_adapter.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/option_map.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// Every key PEFT 0.13's LoraConfig.save_pretrained writes, as it writes them.
Json SavedByPeft() {
  return Json::parse(R"({
    "alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "meta-llama/Llama-3.2-1B",
    "bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
    "layer_replication": null, "layers_pattern": null, "layers_to_transform": null, "loftq_config": {},
    "lora_alpha": 32, "lora_dropout": 0.05, "megatron_config": null, "megatron_core": "megatron.core",
    "modules_to_save": null, "peft_type": "LORA", "r": 16, "rank_pattern": {}, "revision": null,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "task_type": "CAUSAL_LM",
    "use_dora": false, "use_rslora": false})");
}

Result<PeftAdapter> Parse(const Json& config) { return parse_peft_adapter_config(config.dump(2), "adapter_config.json"); }

TEST(PeftAdapter, ReadsTheSettingsPeftSavesAndNothingElseIsLeftUnread) {
  auto a = Parse(SavedByPeft());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->kind, MethodKind::kLora);
  EXPECT_EQ(a->lora.r, 16u);
  EXPECT_THAT(a->lora.target_modules, ElementsAre("q_proj", "k_proj", "v_proj", "o_proj"));
  EXPECT_FALSE(a->lora.target_regex);
  EXPECT_EQ(a->lora.bias, "none");
  EXPECT_DOUBLE_EQ(a->lora.dropout, 0.05);
  EXPECT_TRUE(a->lora.layers_to_transform.empty());
  EXPECT_TRUE(a->lora.modules_to_save.empty());
  EXPECT_EQ(a->base_model, "meta-llama/Llama-3.2-1B");
  EXPECT_TRUE(a->notes.empty()) << a->notes.front();
}

TEST(PeftAdapter, TargetsAreAListAllLinearOrARegexAndDoraIsItsOwnMethod) {
  Json c = SavedByPeft();
  c["target_modules"] = "all-linear";
  c["use_dora"] = true;
  c["layers_to_transform"] = 3;
  c["modules_to_save"] = {"lm_head"};
  auto a = Parse(c);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->kind, MethodKind::kDora);
  EXPECT_THAT(a->lora.target_modules, ElementsAre("all-linear"));
  EXPECT_FALSE(a->lora.target_regex);
  EXPECT_THAT(a->lora.layers_to_transform, ElementsAre(3u));
  EXPECT_THAT(a->lora.modules_to_save, ElementsAre("lm_head"));
  c["target_modules"] = ".*\\.(q|v)_proj";
  a = Parse(c);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->lora.target_regex);
}

TEST(PeftAdapter, SettingsTheAccountingDoesNotModelAreRefusedByName) {
  const std::pair<const char*, Json> refused[] = {
      {"rank_pattern", {{"q_proj", 8}}},
      {"exclude_modules", {"o_proj"}},
      {"target_parameters", {"mlp.experts.gate_up_proj"}},
      {"layer_replication", {{0, 4}}},
      {"peft_type", "IA3"},
      {"layers_pattern", "blocks"},
      {"target_modules", nullptr}};
  for (const auto& [key, value] : refused) {
    Json c = SavedByPeft();
    c[key] = value;
    auto a = Parse(c);
    ASSERT_FALSE(a.ok()) << key;
    EXPECT_EQ(a.status().code(), StatusCode::kUnsupported) << key;
    EXPECT_THAT(a.status().message(), HasSubstr("'" + std::string(key) + "'")) << key;
  }
}

TEST(PeftAdapter, MalformedFieldsNameTheFileLineAndFieldAndUnknownKeysAreNoted) {
  Json c = SavedByPeft();
  c["r"] = "16";
  EXPECT_THAT(Parse(c).status().message(), AllOf(HasSubstr("adapter_config.json:"), HasSubstr("field 'r'")));
  c = SavedByPeft();
  c["bias"] = "some";
  EXPECT_THAT(Parse(c).status().message(), HasSubstr("expected none, all or lora_only"));
  c = SavedByPeft();
  c["r"] = 0;
  EXPECT_THAT(Parse(c).status().message(), HasSubstr("must be at least 1"));
  EXPECT_EQ(parse_peft_adapter_config("[1]", "a.json").status().code(), StatusCode::kParseError);
  EXPECT_EQ(parse_peft_adapter_config("{", "a.json").status().code(), StatusCode::kParseError);
  c = SavedByPeft();
  c["lora_ga_config"] = nullptr;
  auto a = Parse(c);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->notes.size(), 1u);
  EXPECT_THAT(a->notes[0], HasSubstr("'lora_ga_config' is not read"));
}

TEST(PeftAdapter, TheAdapterCountsAsTheSameOptionsGivenOneByOne) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/adapter_config.json") << SavedByPeft().dump();
  OptionMap by_adapter, by_flags;
  by_adapter.values["adapter"] = dir.path();
  by_flags.values = {{"method", "lora"}, {"lora-r", "16"}, {"lora-targets", "q_proj,k_proj,v_proj,o_proj"},
                     {"lora-dropout", "0.05"}};
  auto from_adapter = method_specs(by_adapter);
  auto from_flags = method_specs(by_flags);
  ASSERT_TRUE(from_adapter.ok()) << from_adapter.status().ToString();
  ASSERT_TRUE(from_flags.ok());
  ASSERT_EQ(from_adapter->size(), 1u);
  const Model model = testing::catalog_model("meta-llama/Llama-3.2-1B");
  auto a = plan_training(model, from_adapter->front());
  auto f = plan_training(model, from_flags->front());
  ASSERT_TRUE(a.ok() && f.ok());
  // PEFT: 16 layers x r 16 x (q 2048+2048, k 2048+512, v 2048+512, o 2048+2048).
  EXPECT_EQ(a->params_trainable, 16u * 16u * (4096 + 2560 + 2560 + 4096));
  EXPECT_EQ(a->params_trainable, f->params_trainable);
  EXPECT_EQ(a->params_all, f->params_all);
  EXPECT_THAT(a->notes, ::testing::Contains(HasSubstr("adapter_config.json as PEFT applies them")));

  // The method must be the adapter's own; flags it already sets are refused.
  by_adapter.values["method"] = "full,dora";
  EXPECT_THAT(method_specs(by_adapter).status().message(), HasSubstr("option \"method\" dora: the adapter in"));
  by_adapter.values["method"] = "full,qlora";
  auto both = method_specs(by_adapter);
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ((*both)[1].lora.r, 16u);
  by_adapter.values["lora-r"] = "8";
  EXPECT_THAT(method_specs(by_adapter).status().message(), HasSubstr("drop option \"lora-r\""));
  OptionMap missing;
  missing.values["adapter"] = dir.path() + "/nowhere";
  EXPECT_EQ(method_specs(missing).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace flopsmeter
