// Where the audit ledger's rows live: an embedded SQLite file (the default,
// WAL mode, no set-up) or a shared PostgreSQL database, behind one
// interface with one schema, so that every ledger behaviour and test is the
// same on both. The store keeps rows; what they mean (canonical entries, the
// Merkle tree, signed heads, lineage) is the ledger's (src/api/ledger*.cc),
// and `ledger verify` trusts nothing the store says about hashes.
//
//   auto store = LedgerStore::Open("ledger.sqlite", /*create=*/true);
//   auto writer = (*store)->begin_write();            // exclusive among all writers
//   TreeState s = *(*writer)->state();
//   (*writer)->insert_entry({s.size, text, leaf, "run", run_id});
//   ... (*writer)->set_state(next); (*writer)->insert_head(head); (*writer)->commit();
//
// Thread safety: one LedgerStore per thread. Any number of processes and
// connections may write one ledger: begin_write() serialises them (SQLite:
// BEGIN IMMEDIATE with a busy timeout; PostgreSQL: a row lock on the state
// row), so indices are dense and never given twice.
#ifndef FLOPSMETER_ADAPTERS_LEDGER_STORE_H_
#define FLOPSMETER_ADAPTERS_LEDGER_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/merkle.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// The schema version the stores create and accept ("ledger_meta" row
// "schema"); another value is refused by name.
inline constexpr const char* kLedgerStoreSchema = "flopsmeter.ledger_store/1";

// One leaf of the tree: entry `index` (0-based, dense), its canonical JSON
// text, and the leaf hash stored beside it (verify recomputes it).
struct StoredEntry {
  uint64_t index = 0;
  std::string entry;  // canonical JSON text, UTF-8
  merkle::Hash leaf_hash{};
  std::string kind;     // the entry's kind ("model", "run", "estimate", "annotation", "key", "export"), indexed
  std::string subject;  // what it is about, indexed: a model name, a run id; "" when nothing
};

// A signed tree head: the tree of the first `size` entries has `root`, said
// at `time` by the key `key_id` with `signature` (raw Ed25519 bytes, 64).
struct StoredHead {
  uint64_t size = 0;
  merkle::Hash root{};
  std::string time;  // ISO 8601 UTC
  std::string key_id;
  std::string signature;  // raw bytes
};

// A public key registered in the ledger (by a "key" entry at entry_index).
struct StoredKey {
  std::string key_id;
  std::string public_key;  // raw Ed25519 public key bytes, 32
  uint64_t entry_index = 0;
};

// What an append continues from: the tree's size and its right edge
// (merkle::CompactRange's subtrees), kept so that an append never rereads
// the tree.
struct TreeState {
  uint64_t size = 0;
  std::vector<merkle::Hash> subtrees;
};

class LedgerStore {
 public:
  // Opens the ledger at `location`: a postgresql:// (or postgres://) URL, or
  // else a file path (SQLite; its directory is created when `create`). With
  // `create` an empty location gets the schema; without it, a missing
  // ledger is kNotFound. Errors name the location (never a password in a
  // URL): kParseError for a file that is not a SQLite database or a database
  // without this schema ("not a flopsmeter ledger"), kUnsupported for
  // another schema version, kIoError for a server or file that cannot be
  // reached, kInvalidArgument for a path that is not a regular file (a
  // symbolic link, FIFO, device or directory; SQLite's -wal, -shm and
  // -journal files beside it too) and for a URL libpq cannot parse. Text
  // written must be UTF-8 without NUL (kInvalidArgument), as PostgreSQL
  // requires; indices and sizes at most 2^63 - 1 (kOverflow).
  static Result<std::unique_ptr<LedgerStore>> Open(const std::string& location, bool create);
  // An empty ledger store in memory, named `shown_as` in messages: an append
  // to a ledger not created yet is tried there first, so that one that is
  // refused creates nothing. Its rows go when it is destroyed.
  static Result<std::unique_ptr<LedgerStore>> OpenScratch(const std::string& shown_as);
  virtual ~LedgerStore() = default;

  virtual const char* backend() const = 0;  // "sqlite" | "postgresql"
  // The location with any password replaced by "***", for messages.
  virtual std::string display_location() const = 0;

  // A value of the ledger's metadata table (e.g. "ledger_id"), or nullopt.
  virtual Result<std::optional<std::string>> meta(const std::string& key) = 0;

  // An exclusive write transaction. Nothing it writes is visible to readers
  // before commit(); destroyed without commit() (or the process killed) it
  // leaves the ledger as it was. Waits for other writers (up to a minute,
  // then kIoError naming the ledger as busy). One at a time per store (a
  // second is kInternal), and it must not outlive its store. The store's
  // own reads run in its transaction: while it is open they see its rows.
  // After a failed operation it writes nothing more and commit() fails.
  class Writer {
   public:
    virtual ~Writer() = default;
    virtual Result<TreeState> state() = 0;
    virtual Status put_meta(const std::string& key, const std::string& value) = 0;
    // REQUIRES: e.index is the state's size plus the entries inserted so far.
    virtual Status insert_entry(const StoredEntry& e) = 0;
    virtual Status insert_key(const StoredKey& k) = 0;
    virtual Status insert_head(const StoredHead& h) = 0;
    virtual Status set_state(const TreeState& s) = 0;
    virtual Status commit() = 0;
  };
  virtual Result<std::unique_ptr<Writer>> begin_write() = 0;

  // Reads; each sees committed rows only.
  virtual Result<uint64_t> entry_count() = 0;
  // Entries with index in [from, from + count), by index; fewer at the end.
  virtual Result<std::vector<StoredEntry>> entries(uint64_t from, uint64_t count) = 0;
  // The same into `out`, replacing its contents but reusing its elements'
  // memory: a scan that passes one vector for every chunk allocates nothing
  // once the first chunk is read (about 3x faster over 1M entries than
  // fresh vectors, whose memory the allocator returns and faults in again).
  // On error `out` holds some of the entries.
  virtual Status entries_into(uint64_t from, uint64_t count, std::vector<StoredEntry>& out) = 0;
  // Entries of `kind` about `subject`, by index.
  virtual Result<std::vector<StoredEntry>> entries_about(const std::string& kind, const std::string& subject) = 0;
  virtual Result<std::vector<StoredEntry>> entries_of_kind(const std::string& kind) = 0;
  virtual Result<std::vector<StoredHead>> heads() = 0;  // by size
  virtual Result<std::optional<StoredHead>> latest_head() = 0;
  virtual Result<std::vector<StoredKey>> keys() = 0;
  virtual Result<TreeState> state() = 0;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_LEDGER_STORE_H_
