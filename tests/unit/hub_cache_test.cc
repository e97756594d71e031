// Hub ids read from the local Hugging Face cache, laid out as huggingface_hub
// writes it (https://huggingface.co/docs/hub/local-cache): refs/REV names a
// commit, snapshots/COMMIT holds links into blobs/.
#include "adapters/hub_cache.h"
#include "adapters/hub_fetch.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flopsmeter/load.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kMain = "0123456789abcdef0123456789abcdef01234567";
const std::string kOld = "89abcdef0123456789abcdef0123456789abcdef";

// Environment variables set for one test, restored after.
class ScopedEnv {
 public:
  void set(const char* name, const std::string& value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

class HubCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = dir_.path() + "/hub";
    for (const char* v : {"HF_HOME", "XDG_CACHE_HOME"}) env_.set(v, "");
    env_.set("HF_HUB_CACHE", cache_);
    env_.set("HF_HUB_OFFLINE", "1");  // the fetching is tests/hub/'s, against its own server
  }
  // A cached snapshot of `repo` at `commit`, its files links into blobs/ as
  // huggingface_hub makes them; refs/main names it when `main`.
  void Cache(const std::string& folder, const std::string& commit, const nlohmann::json& config, bool main) {
    const fs::path repo = fs::path(cache_) / folder;
    fs::create_directories(repo / "blobs");
    fs::create_directories(repo / "snapshots" / commit);
    const std::string blob = "blob-" + commit;
    std::ofstream(repo / "blobs" / blob) << config.dump();
    fs::create_symlink("../../blobs/" + blob, repo / "snapshots" / commit / "config.json");
    if (main) {
      fs::create_directories(repo / "refs");
      std::ofstream(repo / "refs" / "main") << commit;  // huggingface_hub writes no newline
    }
  }
  static nlohmann::json Config(const std::string& id) {
    return nlohmann::json::parse(testing::builtin_catalog().find_model(id).value()->config_json);
  }

  testing::TempDir dir_;
  std::string cache_;
  ScopedEnv env_;
};

TEST_F(HubCacheTest, AHubIdTheCacheHoldsIsReadFromItsSnapshotWithTheCatalogsEntry) {
  const std::string id = "meta-llama/Llama-3.2-1B";
  Cache("models--meta-llama--Llama-3.2-1B", kMain, Config(id), true);
  auto loaded = load_model(id, testing::builtin_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->source_kind, "config");
  EXPECT_EQ(loaded->hub_repo, id);
  EXPECT_EQ(loaded->hub_revision, "main");
  EXPECT_EQ(loaded->hub_commit, kMain);
  EXPECT_EQ(loaded->model_dir, cache_ + "/models--meta-llama--Llama-3.2-1B/snapshots/" + kMain);
  ASSERT_TRUE(loaded->catalog_entry.has_value()) << "the catalog's pretraining compute stays attached";
  EXPECT_EQ(count_parameters(loaded->model).total, count_parameters(testing::catalog_model(id)).total);
  EXPECT_THAT(loaded->model.notes.back(), HasSubstr("read from the Hugging Face cache"));
}

TEST_F(HubCacheTest, ARevisionIsABranchOrACommitAndAMissingOneNamesWhatIsCached) {
  nlohmann::json small = Config("meta-llama/Llama-3.2-1B");
  Cache("models--acme--tiny", kMain, small, true);
  small["num_hidden_layers"] = 2;
  Cache("models--acme--tiny", kOld, small, false);
  EXPECT_EQ(load_model("acme/tiny", testing::builtin_catalog()).value().hub_commit, kMain);
  auto old = load_model("acme/tiny", testing::builtin_catalog(), {kOld});
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->model.arch.num_layers, 2u);
  fs::create_directories(fs::path(cache_) / "models--acme--tiny/refs");
  std::ofstream(fs::path(cache_) / "models--acme--tiny/refs/v1") << kOld << "\n";
  EXPECT_EQ(load_model("acme/tiny", testing::builtin_catalog(), {"v1"}).value().hub_commit, kOld);

  auto missing = load_model("acme/tiny", testing::builtin_catalog(), {"dev"});
  ASSERT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              AllOf(HasSubstr("holds acme/tiny but not at revision 'dev'"), HasSubstr("main"), HasSubstr(kOld)));
  EXPECT_EQ(load_model("acme/tiny", testing::builtin_catalog(), {"../../x"}).status().code(),
            StatusCode::kInvalidArgument);
  std::ofstream(fs::path(cache_) / "models--acme--tiny/refs/bad") << "not a hash";
  EXPECT_THAT(load_model("acme/tiny", testing::builtin_catalog(), {"bad"}).status().message(),
              HasSubstr("expected the 40-digit commit hash"));
}

TEST_F(HubCacheTest, TheCacheDirectoryFollowsHuggingFaceHubsVariablesAndEmptyMeansUnset) {
  env_.set("HOME", dir_.path() + "/home");
  env_.set("HF_HUB_CACHE", "");
  EXPECT_EQ(hub_cache_dir(), dir_.path() + "/home/.cache/huggingface/hub");
  env_.set("XDG_CACHE_HOME", dir_.path() + "/xdg");
  EXPECT_EQ(hub_cache_dir(), dir_.path() + "/xdg/huggingface/hub");
  env_.set("HF_HOME", dir_.path() + "/hf");
  EXPECT_EQ(hub_cache_dir(), dir_.path() + "/hf/hub");
  env_.set("HF_HUB_CACHE", cache_);
  EXPECT_EQ(hub_cache_dir(), cache_);
}

TEST_F(HubCacheTest, OnlyRepositoryIdsAreLookedUpAndAnUncachedOneSaysHowToGetIt) {
  for (const char* ref : {"a/b/c", "../x", "a/..", "-x/y", "a b/c", ""}) EXPECT_FALSE(is_hub_repo_id(ref)) << ref;
  for (const char* ref : {"gpt2", "Qwen/Qwen2.5-7B", "meta-llama/Llama-3.1-8B-Instruct"}) {
    EXPECT_TRUE(is_hub_repo_id(ref)) << ref;
  }
  auto missing = load_model("acme/not-cached", testing::builtin_catalog());
  ASSERT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), AllOf(HasSubstr("nor does the Hugging Face cache (" + cache_ + ")"),
                                                HasSubstr("HF_HUB_OFFLINE is set"), HasSubstr("config.json")));
}

TEST_F(HubCacheTest, OfflineAndTheEndpointAreReadAsHuggingFaceHubReadsThem) {
  for (const char* on : {"1", "true", "ON", "yes"}) {
    env_.set("HF_HUB_OFFLINE", on);
    EXPECT_TRUE(hub_offline()) << on;
  }
  for (const char* off : {"0", "", "false", "no", "2"}) {
    env_.set("HF_HUB_OFFLINE", off);
    EXPECT_FALSE(hub_offline()) << off;
  }
  env_.set("HF_ENDPOINT", "");
  EXPECT_EQ(hub_endpoint(), "https://huggingface.co");
  env_.set("HF_ENDPOINT", "http://127.0.0.1:9/mirror//");
  EXPECT_EQ(hub_endpoint(), "http://127.0.0.1:9/mirror");
}

TEST_F(HubCacheTest, ACachedRepositoryWithoutTheRevisionIsNotFetchedOffline) {
  Cache("models--acme--tiny", kMain, Config("meta-llama/Llama-3.2-1B"), true);
  auto missing = load_model("acme/tiny", testing::builtin_catalog(), {"dev"});
  ASSERT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("HF_HUB_OFFLINE is set, so it was not fetched"));
  // A catalog id is the catalog's entry offline, as before the Hub was fetched from.
  auto catalog = load_model("meta-llama/Llama-3.2-1B", testing::builtin_catalog(), {"", true});
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  EXPECT_EQ(catalog->source_kind, "catalog");
}

}  // namespace
}  // namespace flopsmeter
