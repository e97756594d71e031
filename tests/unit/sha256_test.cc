// SHA-256 of data and of provenance files (configs, recipes, datasets).
#include "adapters/sha256.h"

#include <string>

#include <gtest/gtest.h>

#include "test_support.h"

namespace flopsmeter {
namespace {

TEST(Sha256Test, DigestsDataAsFips180Says) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, DigestsAFileAndCountsItsBytes) {
  testing::TempDir dir;
  Result<FileDigest> digest = sha256_file(dir.file("recipe.yaml", "abc"));
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(digest->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest->bytes, 3u);
}

// A --recipe or --dataset FIFO used to block the meter's begin, where watch
// could not even be stopped with SIGTERM.
TEST(Sha256Test, RefusesWhatIsNotARegularFileWithoutBlocking) {
  testing::TempDir dir;
  const std::string fifo = dir.fifo("recipe.yaml");
  EXPECT_EQ(sha256_file(fifo).status().message(), fifo + ": is a FIFO, expected a file");
  EXPECT_EQ(sha256_file("/dev/zero").status().message(), "/dev/zero: is a character device, expected a file");
  EXPECT_EQ(sha256_file(dir.path()).status().message(), dir.path() + ": is a directory, expected a file");
  EXPECT_EQ(sha256_file(dir.path() + "/none").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace flopsmeter
