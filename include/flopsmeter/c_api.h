/* flopsmeter's stable C ABI: the runtime meter for bindings (Python ctypes)
 * and other languages.
 *
 * Handles are opaque; options and results travel as JSON text whose keys are
 * the meter's option names (docs/meter.md), so the ABI does not change when
 * an option is added. Every function that can fail returns an fm_status code
 * and, when `error` is not NULL, sets *error to a message the caller frees
 * with fm_free(). Strings returned through out-parameters are malloc'd UTF-8,
 * freed with fm_free(). Nothing here throws or aborts on bad input.
 *
 *   fm_meter* m = NULL;
 *   char* err = NULL;
 *   if (fm_meter_begin("{\"run\":\"runs/a\",\"model\":\"gpt2\"}", &m, &err) != FM_OK) {
 *     fprintf(stderr, "%s\n", err); fm_free(err); return 1;
 *   }
 *   fm_meter_add(m, tokens, positions, 1);          // per micro-batch, lock-free
 *   fm_meter_add_sequences(m, 512, 8);              // executed sequences by length
 *   char* record = NULL;
 *   fm_meter_end(m, "{\"status\":\"completed\"}", &record, &err);  // writes flops_meter.json
 *   fm_free(record);
 *   fm_meter_free(m);
 *
 * Thread safety: fm_meter_add* may be called from any thread at any time
 * between begin and free; the other fm_meter_* calls must not race each
 * other on one handle. */
#ifndef FLOPSMETER_C_API_H_
#define FLOPSMETER_C_API_H_

#include <stdint.h>

#if defined(FLOPSMETER_BUILDING_C_API)
#define FM_API __attribute__((visibility("default")))
#else
#define FM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped only when a signature or a meaning changes incompatibly. */
#define FM_ABI_VERSION 1

/* Same values as flopsmeter::StatusCode. */
typedef enum fm_status {
  FM_OK = 0,
  FM_INVALID_ARGUMENT = 1,
  FM_PARSE_ERROR = 2,
  FM_NOT_FOUND = 3,
  FM_UNSUPPORTED = 4,
  FM_IO_ERROR = 5,
  FM_OVERFLOW = 6,
  FM_INTERNAL = 7,
} fm_status;

typedef struct fm_meter fm_meter;

FM_API int fm_abi_version(void);
FM_API const char* fm_version(void); /* "0.1.0"; static, do not free */
FM_API void fm_free(void* p);

/* Starts (or resumes, with "resume": true) a metered run in the directory the
 * options' "run" key names, and writes its begin line durably. */
FM_API fm_status fm_meter_begin(const char* options_json, fm_meter** out, char** error);

/* The run's id (run.json; the record's run_id). A job whose ranks keep
 * node-local run directories passes rank 0's to the others as "run-id", so
 * that `flopsmeter merge` takes their shards as one run. Owned by the meter:
 * valid until fm_meter_free. NULL for a NULL meter. */
FM_API const char* fm_meter_run_id(const fm_meter* meter);

/* Hot path: lock-free, no I/O, no allocation. `tokens` are the non-padding
 * tokens of `positions` executed positions (padding included), over
 * `micro_batches` forward passes. */
FM_API void fm_meter_add(fm_meter* meter, uint64_t tokens, uint64_t positions, uint64_t micro_batches);
/* For integrations that count tokens on the device: the positions and
 * micro-batches now, their tokens later through fm_meter_sync_tokens. Until
 * then the budget guard counts every pending position as a token. */
FM_API void fm_meter_add_positions(fm_meter* meter, uint64_t positions, uint64_t micro_batches);
/* `tokens` non-padding tokens counted on the device since the last sync;
 * they cover every position added so far. */
FM_API void fm_meter_sync_tokens(fm_meter* meter, uint64_t tokens);
/* `count` executed attention sequences of `length` positions each. */
FM_API void fm_meter_add_sequences(fm_meter* meter, uint64_t length, uint64_t count);

/* An optimizer step finished. No I/O unless the step raises a budget
 * warning or says stop (a journal line, fsync); progress lines come from the
 * meter's own thread at the journal interval. Returns the budget state as
 * JSON in *state_json (may be NULL): {"global_step": 10, "compute_flop": "1.2e18",
 * "budget_flop": "...", "budget_fraction": 0.42, "threshold_fraction": 0.1,
 * "new_warnings": ["..."], "stop": false}. "stop" is true when one more
 * step of the average size would cross the budget. */
FM_API fm_status fm_meter_step(fm_meter* meter, uint64_t global_step, char** state_json, char** error);
/* The same step for callers that act only on the budget, without a JSON
 * round trip on quiet steps: *stop is set to 1 when fm_meter_step would say
 * "stop", else 0; *news_json receives fm_meter_step's state JSON only on a
 * step that raised a budget warning or says stop, else NULL. `stop` and
 * `news_json` may be NULL. */
FM_API fm_status fm_meter_step_budget(fm_meter* meter, uint64_t global_step, int* stop, char** news_json,
                                      char** error);
/* A checkpoint of the weights was saved at `global_step`: journal line, fsync. */
FM_API fm_status fm_meter_checkpoint(fm_meter* meter, uint64_t global_step, const char* checkpoint_path,
                                     char** error);
/* Appends a progress line to the journal now (fsync). */
FM_API fm_status fm_meter_flush(fm_meter* meter, char** error);
/* Finishes the run: end_json {"status": "completed" | "stopped_by_budget" |
 * "failed" | "interrupted", "global_step": N, "world": {"tokens": N,
 * "positions": N, "micro_batches": N, "sequences": [[length, count], ...]},
 * "notes": ["..."], "token_source": "..."} (may be NULL: "completed"; notes
 * are the caller's observations, journaled and kept in the record's notes;
 * token_source says what the token figures were read from). Stops the
 * sampler, writes the rank's final journal line and, on rank 0,
 * flops_meter.json atomically. *record_json receives the record (schema
 * "flopsmeter.run/3"; on other ranks a short "flopsmeter.rank_end/1"
 * summary). */
FM_API fm_status fm_meter_end(fm_meter* meter, const char* end_json, char** record_json, char** error);
/* Frees the handle. Without fm_meter_end the run stays open: its journal is
 * what a crash leaves, and `flopsmeter report --run DIR` finalises it. */
FM_API void fm_meter_free(fm_meter* meter);

/* Finalises or re-reports the run in `run_dir` from its journals (several
 * rank shards merged). options_json may be NULL, or {"write": true,
 * "out": PATH, "data-dir": DIR}: "write" (re)writes flops_meter.json (in
 * run_dir, or at "out"); "data-dir" overrides the rules and catalogs. */
FM_API fm_status fm_report_run(const char* run_dir, const char* options_json, char** record_json, char** error);

/* ---- The audit ledger (docs/ledger.md) ----
 *
 *   fm_ledger* l = NULL;
 *   fm_ledger_open("{\"ledger\":\"ledger.sqlite\",\"organisation\":\"Acme\"}", 1, &l, &err);
 *   char* lineage = NULL;
 *   fm_ledger_call(l, "{\"call\":\"lineage\",\"model\":\"acme/llama-sft\"}", &lineage, &err);
 *   fm_free(lineage);
 *   fm_ledger_free(l);
 */
typedef struct fm_ledger fm_ledger;

/* Opens the ledger. options_json may be NULL, or an object of the CLI's
 * option names: "ledger" (a SQLite path or a postgresql:// URL),
 * "ledger-key", "organisation", "data-dir"; what is absent comes from the
 * environment (FLOPSMETER_LEDGER, ...) and the defaults. `create` nonzero
 * creates a missing ledger. */
FM_API fm_status fm_ledger_open(const char* options_json, int create, fm_ledger** out, char** error);

/* One call on the ledger: request_json is {"call": NAME, ...arguments}, and
 * *response_json the answer (a JSON document of a versioned schema):
 *   keygen (a new key pair at "ledger-key", never over an existing file,
 *           its public key registered)             -> ledger_append/1
 *   register_key                                   -> ledger_append/1
 *   add_model    {"model": {"name", "organisation", "parents", "how", "note",
 *                 "systemic_risk", "pretraining": {"flop" (decimal string
 *                 or null), "source", "status"} or {"run": the directory
 *                 or record of the metered run that pretrained it}}}
 *                                                  -> ledger_append/1
 *   add_run      {"record": TEXT, "produces": NAME, "parent": NAME, "how",
 *                 "imported": bool, "run_dir": DIR}  -> ledger_append/1
 *   add_estimate {"estimate": TEXT, "model": NAME}  -> ledger_append/1
 *   annotate     {"entry": N, "text": TEXT, "supersedes": bool}
 *   record_export {"entry": N, "url": URL, "version": TEXT}
 *   models | model {"model"} | lineage {"model"} | runs {"model"?} | head
 *   verify {"head": HEAD_JSON_TEXT?, "trusted_keys": [...]?}
 *   prove {"entry": N} | basis {"model"}
 * Unknown calls and arguments are errors naming them. */
FM_API fm_status fm_ledger_call(fm_ledger* ledger, const char* request_json, char** response_json, char** error);

FM_API void fm_ledger_free(fm_ledger* ledger);

/* Checks an inclusion proof (`ledger prove`) with no database; trusted_key
 * may be NULL (the key the proof names), a public key in hex, a key id or
 * a file holding one. *message says what was proved. */
FM_API fm_status fm_verify_inclusion_proof(const char* proof_json, const char* trusted_key, char** message,
                                           char** error);

/* ---- Exports (docs/export.md) ----
 *
 *   char* report = NULL;
 *   fm_export("runs/a", "{\"to\":\"s3://acme-audit/flops\"}", &report, &err);
 *   fm_free(report);
 *
 * Exports `source` as `flopsmeter export` does: a run directory (or its
 * flops_meter.json), else a model of the ledger; NULL (or "") with
 * "ledger-head": true, the ledger's signed head. options_json holds "to"
 * (s3://bucket/prefix or dynamodb://table; required) and may hold the CLI's
 * other names: "ledger-head", "path-style" (booleans), "endpoint-url",
 * "region", "profile", "sse", "sse-kms-key-id", "export-timeout",
 * "export-attempts", "ledger", "ledger-key", "data-dir" (strings or
 * numbers). Credentials come from the AWS credential chain, never from
 * here. *report_json receives the report (schema flopsmeter.export/1), in
 * which each record the store confirmed and the ledger entry recording it.
 * On any other status nothing more is recorded as exported; *error says
 * which object or item failed and what the store already holds. Blocks for
 * the network requests (bounded by "export-timeout" and "export-attempts"). */
FM_API fm_status fm_export(const char* source, const char* options_json, char** report_json, char** error);

#ifdef __cplusplus
}
#endif

#endif /* FLOPSMETER_C_API_H_ */
