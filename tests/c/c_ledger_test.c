/* The audit ledger through the C ABI (fm_ledger_*, fm_verify_inclusion_proof),
 * as a C11 program sees it: a SQLite ledger in a scratch directory, a key
 * made for it, a base and runs metered by the same ABI, the figures read
 * back as JSON, an inclusion proof checked with the database gone, and the
 * refusals, each with its code and message. Nothing may leak: the sanitizer
 * build runs this under ASan.
 *
 * Each spec_* function states one part of the contract in its name. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, unsetenv: POSIX, not ISO C */

#include "c_test_support.h"

#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

/* printf into a malloc'd string, freed by the caller. */
static char* format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const int n = vsnprintf(NULL, 0, fmt, args);
  va_end(args);
  REQUIRE(n >= 0);
  char* out = malloc((size_t)n + 1);
  REQUIRE(out != NULL);
  va_start(args, fmt);
  REQUIRE(vsnprintf(out, (size_t)n + 1, fmt, args) == n);
  va_end(args);
  return out;
}

/* `text` as a JSON string literal (quotes included), for a record inside a
 * request. */
static char* json_quoted(const char* text) {
  char* out = malloc(strlen(text) * 6 + 3); /* \u00XX at most per byte */
  REQUIRE(out != NULL);
  char* o = out;
  *o++ = '"';
  for (const unsigned char* c = (const unsigned char*)text; *c != '\0'; ++c) {
    if (*c == '"' || *c == '\\') {
      *o++ = '\\';
      *o++ = (char)*c;
    } else if (*c < 0x20) {
      o += sprintf(o, "\\u%04x", *c);
    } else {
      *o++ = (char)*c;
    }
  }
  *o++ = '"';
  *o = '\0';
  return out;
}

/* Where `"key":` next occurs in `doc` after `anchor` (NULL: from the start),
 * past the colon and any spaces: the value's first character. */
static const char* member_value(const char* doc, const char* anchor, const char* key) {
  const char* from = doc;
  if (anchor != NULL) {
    from = strstr(doc, anchor);
    REQUIRE(from != NULL);
  }
  char* quoted = format("\"%s\":", key);
  const char* at = strstr(from, quoted);
  if (at == NULL) fprintf(stderr, "no member %s after %s in:\n%s\n", quoted, anchor ? anchor : "the start", doc);
  REQUIRE(at != NULL);
  at += strlen(quoted);
  free(quoted);
  while (*at == ' ') ++at;
  return at;
}

/* The string value of `key` (no escapes in it: hex digits, decimal figures,
 * names), malloc'd. */
static char* string_member(const char* doc, const char* anchor, const char* key) {
  const char* value = member_value(doc, anchor, key);
  REQUIRE(*value == '"');
  const char* end = strchr(value + 1, '"');
  REQUIRE(end != NULL);
  return format("%.*s", (int)(end - value - 1), value + 1);
}

static uint64_t number_member(const char* doc, const char* anchor, const char* key) {
  const char* value = member_value(doc, anchor, key);
  REQUIRE(*value >= '0' && *value <= '9');
  return strtoull(value, NULL, 10);
}

/* a + b of two non-negative decimal strings (FLOP figures pass 2^64), malloc'd. */
static char* decimal_sum(const char* a, const char* b) {
  const size_t la = strlen(a), lb = strlen(b), n = (la > lb ? la : lb) + 1;
  char* out = malloc(n + 1);
  REQUIRE(out != NULL);
  out[n] = '\0';
  int carry = 0;
  for (size_t i = 0; i < n; ++i) {
    const int da = i < la ? a[la - 1 - i] - '0' : 0, db = i < lb ? b[lb - 1 - i] - '0' : 0;
    REQUIRE(da >= 0 && da <= 9 && db >= 0 && db <= 9);
    const int d = da + db + carry;
    out[n - 1 - i] = (char)('0' + d % 10);
    carry = d / 10;
  }
  if (out[0] == '0' && n > 1) memmove(out, out + 1, n); /* no leading zero */
  return out;
}

/* One ledger call that must succeed; its answer, freed by the caller. */
static char* call_ok_at(const char* file, int line, fm_ledger* l, const char* request) {
  char* response = NULL;
  char* error = NULL;
  require_ok_at(file, line, request, fm_ledger_call(l, request, &response, &error), &error);
  REQUIRE(response != NULL);
  return response;
}
#define CALL_OK(ledger, request) call_ok_at(__FILE__, __LINE__, (ledger), (request))

static uint64_t tree_size(fm_ledger* l) {
  char* head = CALL_OK(l, "{\"call\": \"head\"}");
  const uint64_t size = number_member(head, NULL, "size");
  fm_free(head);
  return size;
}

/* A run metered through the C ABI in `run_dir`: `tokens` tokens of a model
 * of 10^6 parameters, all trained; `extra` more options (or ""). Returns the
 * record; *run_id receives the run's id (malloc'd). */
static char* metered_run(const char* run_dir, uint64_t tokens, const char* extra, char** run_id) {
  char* options = format("{\"run\": \"%s\", \"model-name\": \"tiny\", \"n-total\": 1000000, "
                         "\"n-trainable\": 1000000, \"journal-interval\": 3600%s%s}",
                         run_dir, *extra != '\0' ? ", " : "", extra);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_meter_begin(options, &meter, &error), error);
  free(options);
  fm_meter_add(meter, tokens, tokens, 1);
  REQUIRE_OK(fm_meter_step(meter, 1, NULL, &error), error);
  char* record = NULL;
  REQUIRE_OK(fm_meter_end(meter, "{\"status\": \"completed\", \"global_step\": 1}", &record, &error), error);
  *run_id = format("%s", fm_meter_run_id(meter));
  fm_meter_free(meter);
  return record;
}

/* A scratch ledger: its directory, file, key file and open options. */
typedef struct {
  char root[64];
  char* path;
  char* key;
  char* options;
} scratch_ledger;

static void scratch_ledger_open(scratch_ledger* s) {
  temp_dir_open(s->root, "c_ledger");
  s->path = format("%s/ledger.sqlite", s->root);
  s->key = format("%s/keys/ci.key", s->root); /* its directory is made with it */
  s->options = format("{\"ledger\": \"%s\", \"ledger-key\": \"%s\", \"organisation\": \"Acme\"}", s->path, s->key);
}

static void scratch_ledger_close(scratch_ledger* s) {
  temp_dir_close(s->root);
  free(s->path);
  free(s->key);
  free(s->options);
}

static const char kBaseFlop[] = "300000000000000000000000"; /* 3e23: past 2^64 */

/* ---- specs --------------------------------------------------------------- */

/* keygen makes the key the options name, registers it, and never writes
 * over it; before it, appending says which key file is missing and how to
 * make it. */
static void spec_a_named_key_is_made_by_keygen_and_never_overwritten(void) {
  scratch_ledger s;
  scratch_ledger_open(&s);
  fm_ledger* l = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_ledger_open(s.options, 1, &l, &error), error);

  char* response = (char*)"stale"; /* a refused call clears it */
  REQUIRE(fm_ledger_call(l, "{\"call\": \"register_key\"}", &response, &error) == FM_NOT_FOUND);
  REQUIRE(response == NULL);
  REQUIRE(strstr(error, s.key) != NULL && strstr(error, "ledger keygen") != NULL);
  fm_free(error);
  error = NULL;
  /* Nothing written: not even a head. */
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"head\"}", &response, &error), FM_NOT_FOUND, error, s.path);

  response = CALL_OK(l, "{\"call\": \"keygen\"}");
  REQUIRE(strstr(response, "\"what\": \"the public key ed25519:") != NULL);
  REQUIRE(strstr(response, s.key) != NULL); /* the note says where the secret key is */
  REQUIRE(number_member(response, NULL, "entry") == 0);
  char* key_id = string_member(response, "\"head\"", "key_id");
  fm_free(response);
  struct stat st;
  REQUIRE(stat(s.key, &st) == 0 && (st.st_mode & 0777) == 0600);

  char* before = read_text(s.key);
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"keygen\"}", NULL, &error), FM_INVALID_ARGUMENT, error, s.key);
  char* after = read_text(s.key);
  REQUIRE(strcmp(before, after) == 0);
  free(before);
  free(after);

  /* The key registered is the one that signs: registering again changes nothing. */
  response = CALL_OK(l, "{\"call\": \"register_key\"}");
  REQUIRE(strstr(response, "\"no_change\": true") != NULL);
  char* signer = string_member(response, "\"head\"", "key_id");
  REQUIRE(strcmp(signer, key_id) == 0);
  fm_free(response);
  free(signer);
  free(key_id);
  fm_ledger_free(l);
  scratch_ledger_close(&s);
}

/* base -> acme/sft (a run added by hand) -> acme/dpo (a run the meter
 * appends itself at end): the cumulative compute is the base's plus both
 * runs' figures, exactly; the organisation's own modifications are the two
 * runs; the same record again is no change; verify passes; an inclusion
 * proof holds with no database and a flipped byte breaks it. */
static void spec_a_lineage_is_summed_exactly_verified_and_proved(void) {
  scratch_ledger s;
  scratch_ledger_open(&s);
  fm_ledger* l = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_ledger_open(s.options, 1, &l, &error), error);
  fm_free(CALL_OK(l, "{\"call\": \"keygen\"}"));
  char* request = format("{\"call\": \"add_model\", \"model\": {\"name\": \"base/b\", \"organisation\": \"Base\", "
                         "\"pretraining\": {\"flop\": \"%s\", \"source\": \"its paper\", \"status\": \"published\"}}}",
                         kBaseFlop);
  fm_free(CALL_OK(l, request));
  free(request);

  /* The SFT run, added by hand with its run directory (its journals are checked). */
  char* sft_dir = format("%s/sft", s.root);
  char* sft_id = NULL;
  char* sft_record = metered_run(sft_dir, 3000, "", &sft_id);
  char* quoted = json_quoted(sft_record);
  char* add_sft = format("{\"call\": \"add_run\", \"record\": %s, \"produces\": \"acme/sft\", \"parent\": \"base/b\", "
                         "\"run_dir\": \"%s\"}",
                         quoted, sft_dir);
  free(quoted);
  char* response = CALL_OK(l, add_sft);
  REQUIRE(strstr(response, "\"no_change\": false") != NULL);
  const uint64_t sft_entry = number_member(response, NULL, "entry");
  fm_free(response);
  const uint64_t size_after_sft = tree_size(l);
  /* The same record again: no change, the same entry, nothing appended. */
  response = CALL_OK(l, add_sft);
  REQUIRE(strstr(response, "\"no_change\": true") != NULL);
  REQUIRE(number_member(response, NULL, "entry") == sft_entry);
  fm_free(response);
  REQUIRE(tree_size(l) == size_after_sft);
  free(add_sft);

  /* The DPO run on acme/sft, recorded by the meter at end. */
  char* dpo_dir = format("%s/dpo", s.root);
  char* dpo_options = format("\"ledger\": \"%s\", \"ledger-key\": \"%s\", \"organisation\": \"Acme\", "
                             "\"ledger-model\": \"acme/sft\", \"ledger-produces\": \"acme/dpo\"",
                             s.path, s.key);
  char* dpo_id = NULL;
  char* dpo_record = metered_run(dpo_dir, 5000, dpo_options, &dpo_id);
  REQUIRE(strstr(dpo_record, "could not be appended") == NULL);
  /* It began from the ledger's basis: the SFT run is its earlier modification. */
  REQUIRE(strstr(dpo_record, "the organisation's own modifications since") != NULL);

  char* sft_flop = string_member(sft_record, "\"compliance\"", "exact");
  char* dpo_flop = string_member(dpo_record, "\"compliance\"", "exact");
  REQUIRE(strcmp(sft_flop, dpo_flop) != 0); /* different runs: a swap would show */
  char* own = decimal_sum(sft_flop, dpo_flop);
  char* cumulative = decimal_sum(kBaseFlop, own);

  char* lineage = CALL_OK(l, "{\"call\": \"lineage\", \"model\": \"acme/dpo\"}");
  REQUIRE(strstr(lineage, "\"schema\": \"flopsmeter.ledger_lineage/1\"") != NULL);
  char* said = string_member(lineage, NULL, "flop"); /* the top-level cumulative_compute's, first in key order */
  REQUIRE(strcmp(said, cumulative) == 0);
  free(said);
  said = string_member(lineage, "\"own_compute\"", "flop"); /* modification.own_compute */
  REQUIRE(strcmp(said, own) == 0);
  free(said);
  const char* originals = member_value(lineage, NULL, "originals"); /* where the organisation's line starts */
  const char* base = strstr(originals, "\"base/b\"");
  REQUIRE(base != NULL && base < strchr(originals, ']'));
  fm_free(lineage);

  /* What a further run on acme/dpo by Acme starts from: the base, and both runs as its own modifications. */
  char* basis = CALL_OK(l, "{\"call\": \"basis\", \"model\": \"acme/dpo\"}");
  said = string_member(basis, NULL, "original_flop");
  REQUIRE(strcmp(said, kBaseFlop) == 0);
  free(said);
  said = string_member(basis, NULL, "own_modifications_flop");
  REQUIRE(strcmp(said, own) == 0);
  free(said);
  fm_free(basis);

  char* models = CALL_OK(l, "{\"call\": \"models\"}");
  for (const char* const* name = (const char* const[]){"base/b", "acme/sft", "acme/dpo", NULL}; *name; ++name) {
    char* member = format("\"name\": \"%s\"", *name);
    REQUIRE(strstr(models, member) != NULL);
    free(member);
  }
  fm_free(models);
  char* runs = CALL_OK(l, "{\"call\": \"runs\"}");
  REQUIRE(strstr(runs, sft_id) != NULL && strstr(runs, dpo_id) != NULL);
  fm_free(runs);
  runs = CALL_OK(l, "{\"call\": \"runs\", \"model\": \"acme/sft\"}");
  REQUIRE(strstr(runs, sft_id) != NULL && strstr(runs, dpo_id) == NULL);
  fm_free(runs);

  char* verified = CALL_OK(l, "{\"call\": \"verify\"}");
  REQUIRE(strstr(verified, "\"ok\": true") != NULL);
  REQUIRE(number_member(verified, NULL, "entries") == tree_size(l));
  fm_free(verified);

  request = format("{\"call\": \"prove\", \"entry\": %llu}", (unsigned long long)sft_entry);
  char* proof = CALL_OK(l, request);
  free(request);
  char* key_id = string_member(proof, "\"head\"", "key_id");
  fm_ledger_free(l);
  /* No database: the proof stands alone. */
  char* files[] = {s.path, format("%s-wal", s.path), format("%s-shm", s.path)};
  for (size_t i = 0; i < 3; ++i) REQUIRE(unlink(files[i]) == 0 || !file_exists(files[i]));
  free(files[1]);
  free(files[2]);

  char* message = NULL;
  REQUIRE_OK(fm_verify_inclusion_proof(proof, NULL, &message, &error), error);
  char* expected = format("entry %llu is in ledger", (unsigned long long)sft_entry);
  REQUIRE(strncmp(message, expected, strlen(expected)) == 0);
  free(expected);
  fm_free(message);
  REQUIRE_OK(fm_verify_inclusion_proof(proof, key_id, &message, &error), error); /* pinned to the signer */
  fm_free(message);
  message = (char*)"stale";
  REQUIRE_FAILS(fm_verify_inclusion_proof(proof, "ed25519:00000000000000000000000000000000", &message, &error),
                FM_INVALID_ARGUMENT, error, "inclusion proof: the head is signed by");
  REQUIRE(message == NULL);

  /* One byte flipped in the entry, in the leaf hash the proof states, in the
   * audit path, in the signature: each refused. */
  const char* targets[][3] = {
      {"\"entry\"", "\\\"subject\\\":\\\"", "inclusion proof: the entry is not in the tree the head signs"},
      {"\"leaf_hash\"", "\"", "inclusion proof: its leaf_hash is not the hash of its entry"},
      {"\"path\"", "\"", "inclusion proof: the entry is not in the tree the head signs"},
      {"\"signature\"", "\"", "inclusion proof: the head's signature does not verify"}};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; ++i) {
    char* flipped = format("%s", proof);
    char* at = strstr(strstr(flipped, targets[i][0]) + strlen(targets[i][0]), targets[i][1]);
    REQUIRE(at != NULL);
    at += strlen(targets[i][1]);
    *at = *at == 'a' ? 'b' : 'a'; /* a hex digit either way: still valid JSON */
    REQUIRE_FAILS(fm_verify_inclusion_proof(flipped, NULL, &message, &error), FM_INVALID_ARGUMENT, error,
                  targets[i][2]);
    REQUIRE(message == NULL);
    free(flipped);
  }

  free(key_id);
  fm_free(proof);
  free(cumulative);
  free(own);
  free(sft_flop);
  free(dpo_flop);
  fm_free(sft_record);
  fm_free(dpo_record);
  free(sft_id);
  free(dpo_id);
  free(sft_dir);
  free(dpo_dir);
  free(dpo_options);
  scratch_ledger_close(&s);
}

/* The meter's own append never fails the run: a key file that is missing
 * becomes a warning in the record, and the ledger holds no run. */
static void spec_a_meter_whose_key_is_missing_still_ends_with_a_warning(void) {
  scratch_ledger s;
  scratch_ledger_open(&s);
  fm_ledger* l = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_ledger_open(s.options, 1, &l, &error), error);
  fm_free(CALL_OK(l, "{\"call\": \"keygen\"}"));
  fm_free(CALL_OK(l, "{\"call\": \"add_model\", \"model\": {\"name\": \"base/u\", \"organisation\": \"Base\", "
                    "\"pretraining\": {\"status\": \"unknown\"}}}"));
  const uint64_t size = tree_size(l);

  char* run_dir = format("%s/run", s.root);
  char* extra = format("\"ledger\": \"%s\", \"ledger-key\": \"%s/nowhere.key\", \"organisation\": \"Acme\", "
                       "\"ledger-model\": \"base/u\"",
                       s.path, s.root);
  char* run_id = NULL;
  char* record = metered_run(run_dir, 100, extra, &run_id);
  char* warning = format("the record could not be appended to the ledger: the ledger's signing key (make one with "
                         "`ledger keygen`, or give its path): %s/nowhere.key",
                         s.root);
  REQUIRE(strstr(record, warning) != NULL);
  REQUIRE(tree_size(l) == size);
  char* runs = CALL_OK(l, "{\"call\": \"runs\"}");
  REQUIRE(strstr(runs, run_id) == NULL);
  fm_free(runs);
  free(warning);
  fm_free(record);
  free(run_id);
  free(extra);
  free(run_dir);
  fm_ledger_free(l);
  scratch_ledger_close(&s);
}

/* Bad handles, requests and options: a code and a message naming what is
 * wrong, out-parameters cleared, nothing written, nothing crashes. */
static void spec_bad_calls_are_refused_with_a_message_and_write_nothing(void) {
  scratch_ledger s;
  scratch_ledger_open(&s);
  char* error = NULL;
  fm_ledger* l = (fm_ledger*)&s; /* not NULL: a refused open clears it */

  REQUIRE_FAILS(fm_ledger_open(s.options, 1, NULL, &error), FM_INVALID_ARGUMENT, error, "fm_ledger_open: out is NULL");
  REQUIRE_FAILS(fm_ledger_open("{\"ledger\": ", 1, &l, &error), FM_PARSE_ERROR, error, "ledger options");
  REQUIRE(l == NULL);
  REQUIRE_FAILS(fm_ledger_open("{\"ledgr\": \"x.sqlite\"}", 1, &l, &error), FM_INVALID_ARGUMENT, error,
                "ledger options: unknown option \"ledgr\"");
  REQUIRE_FAILS(fm_ledger_open("{\"ledger\": 7}", 1, &l, &error), FM_INVALID_ARGUMENT, error,
                "ledger options: \"ledger\": expected a string");
  /* Without create, a missing ledger is not found, and not made. */
  REQUIRE_FAILS(fm_ledger_open(s.options, 0, &l, &error), FM_NOT_FOUND, error, s.path);
  REQUIRE(l == NULL && !file_exists(s.path));

  char* response = (char*)"stale";
  REQUIRE_FAILS(fm_ledger_call(NULL, "{\"call\": \"head\"}", &response, &error), FM_INVALID_ARGUMENT, error,
                "fm_ledger_call: ledger is NULL");
  REQUIRE(response == NULL);
  fm_ledger_free(NULL);

  REQUIRE_OK(fm_ledger_open(s.options, 1, &l, &error), error);
  fm_free(CALL_OK(l, "{\"call\": \"keygen\"}"));
  fm_free(CALL_OK(l, "{\"call\": \"add_model\", \"model\": {\"name\": \"base/u\", \"organisation\": \"Base\", "
                    "\"pretraining\": {\"status\": \"unknown\"}}}"));
  const uint64_t size = tree_size(l);

  REQUIRE_FAILS(fm_ledger_call(l, NULL, &response, &error), FM_INVALID_ARGUMENT, error,
                "fm_ledger_call: request_json is NULL");
  REQUIRE_FAILS(fm_ledger_call(l, "[1]", &response, &error), FM_PARSE_ERROR, error,
                "ledger request: expected a JSON object with \"call\": NAME");
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"frobnicate\"}", &response, &error), FM_INVALID_ARGUMENT, error,
                "ledger request: unknown call 'frobnicate'");
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"models\", \"model\": \"base/u\"}", &response, &error),
                FM_INVALID_ARGUMENT, error, "ledger request 'models': unknown argument \"model\"");
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"prove\", \"entry\": -1}", &response, &error), FM_INVALID_ARGUMENT,
                error, "ledger request 'prove': \"entry\" expected an entry number");
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"prove\", \"entry\": 99}", &response, &error), FM_NOT_FOUND, error,
                "entry 99 is not under the ledger's latest signed head");
  REQUIRE(response == NULL);

  /* A misspelt member of a model is named, not dropped (the base would have
   * been recorded with its compute unknown, or not systemic-risk). */
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"add_model\", \"model\": {\"name\": \"base/c\", \"organisation\": "
                                  "\"Base\", \"pretraining\": {\"flops\": \"3e23\", \"status\": \"published\"}}}",
                               &response, &error),
                FM_INVALID_ARGUMENT, error, "ledger request 'add_model': unknown argument \"model.pretraining.flops\"");
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"add_model\", \"model\": {\"name\": \"base/c\", \"organisation\": "
                                  "\"Base\", \"systemic-risk\": true, \"pretraining\": {\"status\": \"unknown\"}}}",
                               &response, &error),
                FM_INVALID_ARGUMENT, error, "ledger request 'add_model': unknown argument \"model.systemic-risk\"");

  /* An unknown model: reading it, deriving from it, running on it. */
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"lineage\", \"model\": \"nobody/none\"}", &response, &error),
                FM_NOT_FOUND, error, "model 'nobody/none' is not in the ledger");
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"model\", \"model\": \"nobody/none\"}", &response, &error),
                FM_NOT_FOUND, error, "model 'nobody/none' is not in the ledger");
  REQUIRE_FAILS(fm_ledger_call(l, "{\"call\": \"add_model\", \"model\": {\"name\": \"acme/m\", \"parents\": "
                                  "[\"nobody/none\"]}}",
                               &response, &error),
                FM_INVALID_ARGUMENT, error, "model 'acme/m': its parent 'nobody/none' is not in the ledger");
  char* run_dir = format("%s/run", s.root);
  char* run_id = NULL;
  char* record = metered_run(run_dir, 100, "", &run_id);
  char* quoted = json_quoted(record);
  char* request = format("{\"call\": \"add_run\", \"record\": %s, \"produces\": \"acme/x\", \"parent\": "
                         "\"nobody/none\"}",
                         quoted);
  REQUIRE(fm_ledger_call(l, request, &response, &error) == FM_NOT_FOUND);
  REQUIRE(strstr(error, "'nobody/none' is not in the ledger") != NULL);
  fm_free(error);
  error = NULL;
  free(request);
  /* A record whose run went on (resumed, journaled, not reported again)
   * no longer covers its journals. */
  char* resume = format("{\"run\": \"%s\", \"model-name\": \"tiny\", \"n-total\": 1000000, \"n-trainable\": 1000000, "
                        "\"resume\": true}",
                        run_dir);
  fm_meter* meter = NULL;
  REQUIRE_OK(fm_meter_begin(resume, &meter, &error), error);
  fm_meter_add(meter, 50, 50, 1);
  REQUIRE_OK(fm_meter_flush(meter, &error), error);
  fm_meter_free(meter);
  free(resume);
  request = format("{\"call\": \"add_run\", \"record\": %s, \"produces\": \"acme/x\", \"parent\": \"base/u\", "
                   "\"run_dir\": \"%s\"}",
                   quoted, run_dir);
  REQUIRE(fm_ledger_call(l, request, &response, &error) == FM_INVALID_ARGUMENT);
  REQUIRE(strstr(error, "journal-rank0.jsonl goes on for") != NULL);
  REQUIRE(strstr(error, "report the run again") != NULL);
  fm_free(error);
  error = NULL;
  REQUIRE(tree_size(l) == size); /* every refusal wrote nothing */
  REQUIRE(fm_ledger_call(l, "{\"call\": \"frobnicate\"}", NULL, NULL) == FM_INVALID_ARGUMENT); /* error optional */

  char* message = (char*)"stale";
  REQUIRE_FAILS(fm_verify_inclusion_proof(NULL, NULL, &message, &error), FM_INVALID_ARGUMENT, error,
                "fm_verify_inclusion_proof: proof_json is NULL");
  REQUIRE(message == NULL);
  REQUIRE_FAILS(fm_verify_inclusion_proof("garbage", NULL, &message, &error), FM_PARSE_ERROR, error,
                "not an inclusion proof");
  REQUIRE_FAILS(fm_verify_inclusion_proof("{\"schema\": \"flopsmeter.inclusion_proof/1\"}", NULL, &message, &error),
                FM_PARSE_ERROR, error, "inclusion proof: index, tree_size, entry, leaf_hash and path are required");

  free(request);
  free(quoted);
  fm_free(record);
  free(run_id);
  free(run_dir);
  fm_ledger_free(l);
  scratch_ledger_close(&s);
}

int main(void) {
  clear_job_environment();
  spec_a_named_key_is_made_by_keygen_and_never_overwritten();
  spec_a_lineage_is_summed_exactly_verified_and_proved();
  spec_a_meter_whose_key_is_missing_still_ends_with_a_warning();
  spec_bad_calls_are_refused_with_a_message_and_write_nothing();
  puts("c_ledger: all specs hold");
  return EXIT_SUCCESS;
}
