// The YAML reader under recipes: structure, lines, quoting as PyYAML sees it,
// and hostile documents bounded.
#include "adapters/yaml_document.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;

YamlNode parsed(const std::string& text) {
  auto r = parse_yaml(text, "r.yaml");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : YamlNode{};
}

std::string error_of(const std::string& text) {
  auto r = parse_yaml(text, "r.yaml");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().message();
}

TEST(YamlDocumentTest, KeepsStructureLinesAndQuoting) {
  const YamlNode root = parsed("# comment\nmodel: org/name\nlr: 1.0e-4\nquoted: \"true\"\nempty:\n"
                               "list:\n  - a\n  - 'b'\nflow: [x, y]\nnested:\n  r: 8\n");
  ASSERT_EQ(root.kind, YamlKind::kMapping);
  ASSERT_EQ(root.fields.size(), 7u);
  EXPECT_EQ(root.fields[0].first, "model");
  EXPECT_EQ(root.find("model")->text, "org/name");
  EXPECT_EQ(root.find("model")->line, 2u);
  EXPECT_TRUE(root.find("lr")->plain);
  EXPECT_FALSE(root.find("quoted")->plain);
  EXPECT_TRUE(root.find("empty")->is_null());
  EXPECT_FALSE(root.find("quoted")->is_null());
  const YamlNode* list = root.find("list");
  ASSERT_EQ(list->kind, YamlKind::kSequence);
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_TRUE(list->items[0].plain);
  EXPECT_FALSE(list->items[1].plain);
  EXPECT_EQ(list->items[1].line, 8u);
  EXPECT_EQ(root.find("flow")->items.size(), 2u);
  EXPECT_EQ(root.find("nested")->find("r")->text, "8");
  EXPECT_EQ(root.find("absent"), nullptr);
}

TEST(YamlDocumentTest, AnEmptyFileIsNull) { EXPECT_TRUE(parsed("").is_null()); }

TEST(YamlDocumentTest, AliasesAreCopied) {
  const YamlNode root = parsed("base: &b {r: 8}\ncopy: *b\n");
  EXPECT_EQ(root.find("copy")->find("r")->text, "8");
}

TEST(YamlDocumentTest, MistakesAreNamedWithTheirLine) {
  EXPECT_THAT(error_of("a: 1\nb: 2\na: 3\n"), HasSubstr("r.yaml:3: 'a' is given twice (first on line 1)"));
  EXPECT_THAT(error_of("a: 1\n---\nb: 2\n"), HasSubstr("one document per file"));
  EXPECT_THAT(error_of("a: [1, 2\nb: 3\n"), HasSubstr("not valid YAML"));
  EXPECT_THAT(error_of("a: b: c\n"), HasSubstr("r.yaml:1: not valid YAML"));
  EXPECT_THAT(error_of("x: !!python/object:os.system ls\n"), HasSubstr("only YAML's standard types"));
  EXPECT_THAT(error_of("x: *nowhere\n"), HasSubstr("r.yaml:1: alias to an unknown anchor"));
  EXPECT_THAT(error_of("? [a, b]\n: c\n"), HasSubstr("a key that is not a plain name"));
}

TEST(YamlDocumentTest, HostileDocumentsAreBounded) {
  // Nesting past 64 levels.
  EXPECT_THAT(error_of(std::string(200, '[') + std::string(200, ']')), HasSubstr("nested more than 64 deep"));
  // "Billion laughs": each level doubles the aliased copies.
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) laughs += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    laughs += "]\n";
  }
  EXPECT_THAT(error_of(laughs), HasSubstr("aliases included"));
  // A long scalar aliased many times: bounded by bytes, not only by values.
  std::string wide = "s: &s " + std::string(1 << 19, 'x') + "\nl: [" ;
  for (int j = 0; j < 40; ++j) wide += std::string(j ? ", " : "") + "*s";
  wide += "]\n";
  EXPECT_THAT(error_of(wide), HasSubstr("MiB of text"));
  EXPECT_THAT(error_of(std::string(kMaxYamlBytes + 1, '#')), HasSubstr("not a configuration file"));
}

TEST(YamlDocumentTest, FilesAreReadAsRegularFilesOnly) {
  testing::TempDir dir;
  auto fifo = read_yaml_file(dir.fifo("recipe.yaml"));
  EXPECT_FALSE(fifo.ok());
  auto missing = read_yaml_file(dir.path() + "/absent.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto good = read_yaml_file(dir.file("r.yaml", "a: 1\n"));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->find("a")->text, "1");
}

}  // namespace
}  // namespace flopsmeter
