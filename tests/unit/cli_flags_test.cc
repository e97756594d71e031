// The CLI's single table of commands and flags is consistent: it drives the
// parser and both help forms, so a flaw here is a flaw everywhere.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "cli/flags.h"

namespace flopsmeter::cli {
namespace {

TEST(CliFlags, NamesAreUniqueAndEveryCommandFlagIsDefined) {
  std::set<std::string> names;
  for (const FlagDef& f : all_flags()) {
    EXPECT_TRUE(names.insert(f.name).second) << "duplicate flag --" << f.name;
    EXPECT_FALSE(f.summary.empty()) << "--" << f.name << " has no summary";
  }
  std::set<std::string> commands;
  for (const CommandDef& c : all_commands()) {
    EXPECT_TRUE(commands.insert(c.name).second) << "duplicate command " << c.name;
    EXPECT_FALSE(c.examples.empty()) << c.name << " has no example";
    for (const std::string& f : c.flags) EXPECT_NE(find_flag(f), nullptr) << c.name << " lists unknown --" << f;
  }
}

TEST(CliFlags, ParsesValuesSwitchesAndEqualsForm) {
  auto r = parse_args(*find_command("estimate"), {"--model", "m", "--json", "--lora-r=16", "--method", "lora"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->get("model"), "m");
  EXPECT_EQ(r->get("lora-r"), "16");
  EXPECT_TRUE(r->has("json"));
}

TEST(CliFlags, EverythingAfterABareDoubleDashIsTakenVerbatim) {
  auto r = parse_args(*find_command("watch"),
                      {"--run", "d", "--", "python", "train.py", "--run", "other", "--json", "--", "-x"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->get("run"), "d") << "the command's own --run is not watch's";
  EXPECT_FALSE(r->has("json"));
  EXPECT_THAT(r->positional, ::testing::ElementsAre("python", "train.py", "--run", "other", "--json", "--", "-x"));
}

TEST(CliFlags, ErrorsSayWhatIsWrong) {
  const CommandDef& estimate = *find_command("estimate");
  EXPECT_EQ(parse_args(estimate, {"--lora-r"}).status().message(), "--lora-r needs a value (N)");
  EXPECT_EQ(parse_args(estimate, {"--json=yes"}).status().message(), "--json takes no value");
  EXPECT_EQ(parse_args(estimate, {"--tokens", "1", "--tokens", "2"}).status().message(), "--tokens given twice");
  EXPECT_THAT(parse_args(estimate, {"--sample", "3"}).status().message(),
              ::testing::HasSubstr("did you mean --samples"));
  EXPECT_THAT(parse_args(*find_command("rules"), {"--model", "x"}).status().message(),
              ::testing::HasSubstr("'rules' has no option --model"));
  EXPECT_THAT(parse_args(*find_command("rules"), {"extra"}).status().message(),
              ::testing::HasSubstr("unexpected argument 'extra'"));
}

TEST(CliFlags, DashOIsOutputWhereTheCommandTakesIt) {
  auto r = parse_args(*find_command("dossier"), {"acme/sft", "-o", "d.html"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->get("output"), "d.html");
  EXPECT_THAT(r->positional, ::testing::ElementsAre("acme/sft"));
  EXPECT_THAT(short_help(*find_command("dossier")), ::testing::HasSubstr("-o, --output FILE"));
  EXPECT_THAT(parse_args(*find_command("rules"), {"-o", "x"}).status().message(),
              ::testing::HasSubstr("'rules' has no option --output"));
  EXPECT_THAT(parse_args(*find_command("dossier"), {"m", "-x"}).status().message(),
              ::testing::HasSubstr("unknown option '-x'"));
  // After a bare --, -o is the watched command's own.
  auto w = parse_args(*find_command("watch"), {"--run", "d", "--", "gcc", "-o", "a.out"});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_THAT(w->positional, ::testing::ElementsAre("gcc", "-o", "a.out"));
}

TEST(CliFlags, HelpListsEveryFlagOfTheCommandAndEndsWithExamples) {
  for (const CommandDef& c : all_commands()) {
    std::string longer = long_help(c), shorter = short_help(c);
    for (const std::string& f : c.flags) {
      EXPECT_THAT(longer, ::testing::HasSubstr("--" + f)) << c.name;
      EXPECT_THAT(shorter, ::testing::HasSubstr("--" + f)) << c.name;
    }
    EXPECT_THAT(longer, ::testing::HasSubstr("Examples:\n  " + c.examples.front()));
    EXPECT_THAT(longer, ::testing::HasSubstr("Exit status"));
  }
}

}  // namespace
}  // namespace flopsmeter::cli
