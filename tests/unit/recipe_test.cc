// Training recipes (TRL, the AWS toolkit's, Axolotl) read into options as the
// training programs read them; what changes the compute unmodelled refused.
#include "api/recipe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/meter_options.h"
#include "cli_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RecipeTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) { return dir_.file(name, text); }
  Result<Recipe> read(const std::string& text, RecipeReader reader = RecipeReader::kEstimate) {
    return read_recipe(write("recipe.yaml", text), reader, dir_.path() + "/no-data");
  }
  std::string error_of(const std::string& text) {
    auto r = read(text);
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? "" : r.status().message();
  }
  std::string data() { return write("train.jsonl", "{\"text\": \"hello\"}\n"); }

  testing::TempDir dir_;
};

// The keys of the AWS toolkit's published recipe
// (hf_recipes/Qwen/Qwen2.5-3B-Instruct--vanilla-peft-qlora.yaml), its dataset local.
TEST_F(RecipeTest, TheAwsToolkitsRecipeAsPublished) {
  const std::string train = data();
  auto r = read("# Model arguments\nmodel_name_or_path: Qwen/Qwen2.5-3B-Instruct\n"
                "tokenizer_name_or_path: Qwen/Qwen2.5-3B-Instruct\nmodel_revision: main\ntorch_dtype: bfloat16\n"
                "attn_implementation: eager\nuse_liger: false\nbf16: true\ntf32: true\noutput_dir: /opt/ml/output/q/\n"
                "dataset_id_or_path: " + train + "\nmax_seq_length: 4096\npacking: true\n"
                "use_peft: true\nload_in_4bit: false\nlora_target_modules: \"all-linear\"\n"
                "lora_modules_to_save: [\"lm_head\", \"embed_tokens\"]\nlora_r: 16\nlora_alpha: 16\n"
                "num_train_epochs: 1\nper_device_train_batch_size: 8\ngradient_accumulation_steps: 2\n"
                "gradient_checkpointing: true\ngradient_checkpointing_kwargs:\n  use_reentrant: true\n"
                "learning_rate: 1.0e-4 \nlr_scheduler_type: cosine\nwarmup_ratio: 0.1\nlogging_strategy: steps\n"
                "logging_steps: 5\nreport_to:\n- tensorboard\nsave_strategy: \"epoch\"\nseed: 42\ncompute_flops: true\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dialect, RecipeDialect::kTrl);
  EXPECT_TRUE(r->compute_flops);
  const std::map<std::string, std::string> expected = {
      {"model", "Qwen/Qwen2.5-3B-Instruct"}, {"attention", "dense"}, {"dataset", train},
      {"max-length", "4096"}, {"layout", "packed-bfd"}, {"micro-batch-size", "8"}, {"grad-accum", "2"},
      {"epochs", "1"}, {"gradient-checkpointing", ""}, {"lora-r", "16"}, {"lora-targets", "all-linear"},
      {"lora-modules-to-save", "lm_head,embed_tokens"}, {"method", "lora"}, {"checkpoint-mode", "reentrant"}};
  EXPECT_EQ(r->options.values, expected);
  // What a trainer reads besides the compute, typed, SFTConfig's defaults where absent.
  EXPECT_EQ(r->training.learning_rate, 1.0e-4);
  EXPECT_EQ(r->training.lr_scheduler_type, "cosine");
  EXPECT_EQ(r->training.warmup_ratio, 0.1);
  EXPECT_EQ(r->training.logging_steps, 5u);
  EXPECT_EQ(r->training.seed, 42u);
  EXPECT_EQ(r->training.lora_alpha, 16);
  EXPECT_EQ(r->training.output_dir, "/opt/ml/output/q/");
  EXPECT_EQ(r->training.save_steps, 500u);
  EXPECT_EQ(r->training.max_grad_norm, 1.0);
  EXPECT_EQ(r->use.settings.front().key, "model_name_or_path");
  EXPECT_EQ(r->use.settings.front().line, 2u);
  const nlohmann::json details = nlohmann::json::parse(r->details_json);
  EXPECT_EQ(details["learning_rate"], 1.0e-4);
  EXPECT_EQ(details["lora_r"], 16);
  EXPECT_EQ(details["save_strategy"], "epoch");
  EXPECT_EQ(details["gradient_checkpointing_kwargs"]["use_reentrant"], true);
}

// The article's form: PEFT settings nested under peft_config.
TEST_F(RecipeTest, PeftConfigNestedAsTheArticleShowsIt) {
  auto r = read("model_name_or_path: meta-llama/Llama-3.2-3B-Instruct\nuse_peft: true\ncompute_flops: true\n"
                "per_device_train_batch_size: 8\nnum_train_epochs: 10\nlearning_rate: 2e-5\n"
                "peft_config:\n  r: 8\n  lora_alpha: 16\n  target_modules: [q_proj, v_proj]\n  use_dora: true\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->options.get("method"), "dora");
  EXPECT_EQ(r->options.get("lora-r"), "8");
  EXPECT_EQ(r->options.get("lora-targets"), "q_proj,v_proj");
  EXPECT_EQ(r->options.get("epochs"), "10");
}

TEST_F(RecipeTest, TheProgramsDefaultsThatChangeTheComputeAreAppliedAndSaid) {
  auto r = read("model_name_or_path: m\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->options.get("max-length"), "1024");
  EXPECT_EQ(r->options.get("epochs"), "3");
  EXPECT_EQ(r->options.get("method"), "full");
  EXPECT_THAT(r->use.notes, ::testing::Contains(HasSubstr("TRL's default, 1024 tokens")));
  EXPECT_THAT(r->use.notes, ::testing::Contains(HasSubstr("transformers' default, 3 epochs")));
  // max_length: null is TRL's "no truncation".
  auto untruncated = read("model_name_or_path: m\nmax_length: null\n");
  ASSERT_TRUE(untruncated.ok());
  EXPECT_FALSE(untruncated->options.has("max-length"));
}

TEST_F(RecipeTest, MethodsFollowTheSwitches) {
  auto qlora = read("model_name_or_path: m\nuse_peft: true\nload_in_4bit: true\n");
  ASSERT_TRUE(qlora.ok());
  EXPECT_EQ(qlora->options.get("method"), "qlora");
  write("snr.yaml", "unfrozen_parameters:\n- ^lm_head.weight$\n");
  auto spectrum = read("model_name_or_path: m\nspectrum_config_path: snr.yaml\n");
  ASSERT_TRUE(spectrum.ok()) << spectrum.status().ToString();
  EXPECT_EQ(spectrum->options.get("method"), "spectrum");
  EXPECT_EQ(spectrum->options.get("spectrum-file"), dir_.path() + "/snr.yaml");
  EXPECT_THAT(spectrum->use.notes, ::testing::Contains(HasSubstr("read beside the recipe")));
  auto steps = read("model_name_or_path: m\nmax_steps: 500\nnum_train_epochs: 2.5\n");
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ(steps->options.get("max-steps"), "500");
  EXPECT_EQ(steps->options.get("epochs"), "2.5");
  auto pinned = read("model_name_or_path: m\nmodel_revision: 0123abc\n");
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(pinned->options.get("revision"), "0123abc");
  auto unset = read("model_name_or_path: m\nmax_steps: -1\n");
  ASSERT_TRUE(unset.ok()) << unset.status().ToString();
  EXPECT_FALSE(unset->options.has("max-steps"));
}

TEST_F(RecipeTest, UnknownAndMistypedKeysAreErrorsNamingFileLineAndKey) {
  EXPECT_THAT(error_of("model_name_or_path: m\nlora_rr: 8\n"),
              HasSubstr("recipe.yaml:2: lora_rr: unknown key for TRL / the AWS recipes; did you mean 'lora_r'?"));
  EXPECT_THAT(error_of("model_name_or_path: m\nper_device_train_batch_size: \"8\"\n"),
              HasSubstr(":2: per_device_train_batch_size: expected a whole number, got the string \"8\""));
  EXPECT_THAT(error_of("model_name_or_path: m\nlora_r: 8.5\n"), HasSubstr(":2: lora_r: expected a whole number"));
  EXPECT_THAT(error_of("model_name_or_path: m\npacking: maybe\n"), HasSubstr("packing: expected true or false"));
  EXPECT_THAT(error_of("model_name_or_path: m\npeft_config:\n  rank: 8\n"),
              HasSubstr(":3: peft_config.rank: unknown key for a PEFT LoraConfig"));
  EXPECT_THAT(error_of("model_name_or_path: m\nattn_implementation: magic\n"), HasSubstr("attn_implementation"));
  EXPECT_THAT(error_of("- a\n- b\n"), HasSubstr("a YAML mapping of settings"));
  EXPECT_THAT(error_of("lr: 1\n"), HasSubstr("not a training recipe"));
}

TEST_F(RecipeTest, SettingsThatChangeTheComputeUnmodelledAreRefusedByName) {
  for (const char* setting : {"pad_to_multiple_of: 8", "group_by_length: true", "dataloader_drop_last: true",
                              "auto_find_batch_size: true", "lora_target_parameters: [experts.gate_up_proj]",
                              "modality_type: image", "dataset_kwargs: {skip_prepare_dataset: true}"}) {
    const std::string key = std::string(setting).substr(0, std::string(setting).find(':'));
    EXPECT_THAT(error_of("model_name_or_path: m\n" + std::string(setting) + "\n"),
                HasSubstr(":2: " + key + ": "))
        << setting;
  }
  EXPECT_THAT(error_of("model_name_or_path: m\nload_in_4bit: true\n"), HasSubstr("without use_peft"));
  EXPECT_THAT(error_of("model_name_or_path: m\ndataset_id_or_path: org/hub-dataset\n"),
              HasSubstr("dataset_id_or_path: 'org/hub-dataset' is not a local file"));
}

TEST_F(RecipeTest, AUserDataDirectoryAddsKnownKeys) {
  const std::string recipe = write("recipe.yaml", "model_name_or_path: m\nmy_callback_setting: 3\n");
  EXPECT_FALSE(read_recipe(recipe, RecipeReader::kEstimate, dir_.path() + "/none").ok());
  write("data/recipe_keys.json",
        R"({"schema": "flopsmeter.recipe_keys/1", "dialects": {"trl": [{"source": "our trainer's docs",
            "keys": ["my_callback_setting"]}]}})");
  auto r = read_recipe(recipe, RecipeReader::kEstimate, dir_.path() + "/data");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(RecipeTest, AxolotlConfig) {
  const std::string train = data();
  auto r = read("base_model: meta-llama/Llama-3.2-1B\nmodel_type: AutoModelForCausalLM\nload_in_8bit: false\n"
                "load_in_4bit: true\nstrict: false\ndatasets:\n  - path: " + train + "\n    type: chat_template\n"
                "    field_messages: conversations\n    message_field_role: from\n    message_field_content: value\n"
                "dataset_prepared_path:\nval_set_size: 0.05\noutput_dir: ./out\nadapter: qlora\nlora_model_dir:\n"
                "sequence_len: 2048\nsample_packing: true\npad_to_sequence_len: true\nlora_r: 32\nlora_alpha: 16\n"
                "lora_dropout: 0.05\nlora_target_linear: true\nwandb_project:\ngradient_accumulation_steps: 4\n"
                "micro_batch_size: 2\nnum_epochs: 4\noptimizer: paged_adamw_32bit\nlr_scheduler: cosine\n"
                "learning_rate: 0.0002\ntrain_on_inputs: false\nbf16: auto\ngradient_checkpointing: true\n"
                "flash_attention: true\nwarmup_steps: 10\nspecial_tokens:\n  pad_token: <|end_of_text|>\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dialect, RecipeDialect::kAxolotl);
  const std::map<std::string, std::string> expected = {
      {"model", "meta-llama/Llama-3.2-1B"}, {"dataset", train}, {"schema", "sharegpt"}, {"field", "conversations"},
      {"max-length", "2048"}, {"layout", "packed-bfd"}, {"micro-batch-size", "2"}, {"grad-accum", "4"},
      {"epochs", "4"}, {"gradient-checkpointing", ""}, {"attention", "flash"}, {"lora-r", "32"},
      {"lora-dropout", "0.05"}, {"lora-targets", "all-linear"}, {"method", "qlora"}};
  EXPECT_EQ(r->options.values, expected);
  EXPECT_THAT(r->use.notes, ::testing::Contains(HasSubstr("val_set_size")));
  EXPECT_THAT(r->use.notes, ::testing::Contains(HasSubstr("drops samples longer than sequence_len")));
}

TEST_F(RecipeTest, AxolotlSpectrumPatternsKeepTheirCommas) {
  auto r = read("base_model: m\nsequence_len: 512\nunfrozen_parameters:\n  - ^lm_head.weight$\n"
                "  - model\\.layers\\.[0-9]{1,2}\\.mlp\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->options.get("method"), "spectrum");
  EXPECT_EQ(r->options.get("spectrum-patterns"), "^lm_head.weight$\nmodel\\.layers\\.[0-9]{1,2}\\.mlp");
  auto specs = method_specs(r->options);
  ASSERT_TRUE(specs.ok()) << specs.status().ToString();
  EXPECT_THAT(specs->front().spectrum.unfrozen_patterns,
              ElementsAre("^lm_head.weight$", "model\\.layers\\.[0-9]{1,2}\\.mlp"));
}

TEST_F(RecipeTest, AxolotlRefusesWhatItRendersItsOwnWay) {
  const std::string train = data();
  EXPECT_THAT(error_of("base_model: m\nsequence_len: 512\ndatasets:\n  - path: " + train + "\n    type: alpaca\n"),
              HasSubstr(":5: datasets[0].type: 'alpaca': Axolotl renders this type with its own prompt format"));
  EXPECT_THAT(error_of("base_model: m\n"), HasSubstr("sequence_len is not set"));
  EXPECT_THAT(error_of("base_model: m\nsequence_len: 512\nrl: dpo\n"), HasSubstr(":3: rl: "));
  EXPECT_THAT(error_of("base_model: m\nsequence_len: 512\nchat_template: chatml\n"), HasSubstr(":3: chat_template: "));
  EXPECT_THAT(error_of("base_model: m\nsequence_len: 512\nadapter: ia3\n"), HasSubstr("expected lora or qlora"));
  EXPECT_THAT(error_of("base_model: m\nmodel_name_or_path: m\n"), HasSubstr("which program reads it?"));
}

// The meter takes how the run trains from the recipe, not the model's files:
// its model is the record's name, and its keys are the record's details.
TEST_F(RecipeTest, TheMeterTakesTheRunsSettings) {
  OptionMap o;
  o.values["run"] = dir_.path() + "/run";
  o.values["n-total"] = "1000";
  o.values["n-trainable"] = "10";
  o.values["recipe"] = write("recipe.yaml", "model_name_or_path: org/base\nuse_peft: true\nlora_r: 4\n"
                                            "num_train_epochs: 2.5\nper_device_train_batch_size: 2\n"
                                            "compute_flops: true\n");
  auto m = meter_options_from_map(o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->model_name, "org/base");
  EXPECT_TRUE(m->model.empty());
  EXPECT_EQ(m->method.kind, MethodKind::kLora);
  EXPECT_EQ(m->method.lora.r, 4u);
  EXPECT_EQ(nlohmann::json::parse(m->recipe_details)["num_train_epochs"], 2.5);
  EXPECT_EQ(m->recipe, o.values["recipe"]);
}

// `estimate --recipe` gives the figures the same settings give as flags,
// and the recipe is in the estimate's evidence.
TEST_F(RecipeTest, TheEstimateFromARecipeEqualsTheSameFlags) {
  const std::string recipe =
      write("recipe.yaml", "model_name_or_path: meta-llama/Llama-3.2-1B\nuse_peft: true\nlora_r: 16\n"
                           "lora_target_modules: [q_proj, k_proj, v_proj, o_proj]\nper_device_train_batch_size: 4\n"
                           "gradient_accumulation_steps: 2\nmax_steps: 25\nmax_seq_length: 1024\n"
                           "gradient_checkpointing: true\n");
  const testing::CliRun from_recipe =
      testing::run_cli({"estimate", "--recipe", recipe, "--samples", "100", "--seq-len", "1024", "--json"}, dir_);
  ASSERT_EQ(from_recipe.status, 0) << from_recipe.err;
  const testing::CliRun from_flags = testing::run_cli(
      {"estimate", "--model", "meta-llama/Llama-3.2-1B", "--method", "lora", "--lora-r", "16", "--lora-targets",
       "q_proj,k_proj,v_proj,o_proj", "--micro-batch-size", "4", "--grad-accum", "2", "--epochs", "3.125",
       "--gradient-checkpointing", "--samples", "100", "--seq-len", "1024", "--json"},
      dir_);
  ASSERT_EQ(from_flags.status, 0) << from_flags.err;
  const nlohmann::json a = nlohmann::json::parse(from_recipe.out), b = nlohmann::json::parse(from_flags.out);
  // 100 samples in batches of 4, 2 per step: 13 steps per epoch; 25 steps = 1 epoch and 12 steps,
  // which 3.125 epochs would not give (41 steps): compare with the matching epochs instead.
  EXPECT_EQ(a["workload"]["schedule"]["max_steps"], 25);
  EXPECT_EQ(a["methods"][0]["params_trainable"], b["methods"][0]["params_trainable"]);
  const testing::CliRun by_epochs = testing::run_cli(
      {"estimate", "--model", "meta-llama/Llama-3.2-1B", "--method", "lora", "--lora-r", "16", "--lora-targets",
       "q_proj,k_proj,v_proj,o_proj", "--micro-batch-size", "4", "--grad-accum", "2", "--epochs", "1.9",
       "--gradient-checkpointing", "--samples", "100", "--seq-len", "1024", "--json"},
      dir_);
  ASSERT_EQ(by_epochs.status, 0) << by_epochs.err;
  const nlohmann::json c = nlohmann::json::parse(by_epochs.out);
  EXPECT_EQ(c["workload"]["schedule"]["max_steps"], 25);  // ceil(1.9 x 13) = 25
  EXPECT_EQ(a["methods"][0]["flops_exact"], c["methods"][0]["flops_exact"]);
  EXPECT_EQ(a["provenance"]["recipe"]["dialect"], "trl");
  EXPECT_EQ(a["provenance"]["files"][0]["role"], "recipe");
  // A flag given beside the recipe wins.
  const testing::CliRun overridden = testing::run_cli(
      {"estimate", "--recipe", recipe, "--lora-r", "8", "--samples", "100", "--seq-len", "1024", "--json"}, dir_);
  ASSERT_EQ(overridden.status, 0) << overridden.err;
  EXPECT_LT(nlohmann::json::parse(overridden.out)["methods"][0]["params_trainable"],
            a["methods"][0]["params_trainable"]);
}

TEST_F(RecipeTest, CheckpointKwargsSetTheCheckpointMode) {
  const std::string base = "model_name_or_path: Qwen/Qwen2.5-3B-Instruct\ndataset_id_or_path: " + data() +
                           "\ngradient_checkpointing: true\n";
  auto r = read(base + "gradient_checkpointing_kwargs:\n  use_reentrant: false\n  preserve_rng_state: true\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->options.get("checkpoint-mode"), "non-reentrant");
  EXPECT_NE(error_of(base + "gradient_checkpointing_kwargs:\n  use_reentrant: \"no\"\n").find("use_reentrant"),
            std::string::npos);
  const std::string unknown = error_of(base + "gradient_checkpointing_kwargs:\n  use_reentrent: false\n");
  EXPECT_NE(unknown.find("did you mean 'gradient_checkpointing_kwargs.use_reentrant'"), std::string::npos) << unknown;
}

TEST_F(RecipeTest, TrainingSettingsAreTyped) {
  const std::string base = "model_name_or_path: Qwen/Qwen2.5-3B-Instruct\ndataset_id_or_path: " + data() + "\n";
  EXPECT_NE(error_of(base + "learning_rate: fast\n").find("learning_rate"), std::string::npos);
  EXPECT_NE(error_of(base + "save_steps: 1.5\n").find("save_steps"), std::string::npos);
  EXPECT_NE(error_of(base + "weight_decay: -0.1\n").find("must not be negative"), std::string::npos);
  auto r = read(base);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->training.learning_rate, 2e-5);  // SFTConfig's default
  EXPECT_EQ(r->training.lr_scheduler_type, "linear");
  EXPECT_EQ(r->training.output_dir, "");
}


}  // namespace
}  // namespace flopsmeter
