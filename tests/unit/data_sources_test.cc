// Every source the shipped data cites can be followed by an auditor: a model
// entry's sources carry a public URL; rules and GPU figures a URL or a named
// document; none names an internal look-up or a file the tool does not ship.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "unit/test_support.h"

namespace flopsmeter {
namespace {

bool is_source_key(const std::string& key) {
  return key.find("source") != std::string::npos || key == "config_verified_from";
}

// gpus.json's _match_source notes where a GPU's name string was seen (or that
// none exists); it backs no figure, so only the internal-reference check applies.
bool backs_a_figure(const std::string& where) { return where.find("/_match_source") == std::string::npos; }

// Collects "where: text" for every source string under `node`.
void collect_sources(const nlohmann::json& node, const std::string& where, bool under_source,
                     std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_string()) {
    if (under_source) out.emplace_back(where, node.get<std::string>());
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) collect_sources(node[i], where + "/" + std::to_string(i), under_source, out);
  } else if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      collect_sources(value, where + "/" + key, under_source || is_source_key(key), out);
    }
  }
}

std::vector<std::pair<std::string, std::string>> sources_of(const std::filesystem::path& file) {
  std::vector<std::pair<std::string, std::string>> out;
  collect_sources(testing::read_json(file.string()), file.filename().string(), false, out);
  return out;
}

// Look-ups and paths that mean nothing outside this project's workspace.
void expect_no_internal_reference(const std::string& where, const std::string& text) {
  for (const char* bad : {"index file id", "code-index", "find_string", "shared/reference", "(via shared/"}) {
    EXPECT_EQ(text.find(bad), std::string::npos) << where << " cites '" << bad << "': " << text;
  }
}

TEST(DataSources, EveryModelSourceHasAPublicUrl) {
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_path("data/models"))) {
    if (entry.path().extension() != ".json") continue;
    for (const auto& [where, text] : sources_of(entry.path())) {
      ++checked;
      expect_no_internal_reference(where, text);
      EXPECT_NE(text.find("https://"), std::string::npos) << where << " has no public URL: " << text;
    }
  }
  EXPECT_GT(checked, 40u);
}

TEST(DataSources, RulesAndGpuSourcesNameAUrlOrADocument) {
  // A named document: a URL, or the kind of document a reader can look up.
  const std::regex named(
      "https://|datasheet|data sheet|whitepaper|product (brief|page)|specifications|Guidelines|Regulation|"
      "Code|Act|Executive Order|SB [0-9]+|README|issue #|arXiv:",
      std::regex::icase);
  size_t checked = 0;
  for (const char* file : {"data/rules.json", "data/gpus.json"}) {
    for (const auto& [where, text] : sources_of(testing::source_path(file))) {
      ++checked;
      expect_no_internal_reference(where, text);
      if (!backs_a_figure(where)) continue;
      EXPECT_TRUE(std::regex_search(text, named)) << where << " names no URL or document: " << text;
    }
  }
  EXPECT_GT(checked, 50u);
}

TEST(DataSources, TheCheckCatchesAnInternalReference) {
  // The scan itself must be able to fail.
  nlohmann::json bad = {{"published_params", {{"source", "copy (index file id 123)"}}}};
  std::vector<std::pair<std::string, std::string>> found;
  collect_sources(bad, "bad.json", false, found);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first, "bad.json/published_params/source");
  EXPECT_NE(found[0].second.find("index file id"), std::string::npos);
}

}  // namespace
}  // namespace flopsmeter
