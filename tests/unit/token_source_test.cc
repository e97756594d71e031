// TokenSource: tokens a job exposes in files, read from outside while it
// runs: a trainer_state.json (NaN in its log history and all), an output
// directory's newest checkpoint, and a token file the job appends to (or
// rewrites), with malformed input turned into notes naming file and line.
#include "api/token_source.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class TokenSourceTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  void Write(const std::string& name, const std::string& contents) const { dir_.file(name, contents); }
  void Append(const std::string& name, const std::string& contents) const {
    std::ofstream(Path(name), std::ios::binary | std::ios::app) << contents;
  }
  // A rewrite of the same size within one tick of the file system's clock
  // looks unchanged to stat(); moving the time on makes the test exact.
  void MoveTimeOn(const std::string& name) const {
    const auto t = std::filesystem::last_write_time(Path(name));
    std::filesystem::last_write_time(Path(name), t + std::chrono::seconds(1));
  }

  // As transformers writes it: indent 2, sorted keys, NaN in the log history.
  static std::string TrainerStateJson(uint64_t step, uint64_t tokens) {
    return "{\n  \"best_metric\": null,\n  \"epoch\": 0.5,\n  \"global_step\": " + std::to_string(step) +
           ",\n  \"log_history\": [\n    {\n      \"grad_norm\": NaN,\n      \"loss\": Infinity,\n"
           "      \"num_input_tokens_seen\": 7,\n      \"step\": 1\n    }\n  ],\n"
           "  \"num_input_tokens_seen\": " + std::to_string(tokens) + ",\n  \"trial_name\": \"a \\\"quoted\\\" {name\"\n}";
  }

  flopsmeter::testing::TempDir dir_;
};

TEST(ParseTrainerState, ReadsTheTopLevelFiguresOnly) {
  auto state = parse_trainer_state(
      "{\"log_history\": [{\"global_step\": 99, \"num_input_tokens_seen\": 98}], \"x\": {\"global_step\": 5},"
      " \"global_step\": 12, \"num_input_tokens_seen\": 3456, \"loss\": -Infinity}",
      "trainer_state.json");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->global_step, 12u);
  EXPECT_EQ(state->num_input_tokens_seen, 3456u);

  auto older = parse_trainer_state("{\"global_step\": 3}", "t.json");
  ASSERT_TRUE(older.ok());
  EXPECT_FALSE(older->num_input_tokens_seen.has_value());
}

TEST(ParseTrainerState, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(parse_trainer_state("{\n  \"global_step\": 3,\n  \"log_history\": [\n", "t.json").status().message(),
            "t.json:4: the document ends early (truncated, or still being written)");
  EXPECT_EQ(parse_trainer_state("{\n  \"global_step\": 3,\n  \"num_input_tokens_seen\": \"many\"\n}", "t.json")
                .status()
                .message(),
            "t.json:3: field 'num_input_tokens_seen': expected a non-negative integer, got '\"many\"'");
  EXPECT_EQ(parse_trainer_state("{\"global_step\": -1}", "t.json").status().message(),
            "t.json:1: field 'global_step': expected a non-negative integer, got '-1'");
  EXPECT_THAT(parse_trainer_state("{\"epoch\": 1}", "t.json").status().message(), HasSubstr("no top-level global_step"));
  EXPECT_THAT(parse_trainer_state("[1, 2]", "t.json").status().message(), HasSubstr("not a JSON object"));
  EXPECT_THAT(parse_trainer_state("{\"global_step\": 1} {", "t.json").status().message(),
              HasSubstr("unexpected text after the document"));
  EXPECT_EQ(parse_trainer_state("{\"global_step\": 1", "t.json").status().code(), StatusCode::kParseError);
}

TEST_F(TokenSourceTest, ReadsATrainerStateFileOnlyWhenItChanges) {
  TokenSource source(Path("trainer_state.json"));
  EXPECT_FALSE(source.poll().has_value()) << "not written yet";
  EXPECT_THAT(source.take_notes(), IsEmpty());

  Write("trainer_state.json", TrainerStateJson(20, 12345));
  auto progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 12345u);
  EXPECT_EQ(progress->step, 20u);
  EXPECT_EQ(progress->file, Path("trainer_state.json"));
  EXPECT_THAT(source.take_notes(), ElementsAre(HasSubstr("include_num_input_tokens_seen=\"non_padding\"")));
  EXPECT_FALSE(source.poll().has_value()) << "nothing new";

  Write("trainer_state.json", TrainerStateJson(40, 24690));
  MoveTimeOn("trainer_state.json");
  progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 24690u);
  EXPECT_EQ(progress->step, 40u);
  EXPECT_THAT(source.take_notes(), IsEmpty()) << "each note once";
}

TEST_F(TokenSourceTest, AHalfWrittenTrainerStateIsNotedOnlyOnceItStaysSo) {
  TokenSource source(Path("trainer_state.json"));
  const std::string whole = TrainerStateJson(20, 500);
  Write("trainer_state.json", whole.substr(0, whole.size() / 2));
  EXPECT_FALSE(source.poll().has_value());
  EXPECT_THAT(source.take_notes(), IsEmpty()) << "maybe still being written";
  EXPECT_FALSE(source.poll().has_value());
  EXPECT_THAT(source.take_notes(),
              ElementsAre(AllOf(HasSubstr(Path("trainer_state.json") + ":"), HasSubstr("ends early"))));
  EXPECT_FALSE(source.poll().has_value());
  EXPECT_THAT(source.take_notes(), IsEmpty());

  Write("trainer_state.json", whole);
  auto progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 500u);
}

TEST_F(TokenSourceTest, OnceTheJobHasEndedAMalformedStateIsNotedAtOnce) {
  TokenSource source(Path("trainer_state.json"));
  Write("trainer_state.json", "{\"global_step\": 5, \"num_input_tokens_seen\": 1.5e3}");
  EXPECT_FALSE(source.poll(true).has_value());
  EXPECT_THAT(source.take_notes(), ElementsAre(HasSubstr("field 'num_input_tokens_seen'")));
}

TEST_F(TokenSourceTest, StatesWithoutTokensSaySo) {
  TokenSource older(Path("a.json"));
  Write("a.json", "{\"global_step\": 5}");
  auto progress = older.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 0u);
  EXPECT_EQ(progress->step, 5u);
  EXPECT_THAT(older.take_notes(), ElementsAre(HasSubstr("has no num_input_tokens_seen")));

  TokenSource not_counting(Path("b.json"));
  Write("b.json", "{\"global_step\": 5, \"num_input_tokens_seen\": 0}");
  ASSERT_TRUE(not_counting.poll().has_value());
  EXPECT_THAT(not_counting.take_notes(), ElementsAre(HasSubstr("the job does not count tokens")));
}

TEST_F(TokenSourceTest, AnOutputDirectoryGivesItsNewestCheckpointByStepNumber) {
  TokenSource source(Path("out"));
  EXPECT_FALSE(source.poll().has_value()) << "the job has not created it yet";
  Write("out/checkpoint-200/trainer_state.json", TrainerStateJson(200, 2000));
  Write("out/checkpoint-1000/trainer_state.json", TrainerStateJson(1000, 10000));
  std::filesystem::create_directories(Path("out/checkpoint-1500"));  // being written: no state yet
  std::filesystem::create_directories(Path("out/tmp-checkpoint-2000"));
  Write("out/checkpoint-x/trainer_state.json", TrainerStateJson(9999, 99999));  // not a step number
  auto progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->step, 1000u) << "checkpoint-1000 is newer than checkpoint-200 though it sorts first";
  EXPECT_EQ(progress->tokens, 10000u);
  EXPECT_EQ(progress->file, Path("out/checkpoint-1000/trainer_state.json"));

  // save_state() at the end of training writes output_dir/trainer_state.json.
  Write("out/trainer_state.json", TrainerStateJson(1200, 12000));
  progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->step, 1200u);
  EXPECT_EQ(progress->file, Path("out/trainer_state.json"));

  Write("out/checkpoint-1500/trainer_state.json", TrainerStateJson(1500, 15000));
  progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->step, 1500u);
  EXPECT_EQ(progress->tokens, 15000u);
  EXPECT_FALSE(source.poll().has_value());
}

TEST_F(TokenSourceTest, ATokenFileCountsItsLastCompleteLine) {
  TokenSource source(Path("tokens.txt"));
  EXPECT_FALSE(source.poll().has_value());
  Write("tokens.txt", "100\n200\n30");
  auto progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 200u) << "'30' has no newline yet: still being written";
  EXPECT_EQ(progress->step, 2u) << "one step per count line";
  EXPECT_EQ(progress->file, Path("tokens.txt"));
  EXPECT_FALSE(source.poll().has_value());

  Append("tokens.txt", "0\n\n  400 \r\n");
  progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 400u) << "blank lines skipped, spaces and CR trimmed";
  EXPECT_EQ(progress->step, 4u);
  EXPECT_THAT(source.take_notes(), IsEmpty());
}

TEST_F(TokenSourceTest, MalformedTokenLinesBecomeNotesWithTheirLineNumbers) {
  TokenSource source(Path("tokens.txt"));
  Write("tokens.txt", "100\nstep=2 tokens=200\n300\n250\n18446744073709551616\n400\n");
  auto progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 450u) << "300, then from 250 again to 400: 300 + 150 spent";
  EXPECT_EQ(progress->step, 4u);
  const std::string file = Path("tokens.txt");
  EXPECT_THAT(source.take_notes(),
              ElementsAre(file + ":2: 'step=2 tokens=200' is not a token count (one cumulative count per line); "
                                 "line ignored",
                          file + ":4: 250 is below the previous count 300: the job counts again from an earlier "
                                 "point (a restart from a checkpoint?); what it does again counts as spent",
                          HasSubstr(file + ":5: '18446744073709551616' is not a token count")));

  Append("tokens.txt", "a\nb\nc\nd\ne\n500\n");
  progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 550u);
  EXPECT_THAT(source.take_notes(), ElementsAre(HasSubstr(":7: 'a'"), HasSubstr(":8: 'b'"), HasSubstr(":9: 'c'"),
                                               file + ": further malformed lines are ignored without a note"));
}

TEST_F(TokenSourceTest, ARewrittenTokenFileIsReadFromTheStart) {
  TokenSource source(Path("tokens"));
  Write("tokens", "1000\n");
  ASSERT_EQ(source.poll()->tokens, 1000u);
  Write("tokens", "2000\n");  // `echo 2000 > tokens`: the same size
  MoveTimeOn("tokens");
  auto progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 2000u);
  Write("tokens", "");  // truncated, about to be rewritten
  EXPECT_FALSE(source.poll().has_value());
  Write("tokens", "30000\n");
  progress = source.poll();
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->tokens, 30000u);
  EXPECT_EQ(progress->step, 3u);
  EXPECT_THAT(source.take_notes(), IsEmpty());
}

// A FIFO would block the read (and the watch with it): it is noted, never opened.
TEST_F(TokenSourceTest, AFifoIsNotedAndNotRead) {
  dir_.fifo("tokens\x1b[2J.txt");
  TokenSource source(Path("tokens\x1b[2J.txt"));
  EXPECT_FALSE(source.poll().has_value());
  EXPECT_FALSE(source.poll().has_value());
  EXPECT_THAT(source.take_notes(),
              ElementsAre(Path("tokens\\x1b[2J.txt") + ": is a FIFO, expected a file; not read"));
  dir_.fifo("trainer_state.json");
  TokenSource state(Path("trainer_state.json"));
  EXPECT_FALSE(state.poll().has_value());
  EXPECT_THAT(state.take_notes(), ElementsAre(Path("trainer_state.json") + ": is a FIFO, expected a file; not read"));
}

TEST_F(TokenSourceTest, ALongNumberInATrainerStateIsReadInLinearTime) {
  // Each digit used to rescan the rest of the value: 20 MB took minutes.
  const std::string digits(20'000'000, '7');
  Result<TrainerState> state = parse_trainer_state("{\"global_step\": " + digits + "}", "s.json");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().message(),
            "s.json:1: field 'global_step': expected a non-negative integer, got '7777777777777777777777777777777777777777...'");
}

TEST_F(TokenSourceTest, AFileWithoutLinesIsGivenUp) {
  TokenSource source(Path("data.bin"));
  Write("data.bin", std::string((1 << 20) + 10, 'x'));
  EXPECT_FALSE(source.poll().has_value());
  EXPECT_THAT(source.take_notes(), ElementsAre(HasSubstr("data.bin:1: a line longer than 1 MiB")));
  Append("data.bin", "\n5\n");
  EXPECT_FALSE(source.poll().has_value());
  EXPECT_THAT(source.take_notes(), IsEmpty());
}

}  // namespace
}  // namespace flopsmeter
