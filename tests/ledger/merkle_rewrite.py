"""What someone who can write the ledger's database does to hide an edit:
recompute what the database stores beside the entries.

Reads the ledger from stdin, one row a line, as tamper_contract.sh's queries
print it:

  E|INDEX|HEX     an entry (HEX: its UTF-8 text in hex)
  H|SIZE|TIME     a signed head (forge only)
  M|LEDGER_ID     the ledger's id (forge only)

and prints the SQL (for sqlite3 or psql) that makes the stored hashes agree
with the entries' texts:

  leaves   every entry's leaf_hash = SHA-256(0x00 || text) (RFC 6962)
  all      that, every head's root = the RFC 6962 root of the tree of its
           size, and the stored tree state (size, compact range) = the tree
           of every entry; the signatures are left as they are: this is
           someone without the signing key
  forge    everything rewritten under a key of the forger's own (KEY, an
           Ed25519 PEM file, signs with `openssl pkeyutl`): every entry's
           key_id, the key entry (0) and ledger_keys replaced by that key,
           every leaf, root and head re-signed; a ledger that verifies by
           itself, which only a head kept earlier or a trusted key exposes

    python3 merkle_rewrite.py sqlite|postgresql leaves|all < rows > fix.sql
    python3 merkle_rewrite.py sqlite|postgresql forge KEY.pem < rows > fix.sql

The hashing and the canonical JSON (RFC 8785 for these documents: sorted
keys, no spaces, integers) are written here from the RFCs, not taken from
flopsmeter, so that the test does not trust the code it tests.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves):
    """MTH(D[n]) of RFC 6962 2.1."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def compact_range(leaves):
    """The perfect subtrees of the tree, largest (leftmost) first: one per set
    bit of its size, as the store keeps them in ledger_state.subtrees."""
    out, start, n = [], 0, len(leaves)
    bit = 1 << max(n.bit_length() - 1, 0)
    while bit:
        if n & bit:
            out.append(root(leaves[start:start + bit]))
            start += bit
        bit >>= 1
    return out


def canonical(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def literal(dialect, data):
    return f"X'{data.hex()}'" if dialect == "sqlite" else f"'\\x{data.hex()}'::bytea"


def text_literal(text):
    return "'" + text.replace("'", "''") + "'"


def read_rows():
    entries, heads, ledger_id = [], [], None
    for line in sys.stdin.read().splitlines():
        if not line.strip():
            continue
        kind, rest = line.split("|", 1)
        if kind == "E":
            index, hex_text = rest.split("|", 1)
            entries.append((int(index), bytes.fromhex(hex_text.strip())))
        elif kind == "H":
            size, time = rest.split("|", 1)
            heads.append((int(size), time.strip()))
        elif kind == "M":
            ledger_id = rest.strip()
        else:
            sys.exit(f"merkle_rewrite: unknown row {line[:40]!r}")
    entries.sort()
    if [index for index, _ in entries] != list(range(len(entries))):
        sys.exit("merkle_rewrite: the entries are not numbered 0, 1, 2, ...")
    return [text for _, text in entries], heads, ledger_id


class ForgedKey:
    """An Ed25519 key of the forger's, used through the openssl command."""

    def __init__(self, pem):
        self.pem = pem
        der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.public_key = der[-32:]
        self.key_id = "ed25519:" + hashlib.sha256(self.public_key).hexdigest()[:32]

    def sign(self, message):
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "message")
            with open(path, "wb") as f:
                f.write(message)
            return subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", self.pem, "-rawin", "-in", path],
                                  check=True, capture_output=True).stdout


def forge(dialect, texts, heads, ledger_id, key, sql):
    """Every entry re-attributed to `key` and every head re-signed by it."""
    if ledger_id is None or not heads:
        sys.exit("merkle_rewrite: forge needs the heads (H rows) and the ledger id (M row)")
    rewritten = []
    for index, text in enumerate(texts):
        entry = json.loads(text)
        entry["key_id"] = key.key_id
        if entry["kind"] == "key":
            if index != 0:
                sys.exit("merkle_rewrite: forge expects one key, registered by entry 0")
            entry["subject"] = key.key_id
            entry["body"]["public_key"] = key.public_key.hex()
        rewritten.append(canonical(entry))
        sql.append(f"UPDATE ledger_entries SET entry = {text_literal(rewritten[-1].decode('utf-8'))}, "
                   f"subject = {text_literal(entry['subject'])} WHERE entry_index = {index};")
    sql.append("DELETE FROM ledger_keys;")
    sql.append(f"INSERT INTO ledger_keys (key_id, public_key, entry_index) VALUES ({text_literal(key.key_id)}, "
               f"{literal(dialect, key.public_key)}, 0);")
    leaves = [leaf_hash(text) for text in rewritten]
    for size, time in heads:
        head_root = root(leaves[:size])
        message = canonical({"schema": "flopsmeter.tree_head/1", "ledger_id": ledger_id, "size": size,
                             "root": head_root.hex(), "time": time, "key_id": key.key_id})
        sql.append(f"UPDATE ledger_heads SET root = {literal(dialect, head_root)}, "
                   f"key_id = {text_literal(key.key_id)}, signature = {literal(dialect, key.sign(message))} "
                   f"WHERE tree_size = {size};")
    return leaves


def main():
    args = sys.argv[1:]
    if not (len(args) == 2 and args[1] in ("leaves", "all") or len(args) == 3 and args[1] == "forge") or \
            args[0] not in ("sqlite", "postgresql"):
        sys.exit(__doc__)
    dialect, mode = args[:2]
    texts, heads, ledger_id = read_rows()
    sql = ["BEGIN;"]
    if mode == "forge":
        leaves = forge(dialect, texts, heads, ledger_id, ForgedKey(args[2]), sql)
    else:
        leaves = [leaf_hash(text) for text in texts]
    for index, leaf in enumerate(leaves):
        sql.append(f"UPDATE ledger_entries SET leaf_hash = {literal(dialect, leaf)} WHERE entry_index = {index};")
    if mode == "all":
        for size in range(1, len(leaves) + 1):
            sql.append(f"UPDATE ledger_heads SET root = {literal(dialect, root(leaves[:size]))} "
                       f"WHERE tree_size = {size};")
    if mode in ("all", "forge"):
        subtrees = b"".join(compact_range(leaves))
        sql.append(f"UPDATE ledger_state SET tree_size = {len(leaves)}, subtrees = {literal(dialect, subtrees)} "
                   f"WHERE id = 0;")
    sql.append("COMMIT;")
    print("\n".join(sql))


if __name__ == "__main__":
    main()
