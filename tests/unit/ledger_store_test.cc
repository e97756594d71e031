// The ledger store: one suite for both backends. It runs on SQLite always,
// and on PostgreSQL too when FLOPSMETER_TEST_PG_URL names a server
// (tests/ledger/with_postgres.sh starts a real one for ctest's
// ledger_store_postgresql). Round trips of every row type, dense indices,
// writers in many processes, writers killed at random points, rolled-back
// writers, and hostile locations: a foreign or random file, a FIFO, a
// symbolic link, a server that refuses, a wrong password, another version.
#include "adapters/ledger_store.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/ledger_sql.h"
#include "ledger_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using testing::backend_name;
using testing::backends;
using testing::Backend;
using testing::fork_child;
using testing::postgres_server_url;
using testing::postgres_sql;
using testing::sqlite_sql;
using testing::wait_child;
using testing::with_parameter;
using testing::with_user;

merkle::Hash test_hash(uint64_t seed) {
  merkle::Hash h{};
  std::mt19937_64 bits(seed);
  for (size_t i = 0; i < h.size(); i += 8) {
    const uint64_t word = bits();
    for (size_t b = 0; b < 8; ++b) h[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  return h;
}

// Entry `index` as every test writes it, so that any reader can tell an
// intact entry from a damaged or foreign one.
StoredEntry test_entry(uint64_t index) {
  static const char* const kKinds[] = {"run", "model", "estimate"};
  StoredEntry e;
  e.index = index;
  e.entry = R"({"index":)" + std::to_string(index) + R"(,"note":"é)" + std::string(index % 61, 'x') + R"("})";
  e.leaf_hash = test_hash(index);
  e.kind = kKinds[index % 3];
  e.subject = index % 7 == 0 ? "" : "subject-" + std::to_string(index % 5);
  return e;
}

// The tree state after `size` entries: one subtree per set bit, as a
// CompactRange keeps them.
TreeState test_state(uint64_t size) {
  TreeState s{size, {}};
  for (int i = 0; i < std::popcount(size); ++i) s.subtrees.push_back(test_hash(size * 64 + static_cast<uint64_t>(i)));
  return s;
}

StoredHead test_head(uint64_t size) {
  std::string signature(64, '\0');
  for (size_t i = 0; i < signature.size(); ++i) signature[i] = static_cast<char>((size + i) * 37);
  return {size, test_hash(~size), "2026-01-02T03:04:05Z", "key-" + std::to_string(size % 3), signature};
}

// One append as the ledger makes it: the exclusive writer, `count` entries
// after the current state, a head of the new size, the new state, commit.
// Returns the new size.
Result<uint64_t> append(LedgerStore& store, uint64_t count, const std::function<StoredEntry(uint64_t)>& make_entry) {
  FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore::Writer> writer, store.begin_write());
  FM_ASSIGN_OR_RETURN(TreeState state, writer->state());
  for (uint64_t i = 0; i < count; ++i) FM_RETURN_IF_ERROR(writer->insert_entry(make_entry(state.size + i)));
  const uint64_t size = state.size + count;
  FM_RETURN_IF_ERROR(writer->insert_head(test_head(size)));
  FM_RETURN_IF_ERROR(writer->set_state(test_state(size)));
  FM_RETURN_IF_ERROR(writer->commit());
  return size;
}

// The fixture: a fresh location on the backend under test (an SQLite file
// in a directory that does not exist yet; a PostgreSQL schema of its own,
// named in the URL's search_path, dropped afterwards).
class LedgerStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { ASSERT_EQ(where_.error(), ""); }

  bool sqlite() const { return GetParam() == Backend::kSqlite; }

  std::unique_ptr<LedgerStore> Open(bool create = false) const {
    auto store = LedgerStore::Open(location_, create);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Runs SQL on the ledger's database behind the store's back, as someone
  // with the database's own tools would.
  std::string RawSql(const std::string& sql) const { return where_.RawSql(sql); }
  // A literal of `size` zero bytes in the backend's SQL.
  std::string ZeroBytes(size_t size) const {
    return sqlite() ? "zeroblob(" + std::to_string(size) + ")"
                    : "decode(repeat('00', " + std::to_string(size) + "), 'hex')";
  }

  // Checks what every reader may rely on after any number of writers,
  // killed or not: the state's size is the entry count, the entries are
  // 0..size-1 and each is exactly what test_entry() made, the latest head
  // is of that size, keys point at entries. Returns the size.
  uint64_t ExpectIntactLedger() const {
    auto store = Open();
    if (!store) return 0;
    // Read under the writers' lock: a killed client's PostgreSQL
    // transaction may still be committing, and the reads below must see
    // one ledger, not one before it and one after.
    auto writer = store->begin_write();
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    const TreeState state = *store->state();
    EXPECT_EQ(*store->entry_count(), state.size);
    EXPECT_EQ(state.subtrees, test_state(state.size).subtrees);
    const std::vector<StoredEntry> entries = *store->entries(0, state.size + 10);
    EXPECT_EQ(entries.size(), state.size);
    for (size_t i = 0; i < entries.size(); ++i) {
      const StoredEntry expected = test_entry(i);
      EXPECT_EQ(entries[i].index, i);
      EXPECT_EQ(entries[i].entry, expected.entry) << "entry " << i;
      EXPECT_EQ(entries[i].leaf_hash, expected.leaf_hash) << "entry " << i;
      EXPECT_EQ(entries[i].kind, expected.kind) << "entry " << i;
      EXPECT_EQ(entries[i].subject, expected.subject) << "entry " << i;
      if (::testing::Test::HasFailure()) break;
    }
    const std::optional<StoredHead> latest = *store->latest_head();
    if (state.size > 0) {
      EXPECT_TRUE(latest && latest->size == state.size && latest->root == test_head(state.size).root);
    }
    const std::vector<StoredKey> keys = *store->keys();
    for (const StoredKey& k : keys) EXPECT_LT(k.entry_index, state.size);
    return state.size;
  }

  testing::LedgerLocation where_{GetParam()};
  const std::string& location_ = where_.location();
};

INSTANTIATE_TEST_SUITE_P(Backends, LedgerStoreTest, ::testing::ValuesIn(backends()), backend_name);

TEST_P(LedgerStoreTest, CreatesAnEmptyLedgerAndReopensIt) {
  {
    auto store = Open(/*create=*/true);
    ASSERT_NE(store, nullptr);
    EXPECT_STREQ(store->backend(), sqlite() ? "sqlite" : "postgresql");
    EXPECT_EQ(*store->meta("schema"), std::optional<std::string>(kLedgerStoreSchema));
    EXPECT_EQ(*store->meta("ledger_id"), std::nullopt);
    const TreeState state = *store->state();
    EXPECT_EQ(state.size, 0u);
    EXPECT_TRUE(state.subtrees.empty());
    EXPECT_EQ(*store->entry_count(), 0u);
    EXPECT_TRUE(store->entries(0, 100)->empty());
    EXPECT_TRUE(store->heads()->empty());
    EXPECT_EQ(*store->latest_head(), std::nullopt);
    EXPECT_TRUE(store->keys()->empty());
  }
  // Opening again, with or without create, finds the same ledger.
  EXPECT_EQ(*Open(/*create=*/true)->meta("schema"), std::optional<std::string>(kLedgerStoreSchema));
  EXPECT_EQ(*Open()->entry_count(), 0u);
}

TEST_P(LedgerStoreTest, AMissingLedgerIsNotFoundAndNotCreated) {
  auto store = LedgerStore::Open(location_, /*create=*/false);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound) << store.status().ToString();
  EXPECT_THAT(store.status().message(), HasSubstr(sqlite() ? location_ : "ledger_test_"));
  if (sqlite()) {
    EXPECT_FALSE(std::filesystem::exists(location_));
  }
  EXPECT_EQ(LedgerStore::Open(location_, false).status().code(), StatusCode::kNotFound);
}

TEST_P(LedgerStoreTest, RoundTripsEveryRowType) {
  constexpr uint64_t kEntries = 40;
  std::vector<StoredKey> keys;
  {
    auto store = Open(true);
    ASSERT_NE(store, nullptr);
    auto writer = store->begin_write().value();
    ASSERT_TRUE(writer->put_meta("ledger_id", "first").ok());
    ASSERT_TRUE(writer->put_meta("ledger_id", "ledger-ü-1").ok());  // a second put replaces
    ASSERT_TRUE(writer->put_meta("empty", "").ok());
    for (uint64_t i = 0; i < kEntries; ++i) ASSERT_TRUE(writer->insert_entry(test_entry(i)).ok());
    // Keys: raw bytes, zeros included.
    keys.push_back({"key-0", std::string(32, '\0'), 0});
    keys.push_back({"key-1", std::string("\x01\xff\x00\x7f", 4) + std::string(28, '\xa5'), 7});
    for (const StoredKey& k : keys) ASSERT_TRUE(writer->insert_key(k).ok());
    for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{17}, kEntries}) {
      ASSERT_TRUE(writer->insert_head(test_head(size)).ok());
    }
    ASSERT_TRUE(writer->set_state(test_state(kEntries)).ok());
    ASSERT_TRUE(writer->commit().ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->meta("ledger_id"), std::optional<std::string>("ledger-ü-1"));
  EXPECT_EQ(*store->meta("empty"), std::optional<std::string>(""));
  EXPECT_EQ(*store->entry_count(), kEntries);
  EXPECT_EQ(ExpectIntactLedger(), kEntries);

  // Ranges: a middle slice, a slice past the end, far past it, the lot.
  const std::vector<StoredEntry> middle = *store->entries(10, 5);
  ASSERT_EQ(middle.size(), 5u);
  EXPECT_EQ(middle.front().index, 10u);
  EXPECT_EQ(middle.back().index, 14u);
  EXPECT_EQ(store->entries(38, 10)->size(), 2u);
  EXPECT_TRUE(store->entries(kEntries, 10)->empty());
  EXPECT_TRUE(store->entries(uint64_t{1} << 63, 10)->empty());
  EXPECT_TRUE(store->entries(~uint64_t{0}, ~uint64_t{0})->empty());
  EXPECT_EQ(store->entries(0, ~uint64_t{0})->size(), kEntries);
  EXPECT_TRUE(store->entries(3, 0)->empty());
  // A scan into one vector, chunk by chunk: the same entries, the last
  // chunk shorter.
  std::vector<StoredEntry> chunk;
  std::vector<uint64_t> scanned;
  for (uint64_t from = 0; from < kEntries + 7; from += 7) {
    ASSERT_TRUE(store->entries_into(from, 7, chunk).ok());
    for (const StoredEntry& e : chunk) {
      EXPECT_EQ(e.entry, test_entry(e.index).entry);
      EXPECT_EQ(e.subject, test_entry(e.index).subject);
      scanned.push_back(e.index);
    }
  }
  EXPECT_EQ(scanned.size(), kEntries);
  EXPECT_EQ(scanned.back(), kEntries - 1);
  EXPECT_TRUE(chunk.empty());

  // By kind, and by kind and subject, in index order.
  std::vector<uint64_t> runs;
  const std::vector<StoredEntry> of_kind = *store->entries_of_kind("run");
  for (const StoredEntry& e : of_kind) runs.push_back(e.index);
  std::vector<uint64_t> expected_runs;
  for (uint64_t i = 0; i < kEntries; i += 3) expected_runs.push_back(i);
  EXPECT_EQ(runs, expected_runs);
  std::vector<uint64_t> about;
  const std::vector<StoredEntry> about_subject = *store->entries_about("model", "subject-2");
  for (const StoredEntry& e : about_subject) about.push_back(e.index);
  std::vector<uint64_t> expected_about;
  for (uint64_t i = 0; i < kEntries; ++i) {
    if (test_entry(i).kind == "model" && test_entry(i).subject == "subject-2") expected_about.push_back(i);
  }
  EXPECT_EQ(about, expected_about);
  EXPECT_EQ(store->entries_about("run", "")->size(), 2u);  // 0 and 21: "" is a subject like any other
  EXPECT_TRUE(store->entries_of_kind("annotation")->empty());

  const std::vector<StoredHead> heads = *store->heads();
  ASSERT_EQ(heads.size(), 4u);
  for (size_t i = 0; i < heads.size(); ++i) {
    const StoredHead expected = test_head(heads[i].size);
    EXPECT_EQ(heads[i].root, expected.root);
    EXPECT_EQ(heads[i].time, expected.time);
    EXPECT_EQ(heads[i].key_id, expected.key_id);
    EXPECT_EQ(heads[i].signature, expected.signature);
  }
  EXPECT_EQ(heads[0].size, 0u);
  EXPECT_EQ(heads[3].size, kEntries);
  EXPECT_EQ(store->latest_head()->value().signature, test_head(kEntries).signature);

  const std::vector<StoredKey> stored_keys = *store->keys();
  ASSERT_EQ(stored_keys.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(stored_keys[i].key_id, keys[i].key_id);
    EXPECT_EQ(stored_keys[i].public_key, keys[i].public_key);
    EXPECT_EQ(stored_keys[i].entry_index, keys[i].entry_index);
  }
}

TEST_P(LedgerStoreTest, IndicesAreDenseAndTheStateCoversEveryEntry) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(append(*store, 3, test_entry).ok());
  {
    // An index other than the next is a caller's bug: refused, and the
    // writer writes nothing more.
    auto writer = store->begin_write().value();
    const Status skipped = writer->insert_entry(test_entry(4));
    EXPECT_EQ(skipped.code(), StatusCode::kInternal) << skipped.ToString();
    EXPECT_THAT(skipped.message(), HasSubstr("entry 3 is next"));
    EXPECT_FALSE(writer->insert_entry(test_entry(3)).ok());
    EXPECT_FALSE(writer->commit().ok());
  }
  {
    // A state that does not cover the entries is not committed.
    auto writer = store->begin_write().value();
    ASSERT_TRUE(writer->insert_entry(test_entry(3)).ok());
    const Status commit = writer->commit();
    EXPECT_EQ(commit.code(), StatusCode::kInternal) << commit.ToString();
    EXPECT_THAT(commit.message(), HasSubstr("nothing was committed"));
  }
  {
    // A duplicate key is a constraint the database refuses.
    auto writer = store->begin_write().value();
    ASSERT_TRUE(writer->insert_key({"k", std::string(32, 'k'), 1}).ok());
    const Status duplicate = writer->insert_key({"k", std::string(32, 'j'), 2});
    EXPECT_EQ(duplicate.code(), StatusCode::kInvalidArgument) << duplicate.ToString();
    EXPECT_FALSE(writer->commit().ok());
  }
  EXPECT_EQ(ExpectIntactLedger(), 3u);
  EXPECT_TRUE(store->keys()->empty());
  ASSERT_TRUE(append(*store, 2, test_entry).ok());
  EXPECT_EQ(ExpectIntactLedger(), 5u);
}

TEST_P(LedgerStoreTest, ADestroyedWriterLeavesNothing) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(append(*store, 2, test_entry).ok());
  {
    auto writer = store->begin_write().value();
    ASSERT_TRUE(writer->put_meta("ledger_id", "never").ok());
    for (uint64_t i = 2; i < 6; ++i) ASSERT_TRUE(writer->insert_entry(test_entry(i)).ok());
    ASSERT_TRUE(writer->insert_key({"gone", std::string(32, 'g'), 3}).ok());
    ASSERT_TRUE(writer->insert_head(test_head(6)).ok());
    ASSERT_TRUE(writer->set_state(test_state(6)).ok());
  }  // no commit
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(*reopened->meta("ledger_id"), std::nullopt);
  EXPECT_EQ(reopened->state()->size, 2u);
  EXPECT_EQ(*reopened->entry_count(), 2u);
  EXPECT_EQ(reopened->heads()->size(), 1u);
  EXPECT_TRUE(reopened->keys()->empty());
  // The lock went with it: both stores can write again.
  EXPECT_TRUE(append(*store, 1, test_entry).ok());
  EXPECT_TRUE(append(*reopened, 1, test_entry).ok());
  EXPECT_EQ(ExpectIntactLedger(), 4u);
}

TEST_P(LedgerStoreTest, OtherStoresSeeNothingBeforeCommit) {
  auto writing = Open(true);
  auto reading = Open();
  ASSERT_NE(reading, nullptr);
  auto writer = writing->begin_write().value();
  ASSERT_TRUE(writer->insert_entry(test_entry(0)).ok());
  ASSERT_TRUE(writer->insert_head(test_head(1)).ok());
  ASSERT_TRUE(writer->set_state(test_state(1)).ok());
  EXPECT_EQ(*reading->entry_count(), 0u);
  EXPECT_EQ(reading->state()->size, 0u);
  EXPECT_EQ(*reading->latest_head(), std::nullopt);
  // One writer at a time on a store, too.
  const Result<std::unique_ptr<LedgerStore::Writer>> second = writing->begin_write();
  EXPECT_EQ(second.status().code(), StatusCode::kInternal) << second.status().ToString();
  ASSERT_TRUE(writer->commit().ok());
  EXPECT_EQ(*reading->entry_count(), 1u);
  EXPECT_EQ(reading->state()->size, 1u);
  EXPECT_EQ(reading->latest_head()->value().size, 1u);
  EXPECT_FALSE(writer->commit().ok()) << "a writer commits once";
  writer.reset();
  EXPECT_TRUE(append(*writing, 1, test_entry).ok());
}

TEST_P(LedgerStoreTest, TextMustBeUtf8WithoutNulOnBothBackends) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  auto writer = store->begin_write().value();
  StoredEntry bad = test_entry(0);
  bad.subject = "bad\xff";
  const Status invalid = writer->insert_entry(bad);
  EXPECT_EQ(invalid.code(), StatusCode::kInvalidArgument) << invalid.ToString();
  EXPECT_THAT(invalid.message(), HasSubstr("not UTF-8"));
  EXPECT_THAT(invalid.message(), HasSubstr("bad\\xff"));
  EXPECT_EQ(store->meta(std::string("a\0b", 3)).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(LedgerStoreTest, AnotherSchemaVersionIsUnsupported) {
  {
    auto store = Open(true);
    ASSERT_NE(store, nullptr);
    auto writer = store->begin_write().value();
    ASSERT_TRUE(writer->put_meta("schema", "flopsmeter.ledger_store/2").ok());
    ASSERT_TRUE(writer->commit().ok());
  }
  for (bool create : {false, true}) {
    auto store = LedgerStore::Open(location_, create);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kUnsupported) << store.status().ToString();
    EXPECT_THAT(store.status().message(), HasSubstr("\"flopsmeter.ledger_store/2\""));
    EXPECT_THAT(store.status().message(), HasSubstr(kLedgerStoreSchema));
  }
}

TEST_P(LedgerStoreTest, ADatabaseWithoutTheSchemaVersionIsNotALedger) {
  ASSERT_NE(Open(true), nullptr);
  ASSERT_EQ(RawSql("DELETE FROM ledger_meta"), "");
  auto store = LedgerStore::Open(location_, true);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kParseError) << store.status().ToString();
  EXPECT_THAT(store.status().message(), HasSubstr("not a flopsmeter ledger"));
}

TEST_P(LedgerStoreTest, DamagedRowsAreParseErrorsNamingTheLedger) {
  {
    auto store = Open(true);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(append(*store, 3, test_entry).ok());
  }
  ASSERT_EQ(RawSql("UPDATE ledger_state SET subtrees = " + ZeroBytes(33)), "");
  auto store = Open();
  ASSERT_NE(store, nullptr);
  const Result<TreeState> state = store->state();
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), StatusCode::kParseError);
  EXPECT_THAT(state.status().message(), HasSubstr("the ledger is damaged: the state's subtrees are 33 bytes"));
  EXPECT_FALSE(store->begin_write().ok()) << "a writer starts from the state";
  // The schema's own checks keep a hash 32 bytes, even against its tools.
  EXPECT_NE(RawSql("UPDATE ledger_entries SET leaf_hash = " + ZeroBytes(31) + " WHERE entry_index = 1"), "");
  EXPECT_NE(RawSql("UPDATE ledger_entries SET entry_index = -1 WHERE entry_index = 1"), "");
}

TEST_P(LedgerStoreTest, ConcurrentCreatorsMakeOneLedger) {
  std::vector<pid_t> children;
  for (int i = 0; i < 8; ++i) {
    children.push_back(fork_child([this] { return LedgerStore::Open(location_, true).status(); }));
  }
  for (pid_t pid : children) EXPECT_EQ(wait_child(pid), 0);
  EXPECT_EQ(ExpectIntactLedger(), 0u);
}

// Every append of many processes at once gets its own index: none lost,
// none given twice.
TEST_P(LedgerStoreTest, WritersInManyProcessesGetDenseIndices) {
  constexpr int kWriters = 32;
  const int appends = sqlite() ? 200 : 50;
  ASSERT_NE(Open(true), nullptr);
  std::vector<pid_t> children;
  for (int writer = 0; writer < kWriters; ++writer) {
    children.push_back(fork_child([this, writer, appends]() -> Status {
      FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> store, LedgerStore::Open(location_, false));
      for (int n = 0; n < appends; ++n) {
        auto entry = [&](uint64_t index) {
          StoredEntry e = test_entry(index);
          e.entry = std::to_string(writer) + "/" + std::to_string(n);
          e.subject = "writer-" + std::to_string(writer);
          return e;
        };
        FM_RETURN_IF_ERROR(append(*store, 1, entry).status());
      }
      return Status::Ok();
    }));
  }
  for (pid_t pid : children) EXPECT_EQ(wait_child(pid), 0);

  auto store = Open();
  ASSERT_NE(store, nullptr);
  const uint64_t total = static_cast<uint64_t>(kWriters) * static_cast<uint64_t>(appends);
  EXPECT_EQ(*store->entry_count(), total);
  EXPECT_EQ(store->state()->size, total);
  EXPECT_EQ(store->heads()->size(), total);
  std::set<std::string> appended;
  uint64_t expected_index = 0;
  const std::vector<StoredEntry> entries = *store->entries(0, total);
  for (const StoredEntry& e : entries) {
    EXPECT_EQ(e.index, expected_index++);
    EXPECT_TRUE(appended.insert(e.entry).second) << "appended twice: " << e.entry;
  }
  EXPECT_EQ(appended.size(), total);
  EXPECT_EQ(store->entries_about("run", "writer-5")->size() + store->entries_about("model", "writer-5")->size() +
                store->entries_about("estimate", "writer-5")->size(),
            static_cast<size_t>(appends));
}

// A writer killed with SIGKILL at a random point (opening, between
// statements, inside a commit) leaves a ledger that opens, whose state
// matches its entries, with every committed entry intact and nothing of the
// killed transaction. The child reports each commit's size on a pipe; the
// ledger must hold at least that, and at most one transaction more (one
// committed but not yet reported).
TEST_P(LedgerStoreTest, WritersKilledAtRandomPointsLoseNothingCommitted) {
  const int kills = sqlite() ? 100 : 20;
  constexpr uint64_t kMaxEntriesPerAppend = 4;
  ASSERT_NE(Open(true), nullptr);
  std::mt19937 random(20260107);
  uint64_t ledger_size = 0;  // what the ledger held after the last round
  for (int round = 0; round < kills; ++round) {
    int pipe_ends[2];
    ASSERT_EQ(::pipe(pipe_ends), 0);
    const pid_t pid = fork_child([&]() -> Status {
      ::close(pipe_ends[0]);
      FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> store, LedgerStore::Open(location_, false));
      for (uint64_t n = 0;; ++n) {
        FM_ASSIGN_OR_RETURN(uint64_t size, append(*store, 1 + n % kMaxEntriesPerAppend, test_entry));
        if (size % 5 == 0) {  // a key now and then, in a transaction of its own
          auto writer = store->begin_write();
          FM_RETURN_IF_ERROR(writer.status());
          FM_RETURN_IF_ERROR((*writer)->insert_key({"key@" + std::to_string(size), std::string(32, 'k'), size - 1}));
          FM_RETURN_IF_ERROR((*writer)->commit());
        }
        if (::write(pipe_ends[1], &size, sizeof size) != sizeof size) return Status::IoError("pipe");
      }
    });
    ::close(pipe_ends[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 30000));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    const int exit_status = wait_child(pid);
    EXPECT_EQ(exit_status, 128 + SIGKILL) << "the writer failed before it was killed";
    uint64_t reported = ledger_size;
    for (uint64_t committed = 0; ::read(pipe_ends[0], &committed, sizeof committed) == sizeof committed;) {
      reported = committed;
    }
    ::close(pipe_ends[0]);
    ledger_size = ExpectIntactLedger();
    EXPECT_GE(ledger_size, reported) << "round " << round << ": a committed entry was lost";
    EXPECT_LE(ledger_size, reported + kMaxEntriesPerAppend) << "round " << round;
    if (HasFailure()) break;
  }
}

// Hostile locations on SQLite: anything but a regular SQLite ledger is
// refused with a message naming the path, and never waited on.
class SqliteLedgerLocationTest : public ::testing::Test {
 protected:
  Status OpenError(const std::string& path, bool create = false) const {
    auto store = LedgerStore::Open(path, create);
    return store.ok() ? Status::Internal("opened") : store.status();
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string Ledger(const std::string& name) const {
    EXPECT_TRUE(LedgerStore::Open(Path(name), true).ok());
    return Path(name);
  }
  flopsmeter::testing::TempDir dir_;
};

TEST_F(SqliteLedgerLocationTest, AForeignDatabaseIsNotALedgerAndIsLeftAlone) {
  const std::string path = Path("other.sqlite");
  ASSERT_EQ(sqlite_sql(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1)"), "");
  for (bool create : {false, true}) {
    const Status s = OpenError(path, create);
    EXPECT_EQ(s.code(), StatusCode::kParseError) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(path + ": not a flopsmeter ledger"));
  }
  EXPECT_EQ(sqlite_sql(path, "CREATE TABLE only_t_existed (x)"), "") << "no ledger tables were added";
}

TEST_F(SqliteLedgerLocationTest, RandomBytesAreNotASqliteDatabase) {
  std::string bytes(8192, '\0');
  std::mt19937 random(7);
  for (char& c : bytes) c = static_cast<char>(random());
  const std::string path = dir_.file("random.sqlite", bytes);
  for (bool create : {false, true}) {
    const Status s = OpenError(path, create);
    EXPECT_EQ(s.code(), StatusCode::kParseError) << s.ToString();
    EXPECT_EQ(s.message(), path + ": not a SQLite database");
  }
}

TEST_F(SqliteLedgerLocationTest, AFifoADirectoryAndASymbolicLinkAreRefused) {
  const std::string fifo = dir_.fifo("ledger.fifo");
  Status s = OpenError(fifo, true);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), fifo + ": is a FIFO, expected a file");

  s = OpenError(dir_.path(), true);
  EXPECT_EQ(s.message(), dir_.path() + ": is a directory, expected a file");

  const std::string link = Path("link.sqlite");
  ASSERT_EQ(::symlink(Ledger("real.sqlite").c_str(), link.c_str()), 0);
  s = OpenError(link);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), link + ": is a symbolic link, expected a file");

  s = OpenError("/dev/null", true);
  EXPECT_EQ(s.message(), "/dev/null: is a character device, expected a file");
}

TEST_F(SqliteLedgerLocationTest, AFifoBesideTheLedgerIsRefused) {
  const std::string ledger = Ledger("audit.sqlite");
  std::filesystem::remove(ledger + "-wal");
  dir_.fifo("audit.sqlite-wal");
  const Status s = OpenError(ledger);
  EXPECT_EQ(s.message(), ledger + "-wal: is a FIFO, expected a file");
}

TEST_F(SqliteLedgerLocationTest, AnEmptyFileBecomesALedgerOnlyWhenCreating) {
  const std::string path = dir_.file("empty.sqlite", "");
  const Status s = OpenError(path);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("the database is empty"));
  EXPECT_TRUE(LedgerStore::Open(path, true).ok());
  EXPECT_TRUE(LedgerStore::Open(path, false).ok());
}

TEST_F(SqliteLedgerLocationTest, ALedgerWithSqlOfItsOwnIsRefused) {
  // A trigger, a view or an index that is not the schema's could run SQL
  // when the ledger is read or written.
  for (const char* extra : {"CREATE TRIGGER t AFTER INSERT ON ledger_entries BEGIN SELECT 1; END",
                            "CREATE VIEW v AS SELECT * FROM ledger_entries",
                            "CREATE INDEX extra ON ledger_heads (time)"}) {
    const std::string path = Ledger("with-extra-" + std::to_string(std::hash<std::string>()(extra)) + ".sqlite");
    ASSERT_EQ(sqlite_sql(path, extra), "");
    const Status s = OpenError(path);
    EXPECT_EQ(s.code(), StatusCode::kParseError) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("is not in the flopsmeter.ledger_store/1 schema"));
  }
  const std::string dropped = Ledger("dropped.sqlite");
  ASSERT_EQ(sqlite_sql(dropped, "DROP INDEX ledger_entries_by_kind"), "");
  EXPECT_THAT(OpenError(dropped).message(), HasSubstr("lacks part of the flopsmeter.ledger_store/1 schema"));
}

TEST_F(SqliteLedgerLocationTest, AnOverwrittenLedgerGivesErrorsNotCrashes) {
  const std::string path = Ledger("overwritten.sqlite");
  {
    auto store = LedgerStore::Open(path, false).value();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(append(*store, 50, test_entry).ok());
  }
  // Garbage over every page but the first (the header and the schema).
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(0, std::ios::end);
  const auto size = static_cast<size_t>(file.tellp());
  std::mt19937 random(11);
  std::string garbage(size - 4096, '\0');
  for (char& c : garbage) c = static_cast<char>(random());
  file.seekp(4096);
  file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  file.close();
  auto store = LedgerStore::Open(path, false);
  if (!store.ok()) {
    EXPECT_THAT(store.status().message(), HasSubstr(path));
    return;
  }
  const Result<std::vector<StoredEntry>> entries = (*store)->entries(0, 1000);
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), StatusCode::kParseError) << entries.status().ToString();
  EXPECT_THAT(entries.status().message(), HasSubstr(path + ": the database is corrupt"));
}

TEST_F(SqliteLedgerLocationTest, ARelativePathIsAFileNotAnSqliteUri) {
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  const bool opened = LedgerStore::Open("file:ledger.sqlite?mode=memory", true).ok();
  std::filesystem::current_path(before);
  EXPECT_TRUE(opened);
  EXPECT_TRUE(std::filesystem::is_regular_file(Path("file:ledger.sqlite?mode=memory")));
}

// A loopback port with a socket bound to it: not listening, a connection
// there is refused at once; listening, the kernel accepts the connection
// and nobody ever answers it (a hung server).
class LoopbackPort {
 public:
  explicit LoopbackPort(bool listening) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    if (listening) {
      EXPECT_EQ(::listen(fd_, 4), 0);
    }
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackPort() { ::close(fd_); }
  std::string port() const { return std::to_string(port_); }

 private:
  int fd_;
  int port_ = 0;
};

TEST(PostgresLedgerLocationTest, ARefusedConnectionNamesTheUrlWithoutThePassword) {
  const LoopbackPort refusing(/*listening=*/false);
  const std::string port = refusing.port();
  const std::string url = "postgresql://auditor:s3cret-Pw@127.0.0.1:" + port + "/ledger";
  auto store = LedgerStore::Open(url, false);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("postgresql://auditor:***@127.0.0.1:" + port + "/ledger: cannot connect"));
  EXPECT_THAT(store.status().message(), HasSubstr("Connection refused"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("s3cret")));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("\n")));

  auto in_query = LedgerStore::Open("postgres://127.0.0.1:" + port + "/l?user=a&password=s3cret-Pw", false);
  EXPECT_THAT(in_query.status().message(), HasSubstr("postgres://127.0.0.1:" + port + "/l?user=a&password=***"));
  EXPECT_THAT(in_query.status().message(), Not(HasSubstr("s3cret")));
}

TEST(PostgresLedgerLocationTest, AServerThatNeverAnswersTimesOut) {
  // The URL's connect_timeout wins over the default (10 s), to keep the
  // test short; the point is that the open returns.
  const LoopbackPort hung(/*listening=*/true);
  auto store = LedgerStore::Open("postgresql://u:pw@127.0.0.1:" + hung.port() + "/l?connect_timeout=1", true);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("cannot connect"));
  EXPECT_THAT(store.status().message(), HasSubstr("timeout"));
}

TEST(PostgresLedgerLocationTest, AMalformedUrlIsAnInvalidArgumentWithoutThePassword) {
  // libpq quotes a URL it cannot parse whole.
  auto store = LedgerStore::Open("postgresql://auditor:s3cret-Pw@[::1/ledger", false);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("not a valid PostgreSQL URL"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("s3cret")));
}

TEST(PostgresLedgerLocationTest, PasswordsAreRedactedWhereverTheUrlHoldsThem) {
  EXPECT_EQ(redact_postgres_url("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(redact_postgres_url("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(redact_postgres_url("postgresql://h/db?sslmode=require&password=pw&user=u"),
            "postgresql://h/db?sslmode=require&password=***&user=u");
  EXPECT_EQ(redact_postgres_url("postgresql://u:p@ss@h/db"), "postgresql://u:***@h/db");  // a raw "@"
  EXPECT_EQ(redact_postgres_url("postgresql://u:p%40ss@h/db?password=x"), "postgresql://u:***@h/db?password=***");
  EXPECT_EQ(redact_postgres_url("postgresql://h/db@x"), "postgresql://h/db@x");  // "@" in the path is not a user part
  EXPECT_EQ(redact_postgres_url("postgresql:///db?host=/run/pg"), "postgresql:///db?host=/run/pg");
}

// PostgreSQL only, against the server: who may connect and with what.
class PostgresServerTest : public ::testing::TestWithParam<std::string> {};
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PostgresServerTest);
INSTANTIATE_TEST_SUITE_P(Server, PostgresServerTest,
                         ::testing::ValuesIn(postgres_server_url().empty() ? std::vector<std::string>{}
                                                                           : std::vector<std::string>{"postgresql"}),
                         [](const auto& p) { return p.param; });

TEST_P(PostgresServerTest, AWrongPasswordIsRefusedWithoutPrintingIt) {
  const std::string url = with_user(postgres_server_url(), "flopsmeter_test", "Wrong-Pw-42");
  auto store = LedgerStore::Open(url, true);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("postgresql://flopsmeter_test:***@127.0.0.1:"));
  EXPECT_THAT(store.status().message(), HasSubstr("password authentication failed"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("Wrong-Pw-42")));
}

TEST_P(PostgresServerTest, AMissingDatabaseIsAnError) {
  const std::string url = postgres_server_url();
  const std::string missing = url.substr(0, url.rfind('/')) + "/no_such_database";
  auto store = LedgerStore::Open(missing, true);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_THAT(store.status().message(), HasSubstr("database \"no_such_database\" does not exist"));
}

// The grants docs/ledger.md gives a ledger's writer are enough to append
// and read, and no more: entries cannot be changed or removed; a reader's
// let it read only.
TEST_P(PostgresServerTest, TheDocumentedGrantsLetAWriterAppendButNotRewrite) {
  const std::string admin = postgres_server_url();
  const std::string role = "ledger_writer_" + std::to_string(::getpid());
  const std::string schema = "ledger_grants_" + std::to_string(::getpid());
  ASSERT_EQ(postgres_sql(admin, "CREATE ROLE " + role + " LOGIN PASSWORD 'writer-pw'; CREATE SCHEMA " + schema), "");
  ASSERT_TRUE(LedgerStore::Open(with_parameter(admin, "options", "-csearch_path%3D" + schema), true).ok());
  ASSERT_EQ(postgres_sql(admin, "SET search_path = " + schema + ";" +
                                    "GRANT USAGE ON SCHEMA " + schema + " TO " + role + ";" +
                                    "GRANT SELECT, INSERT ON ledger_entries, ledger_heads, ledger_keys TO " + role +
                                    ";" + "GRANT SELECT, INSERT, UPDATE ON ledger_meta TO " + role + ";" +
                                    "GRANT SELECT, UPDATE ON ledger_state TO " + role),
            "");
  const std::string writer_url =
      with_parameter(with_user(admin, role, "writer-pw"), "options", "-csearch_path%3D" + schema);
  {
    auto store = LedgerStore::Open(writer_url, false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(append(**store, 3, test_entry).ok());
    auto writer = (*store)->begin_write().value();
    EXPECT_TRUE(writer->put_meta("ledger_id", "x").ok());
    EXPECT_TRUE(writer->insert_key({"k", std::string(32, 'k'), 1}).ok());
    EXPECT_TRUE(writer->commit().ok());
    EXPECT_EQ((*store)->entries(0, 10)->size(), 3u);
  }
  EXPECT_THAT(postgres_sql(writer_url, "UPDATE ledger_entries SET entry = 'x'"), HasSubstr("permission denied"));
  EXPECT_THAT(postgres_sql(writer_url, "DELETE FROM ledger_heads"), HasSubstr("permission denied"));

  // A reader's grants: it opens and reads the ledger, and cannot write.
  const std::string reader = "ledger_reader_" + std::to_string(::getpid());
  ASSERT_EQ(postgres_sql(admin, "CREATE ROLE " + reader + " LOGIN PASSWORD 'reader-pw';" + "GRANT USAGE ON SCHEMA " +
                                    schema + " TO " + reader + ";" + "GRANT SELECT ON ALL TABLES IN SCHEMA " + schema +
                                    " TO " + reader),
            "");
  {
    auto store =
        LedgerStore::Open(with_parameter(with_user(admin, reader, "reader-pw"), "options", "-csearch_path%3D" + schema),
                          false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*store)->entries(0, 10)->size(), 3u);
    const Result<std::unique_ptr<LedgerStore::Writer>> writer = (*store)->begin_write();
    EXPECT_EQ(writer.status().code(), StatusCode::kIoError);
    EXPECT_THAT(writer.status().message(), HasSubstr("permission denied for table ledger_state"));
  }
  EXPECT_EQ(postgres_sql(admin, "DROP SCHEMA " + schema + " CASCADE; DROP ROLE " + role + "; DROP ROLE " + reader), "");
}

}  // namespace
}  // namespace flopsmeter
