// files: reading, atomic writing and listing, with the errors a user sees.
#include "adapters/files.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flopsmeter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Each test gets a fresh directory, removed afterwards.
class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/fm_files_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void Mkfifo(const std::string& name) const { ASSERT_EQ(::mkfifo(Path(name).c_str(), 0600), 0); }
  void Write(const std::string& name, const std::string& contents) const {
    std::ofstream(Path(name), std::ios::binary) << contents;
  }
  std::vector<std::string> Entries() const {
    Result<std::vector<std::string>> names = list_directory(dir_);
    EXPECT_TRUE(names.ok()) << names.status().ToString();
    return names.ok() ? *names : std::vector<std::string>{};
  }
  static bool RunningAsRoot() { return ::geteuid() == 0; }

  std::string dir_;
};

// ---------------------------------------------------------------------------
// read_file

TEST_F(FilesTest, ReadFileReturnsTheBytesExactly) {
  const std::string contents("binary\0data\n", 12);
  Write("a.bin", contents);
  Result<std::string> read = read_file(Path("a.bin"), 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, contents);
}

TEST_F(FilesTest, ReadFileOfAMissingFileIsNotFound) {
  Result<std::string> read = read_file(Path("nope.json"), 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(read.status().message(), Path("nope.json") + ": no such file or directory");
}

TEST_F(FilesTest, ReadFileOfADirectorySaysSo) {
  Result<std::string> read = read_file(dir_, 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(), dir_ + ": is a directory, expected a file");
}

TEST_F(FilesTest, ReadFileAboveTheLimitIsRefused) {
  Write("big.json", "01234567890");
  Result<std::string> read = read_file(Path("big.json"), 10);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(),
            Path("big.json") + ": file is 11 bytes, above the limit of 10 bytes");
  EXPECT_TRUE(read_file(Path("big.json"), 11).ok());
}

TEST_F(FilesTest, ReadFileRefusesDevices) {
  Result<std::string> read = read_file("/dev/zero", 100000);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(), "/dev/zero: is a character device, expected a file");
  EXPECT_EQ(read_file("/dev/null", 10).status().message(),
            "/dev/null: is a character device, expected a file");
}

// Before open_regular_file() this blocked in open() forever, waiting for a
// writer (ctest's TIMEOUT turns that into a failure).
TEST_F(FilesTest, ReadFileRefusesAFifoWithoutBlocking) {
  Mkfifo("tokenizer.json");
  Result<std::string> read = read_file(Path("tokenizer.json"), 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(), Path("tokenizer.json") + ": is a FIFO, expected a file");
}

TEST_F(FilesTest, ReadFileFollowsSymbolicLinks) {
  Write("blob", "{}");
  ASSERT_EQ(::symlink(Path("blob").c_str(), Path("config.json").c_str()), 0);
  EXPECT_EQ(*read_file(Path("config.json"), 100), "{}");
  ASSERT_EQ(::symlink(Path("none").c_str(), Path("dangling.json").c_str()), 0);
  EXPECT_EQ(read_file(Path("dangling.json"), 100).status().code(), StatusCode::kNotFound);
}

TEST_F(FilesTest, MessagesEscapeControlCharactersInPaths) {
  Result<std::string> read = read_file(Path("a\nforged: line\x1b[2J"), 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), Path("a\\x0aforged: line\\x1b[2J") + ": no such file or directory");
  Mkfifo("b\x1b]0;title\x07");
  EXPECT_EQ(read_file(Path("b\x1b]0;title\x07"), 100).status().message(),
            Path("b\\x1b]0;title\\x07") + ": is a FIFO, expected a file");
}

TEST_F(FilesTest, ReadFileWithoutPermissionIsAnIoError) {
  if (RunningAsRoot()) GTEST_SKIP() << "root reads files regardless of permissions";
  Write("secret.json", "{}");
  ::chmod(Path("secret.json").c_str(), 0);
  Result<std::string> read = read_file(Path("secret.json"), 100);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kIoError);
  EXPECT_EQ(read.status().message(), Path("secret.json") + ": permission denied (open)");
}

// ---------------------------------------------------------------------------
// InputFile

TEST_F(FilesTest, InputFileReadsRanges) {
  Write("data", "0123456789");
  Result<InputFile> file = InputFile::open(Path("data"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->size(), 10u);
  EXPECT_EQ(*file->read_at(2, 3), "234");
  EXPECT_EQ(*file->read_at(10, 0), "");
  Result<std::string> past_end = file->read_at(8, 3);
  ASSERT_FALSE(past_end.ok());
  EXPECT_EQ(past_end.status().message(),
            Path("data") + ": wanted bytes 8 to 11 but the file is 10 bytes (truncated?)");
  EXPECT_FALSE(file->read_at(UINT64_MAX, 2).ok());
}

TEST_F(FilesTest, InputFileWantsARegularFile) {
  EXPECT_EQ(InputFile::open(dir_).status().message(), dir_ + ": is a directory, expected a file");
  EXPECT_EQ(InputFile::open("/dev/null").status().message(), "/dev/null: is a character device, expected a file");
  Mkfifo("model.safetensors");
  EXPECT_EQ(InputFile::open(Path("model.safetensors")).status().message(),
            Path("model.safetensors") + ": is a FIFO, expected a file");
  EXPECT_EQ(InputFile::open(Path("none")).status().code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------
// open_regular_file

TEST_F(FilesTest, OpenRegularFileGivesABlockingDescriptorAndTheSize) {
  Write("journal.jsonl", "0123456789");
  Result<RegularFile> file = open_regular_file(Path("journal.jsonl"), O_WRONLY | O_APPEND, FinalSymlink::kRefuse);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->size, 10u);
  const int flags = ::fcntl(file->fd.get(), F_GETFL);
  EXPECT_EQ(flags & O_NONBLOCK, 0);
  EXPECT_NE(flags & O_APPEND, 0);
  EXPECT_NE(::fcntl(file->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_EQ(::write(file->fd.get(), "ab", 2), 2);
  EXPECT_EQ(*read_file(Path("journal.jsonl"), 100), "0123456789ab");
}

TEST_F(FilesTest, OpenRegularFileNeverCreates) {
  Result<RegularFile> file = open_regular_file(Path("new.jsonl"), O_WRONLY | O_CREAT, FinalSymlink::kRefuse);
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(Entries(), ::testing::IsEmpty());
}

TEST_F(FilesTest, OpenRegularFileRefusesWhatIsNotARegularFileWithoutBlocking) {
  Mkfifo("fifo");
  ASSERT_EQ(::mkdir(Path("dir").c_str(), 0755), 0);
  for (int access : {O_RDONLY, O_WRONLY, O_RDWR}) {
    for (FinalSymlink link : {FinalSymlink::kFollow, FinalSymlink::kRefuse}) {
      EXPECT_EQ(open_regular_file(Path("fifo"), access, link).status().message(),
                Path("fifo") + ": is a FIFO, expected a file");
      EXPECT_EQ(open_regular_file(Path("dir"), access, link).status().message(),
                Path("dir") + ": is a directory, expected a file");
      EXPECT_EQ(open_regular_file("/dev/null", access, link).status().message(),
                "/dev/null: is a character device, expected a file");
    }
  }
}

TEST_F(FilesTest, OpenRegularFileFollowsOrRefusesAFinalSymbolicLink) {
  Write("target", "x");
  ASSERT_EQ(::symlink(Path("target").c_str(), Path("link").c_str()), 0);
  EXPECT_TRUE(open_regular_file(Path("link"), O_RDONLY, FinalSymlink::kFollow).ok());
  Result<RegularFile> refused = open_regular_file(Path("link"), O_WRONLY, FinalSymlink::kRefuse);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), Path("link") + ": is a symbolic link, expected a file");
  // A link to a FIFO is refused as the FIFO when followed.
  Mkfifo("fifo");
  ASSERT_EQ(::symlink(Path("fifo").c_str(), Path("to-fifo").c_str()), 0);
  EXPECT_EQ(open_regular_file(Path("to-fifo"), O_RDONLY, FinalSymlink::kFollow).status().message(),
            Path("to-fifo") + ": is a FIFO, expected a file");
}

TEST(FilesTypeNameTest, NamesEveryKindOfFile) {
  EXPECT_EQ(file_type_name(S_IFREG | 0644), "a regular file");
  EXPECT_EQ(file_type_name(S_IFDIR), "a directory");
  EXPECT_EQ(file_type_name(S_IFIFO), "a FIFO");
  EXPECT_EQ(file_type_name(S_IFCHR), "a character device");
  EXPECT_EQ(file_type_name(S_IFBLK), "a block device");
  EXPECT_EQ(file_type_name(S_IFLNK), "a symbolic link");
  EXPECT_EQ(file_type_name(S_IFSOCK), "a socket");
}

// ---------------------------------------------------------------------------
// write_file_atomic

TEST_F(FilesTest, WriteFileAtomicCreatesAndReplaces) {
  ASSERT_TRUE(write_file_atomic(Path("out.json"), "first").ok());
  EXPECT_EQ(*read_file(Path("out.json"), 100), "first");
  ASSERT_TRUE(write_file_atomic(Path("out.json"), "second, longer").ok());
  EXPECT_EQ(*read_file(Path("out.json"), 100), "second, longer");
  ASSERT_TRUE(write_file_atomic(Path("out.json"), "").ok());
  EXPECT_EQ(*read_file(Path("out.json"), 100), "");
  EXPECT_THAT(Entries(), ElementsAre("out.json"));  // no temporary file left behind
}

TEST_F(FilesTest, WriteFileAtomicKeepsTheExistingPermissions) {
  Write("private.json", "old");
  ASSERT_EQ(::chmod(Path("private.json").c_str(), 0600), 0);
  ASSERT_TRUE(write_file_atomic(Path("private.json"), "new").ok());
  struct stat info {};
  ASSERT_EQ(::stat(Path("private.json").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
}

TEST_F(FilesTest, WriteFileAtomicIntoAMissingDirectoryFails) {
  Status status = write_file_atomic(Path("no/such/dir/out.json"), "x");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(Path("no/such/dir/out.json") + ": "));
}

TEST_F(FilesTest, WriteFileAtomicOverADirectoryFails) {
  ASSERT_EQ(::mkdir(Path("sub").c_str(), 0755), 0);
  Status status = write_file_atomic(Path("sub"), "x");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), Path("sub") + ": is a directory, expected a file");
  EXPECT_EQ(write_file_atomic("", "x").code(), StatusCode::kInvalidArgument);
}

// rename() would have put a regular file in place of each of these.
TEST_F(FilesTest, WriteFileAtomicLeavesWhatIsNotARegularFileAlone) {
  Write("target.json", "theirs");
  ASSERT_EQ(::symlink(Path("target.json").c_str(), Path("link.json").c_str()), 0);
  Status link = write_file_atomic(Path("link.json"), "ours");
  EXPECT_EQ(link.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(link.message(), Path("link.json") + ": is a symbolic link, expected a file");
  struct stat info {};
  ASSERT_EQ(::lstat(Path("link.json").c_str(), &info), 0);
  EXPECT_TRUE(S_ISLNK(info.st_mode));
  EXPECT_EQ(*read_file(Path("target.json"), 100), "theirs");

  Mkfifo("flops_meter.json");
  EXPECT_EQ(write_file_atomic(Path("flops_meter.json"), "ours").message(),
            Path("flops_meter.json") + ": is a FIFO, expected a file");
  ASSERT_EQ(::lstat(Path("flops_meter.json").c_str(), &info), 0);
  EXPECT_TRUE(S_ISFIFO(info.st_mode));
  EXPECT_THAT(Entries(), ElementsAre("flops_meter.json", "link.json", "target.json"));  // no temporary left
}

TEST_F(FilesTest, WriteFileAtomicFailingMidWriteLeavesTheOldFileAndNoTemporary) {
  Write("model.json", "old contents");
  // Make write() fail with EFBIG after 1 KiB, as a full disk would.
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit small = saved;
  small.rlim_cur = 1024;
  auto* previous_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status status = write_file_atomic(Path("model.json"), std::string(4096, 'x'));
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, previous_handler);

  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_THAT(status.message(), HasSubstr(Path("model.json") + ": write failed: "));
  EXPECT_EQ(*read_file(Path("model.json"), 100), "old contents");
  EXPECT_THAT(Entries(), ElementsAre("model.json"));
}

TEST_F(FilesTest, WriteFileAtomicInAReadOnlyDirectoryIsAnIoError) {
  if (RunningAsRoot()) GTEST_SKIP() << "root writes regardless of permissions";
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  Status status = write_file_atomic(Path("out.json"), "x");
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_THAT(status.message(), HasSubstr("permission denied"));
}

// ---------------------------------------------------------------------------
// Directories

TEST_F(FilesTest, ListDirectoryIsSortedWithoutDotEntries) {
  Write("b.safetensors", "");
  Write("a.safetensors", "");
  Write("B.json", "");
  ASSERT_EQ(::mkdir(Path("sub").c_str(), 0755), 0);
  EXPECT_THAT(Entries(), ElementsAre("B.json", "a.safetensors", "b.safetensors", "sub"));
}

TEST_F(FilesTest, ListDirectoryErrors) {
  Result<std::vector<std::string>> missing = list_directory(Path("none"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), Path("none") + ": no such file or directory");
  Write("file", "");
  Result<std::vector<std::string>> file = list_directory(Path("file"));
  EXPECT_EQ(file.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(file.status().message(), Path("file") + ": not a directory");
}

TEST_F(FilesTest, IsDirectoryAndIsRegularFile) {
  Write("file", "");
  EXPECT_TRUE(is_directory(dir_));
  EXPECT_FALSE(is_directory(Path("file")));
  EXPECT_FALSE(is_directory(Path("none")));
  EXPECT_TRUE(is_regular_file(Path("file")));
  EXPECT_FALSE(is_regular_file(dir_));
  EXPECT_FALSE(is_regular_file(Path("none")));
}

TEST(FilesJoinPathTest, JoinsWithOneSlash) {
  EXPECT_EQ(join_path("models", "config.json"), "models/config.json");
  EXPECT_EQ(join_path("models/", "config.json"), "models/config.json");
  EXPECT_EQ(join_path("", "config.json"), "config.json");
  EXPECT_EQ(join_path("/", "etc"), "/etc");
}

}  // namespace
}  // namespace flopsmeter
