/* The stable C ABI (include/flopsmeter/c_api.h), specified as a C11 program
 * sees it: only the header and libflopsmeter.so's exported fm_* symbols, so a
 * construct a C compiler rejects, or a symbol the library forgot to export,
 * fails here before a binding (Python ctypes) finds it.
 *
 * Each spec_* function states one part of the contract in its name and
 * checks it; REQUIRE stops the program at the first broken promise with its
 * file, line and expression, and a non-zero exit status. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, unsetenv: POSIX, not ISO C */

#include "c_test_support.h"

#include <pthread.h>
#include <stdint.h>

/* ---- fixtures ------------------------------------------------------------ */

/* A fresh directory per spec; the run directory inside it does not exist yet,
 * so begin() is seen creating it. */
typedef struct {
  char root[64];
  char run[96];
  char options[512];
} scratch;

static void scratch_open(scratch* s) {
  temp_dir_open(s->root, "c_abi");
  REQUIRE(snprintf(s->run, sizeof s->run, "%s/run", s->root) < (int)sizeof s->run);
}

static void scratch_close(const scratch* s) { temp_dir_close(s->root); }

/* Options for a run in s->run counted from the trainer's own parameter counts
 * (no model files needed); `extra` is more JSON members, or "". */
static const char* run_options(scratch* s, const char* extra) {
  const int n = snprintf(s->options, sizeof s->options,
                         "{\"run\": \"%s\", \"model-name\": \"tiny\", \"n-total\": 1000, "
                         "\"n-trainable\": 10%s%s}",
                         s->run, *extra != '\0' ? ", " : "", extra);
  REQUIRE(n > 0 && n < (int)sizeof s->options);
  return s->options;
}

/* ---- specs --------------------------------------------------------------- */

static void spec_versions_are_reported_without_a_handle(void) {
  REQUIRE(fm_abi_version() == FM_ABI_VERSION);
  const char* version = fm_version(); /* static: never freed */
  REQUIRE(version != NULL);
  REQUIRE(strspn(version, "0123456789.") == strlen(version));
  REQUIRE(strchr(version, '.') != NULL);
  REQUIRE(fm_version() == version);
}

/* begin, the hot-path adds, step with and without its state, checkpoint,
 * flush, end: the record holds exactly the tokens added, in memory and on
 * disk, and a report of the run directory says the same. */
static void spec_a_run_records_exactly_the_tokens_added(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = (char*)"stale"; /* begin resets it: success leaves NULL */
  REQUIRE_OK(fm_meter_begin(run_options(&s, "\"journal-interval\": 3600"), &meter, &error), error);
  REQUIRE(meter != NULL);

  fm_meter_add(meter, 700, 1024, 1);    /* 700 tokens in 1024 positions */
  fm_meter_add_positions(meter, 512, 1); /* counted on the device ... */
  fm_meter_sync_tokens(meter, 300);      /* ... and read back later */
  fm_meter_add_sequences(meter, 512, 3);

  char* state = NULL;
  REQUIRE_OK(fm_meter_step(meter, 1, &state, &error), error);
  REQUIRE(state != NULL);
  REQUIRE(strstr(state, "\"global_step\":1") != NULL);
  REQUIRE(strstr(state, "\"stop\":false") != NULL);
  REQUIRE(strstr(state, "\"budget_flop\":null") != NULL); /* no budget given */
  fm_free(state);
  REQUIRE_OK(fm_meter_step(meter, 2, NULL, &error), error); /* the state is optional */

  REQUIRE_OK(fm_meter_checkpoint(meter, 2, "ckpt-2", &error), error);
  REQUIRE_OK(fm_meter_checkpoint(meter, 2, NULL, &error), error); /* the path is optional */
  REQUIRE_OK(fm_meter_flush(meter, &error), error);

  char* record = NULL;
  REQUIRE_OK(fm_meter_end(meter, "{\"status\": \"completed\", \"global_step\": 2}", &record, &error), error);
  REQUIRE(record != NULL);
  REQUIRE(strstr(record, "\"schema\": \"flopsmeter.run/") != NULL); /* any version of the schema */
  REQUIRE(strstr(record, "\"tokens_processed\": \"1000\"") != NULL);
  REQUIRE(strstr(record, "\"status\": \"completed\"") != NULL);
  fm_free(record);
  /* Ending twice is refused, and the handle is still freed normally. */
  REQUIRE_FAILS(fm_meter_end(meter, NULL, NULL, &error), FM_INVALID_ARGUMENT, error, "the meter has already ended");
  fm_meter_free(meter);

  char path[160];
  REQUIRE(snprintf(path, sizeof path, "%s/flops_meter.json", s.run) < (int)sizeof path);
  REQUIRE(file_exists(path));
  char* written = read_text(path);
  REQUIRE(strstr(written, "\"tokens_processed\": \"1000\"") != NULL);
  REQUIRE(strstr(written, "\"positions\": \"1536\"") != NULL); /* 1024 + 512 */
  REQUIRE(strstr(written, "\"N_total\": 1000") != NULL);
  free(written);

  REQUIRE_OK(fm_report_run(s.run, NULL, &record, &error), error);
  REQUIRE(strstr(record, "\"tokens_processed\": \"1000\"") != NULL);
  fm_free(record);
  /* Report options: the record written elsewhere; record_json is optional. */
  char options[256];
  REQUIRE(snprintf(options, sizeof options, "{\"write\": true, \"out\": \"%s/again.json\"}", s.root) <
          (int)sizeof options);
  REQUIRE_OK(fm_report_run(s.run, options, NULL, &error), error);
  REQUIRE(snprintf(path, sizeof path, "%s/again.json", s.root) < (int)sizeof path);
  REQUIRE(file_exists(path));
  scratch_close(&s);
}

/* A catalog model instead of counts: the core counts its parameters. */
/* fm_meter_step_budget: the stop flag every step, the state JSON only on a
 * step with news (a budget warning or the stop), so quiet steps cost no JSON. */
static void spec_budget_steps_give_their_state_only_with_news(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = NULL;
  /* Budget 2e6 FLOP: each step's 10 tokens cost 6 x 1000 x 10 = 6e4 or more, whatever the formula. */
  REQUIRE_OK(fm_meter_begin(run_options(&s, "\"budget\": 2000000, \"journal-interval\": 3600"), &meter, &error),
             error);
  int stop = -1, news_steps = 0, stop_step = 0;
  for (uint64_t step = 1; step <= 100 && stop_step == 0; ++step) {
    fm_meter_add(meter, 10, 10, 1);
    char* news = (char*)"stale";
    REQUIRE_OK(fm_meter_step_budget(meter, step, &stop, &news, &error), error);
    REQUIRE(stop == 0 || stop == 1);
    if (news != NULL) {
      ++news_steps;
      const int warned = strstr(news, "\"new_warnings\":[\"") != NULL;
      REQUIRE(warned || strstr(news, "\"stop\":true") != NULL); /* only news comes as JSON */
      REQUIRE((strstr(news, "\"stop\":true") != NULL) == (stop == 1));
      fm_free(news);
    } else {
      REQUIRE(stop == 0); /* a stop is always news */
    }
    if (stop) stop_step = (int)step;
  }
  REQUIRE(stop_step > 0);          /* the budget stops the run ... */
  REQUIRE(news_steps >= 3);        /* ... after its warnings at 50, 80 and 90% */
  REQUIRE(news_steps < stop_step); /* quiet steps gave no JSON */
  REQUIRE_OK(fm_meter_step_budget(meter, (uint64_t)stop_step + 1, NULL, NULL, &error), error); /* outputs optional */
  REQUIRE_OK(fm_meter_end(meter, "{\"status\": \"stopped_by_budget\"}", NULL, &error), error);
  fm_meter_free(meter);
  scratch_close(&s);
}

static void spec_a_catalog_model_gives_the_parameter_counts(void) {
  scratch s;
  scratch_open(&s);
  char options[256];
  REQUIRE(snprintf(options, sizeof options, "{\"run\": \"%s\", \"model\": \"gpt2\", \"method\": \"full\"}", s.run) <
          (int)sizeof options);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_meter_begin(options, &meter, &error), error);
  fm_meter_add(meter, 100, 128, 1);
  char* record = NULL;
  REQUIRE_OK(fm_meter_end(meter, NULL, &record, &error), error); /* end options are optional */
  REQUIRE(strstr(record, "\"N_total\": 124439808") != NULL);
  REQUIRE(strstr(record, "\"tokens_processed\": \"100\"") != NULL);
  fm_free(record);
  fm_meter_free(meter);
  scratch_close(&s);
}

/* fm_meter_add* from several threads at once loses nothing. */
enum { kAddThreads = 4, kAddsPerThread = 10000 };

static void* add_one_token_repeatedly(void* meter) {
  for (int i = 0; i < kAddsPerThread; ++i) fm_meter_add((fm_meter*)meter, 1, 2, 1);
  return NULL;
}

static void spec_adds_from_many_threads_all_count(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_meter_begin(run_options(&s, ""), &meter, &error), error);
  pthread_t threads[kAddThreads];
  for (int i = 0; i < kAddThreads; ++i) REQUIRE(pthread_create(&threads[i], NULL, add_one_token_repeatedly, meter) == 0);
  for (int i = 0; i < kAddThreads; ++i) REQUIRE(pthread_join(threads[i], NULL) == 0);
  char* record = NULL;
  REQUIRE_OK(fm_meter_end(meter, NULL, &record, &error), error);
  REQUIRE(strstr(record, "\"tokens_processed\": \"40000\"") != NULL);
  fm_free(record);
  fm_meter_free(meter);
  scratch_close(&s);
}

/* A run directory is never appended to silently; with "resume" the next
 * segment continues the counts from the checkpoint it restarts at. */
static void spec_a_run_is_continued_only_with_resume(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_meter_begin(run_options(&s, ""), &meter, &error), error);
  fm_meter_add(meter, 100, 100, 1);
  REQUIRE_OK(fm_meter_checkpoint(meter, 10, "ckpt-10", &error), error);
  REQUIRE_OK(fm_meter_end(meter, "{\"status\": \"completed\", \"global_step\": 10}", NULL, &error), error);
  fm_meter_free(meter);

  meter = (fm_meter*)&s; /* begin clears *out when it refuses */
  REQUIRE_FAILS(fm_meter_begin(run_options(&s, ""), &meter, &error), FM_INVALID_ARGUMENT, error, s.run);
  REQUIRE(meter == NULL);

  REQUIRE_OK(fm_meter_begin(run_options(&s, "\"resume\": true, \"resume-step\": 10"), &meter, &error), error);
  fm_meter_add(meter, 60, 60, 1);
  char* record = NULL;
  REQUIRE_OK(fm_meter_end(meter, "{\"status\": \"completed\", \"global_step\": 16}", &record, &error), error);
  REQUIRE(strstr(record, "\"tokens_processed\": \"160\"") != NULL);
  REQUIRE(strstr(record, "\"resumed_from\"") != NULL);
  fm_free(record);
  fm_meter_free(meter);
  scratch_close(&s);
}

/* A job's id names the run on every node, whose directories may be
 * node-local; without one the run draws its own, readable for the others. */
static void spec_the_run_id_is_the_jobs_or_drawn_once(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_meter_begin(run_options(&s, "\"run-id\": \"job-9\""), &meter, &error), error);
  REQUIRE(strcmp(fm_meter_run_id(meter), "job-9") == 0);
  REQUIRE_OK(fm_meter_end(meter, NULL, NULL, &error), error);
  REQUIRE(strcmp(fm_meter_run_id(meter), "job-9") == 0); /* until freed */
  fm_meter_free(meter);
  REQUIRE(fm_meter_run_id(NULL) == NULL);
  scratch_close(&s);

  scratch_open(&s);
  REQUIRE_OK(fm_meter_begin(run_options(&s, ""), &meter, &error), error);
  REQUIRE(strlen(fm_meter_run_id(meter)) == 32);
  fm_meter_free(meter);
  scratch_close(&s);
}

/* Freeing a handle without end leaves what a crash leaves: the journal up to
 * its last line, which a report finalises. */
static void spec_a_run_freed_without_end_is_reported_from_its_journal(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_meter_begin(run_options(&s, ""), &meter, &error), error);
  fm_meter_add(meter, 42, 64, 1);
  REQUIRE_OK(fm_meter_flush(meter, &error), error);
  fm_meter_free(meter);
  char* record = NULL;
  REQUIRE_OK(fm_report_run(s.run, NULL, &record, &error), error);
  REQUIRE(strstr(record, "\"tokens_processed\": \"42\"") != NULL);
  REQUIRE(strstr(record, "\"complete\": false") != NULL);
  fm_free(record);
  scratch_close(&s);
}

/* Bad options are refused with a code and a message naming what is wrong,
 * and nothing is written. */
static void spec_bad_options_are_refused_with_a_message(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_FAILS(fm_meter_begin("{\"run\": ", &meter, &error), FM_PARSE_ERROR, error, "meter options");
  REQUIRE(meter == NULL);
  REQUIRE_FAILS(fm_meter_begin("[1, 2]", &meter, &error), FM_PARSE_ERROR, error, "meter options");

  REQUIRE(fm_meter_begin(run_options(&s, "\"lora_r\": 8"), &meter, &error) == FM_INVALID_ARGUMENT);
  REQUIRE(strstr(error, "unknown option \"lora_r\"; did you mean \"lora-r\"?") != NULL);
  fm_free(error);
  error = NULL;

  REQUIRE_FAILS(fm_meter_begin("{\"n-total\": 1000}", &meter, &error), FM_INVALID_ARGUMENT, error,
                "meter options: no run directory");
  char no_model[160];
  REQUIRE(snprintf(no_model, sizeof no_model, "{\"run\": \"%s\"}", s.run) < (int)sizeof no_model);
  REQUIRE_FAILS(fm_meter_begin(no_model, &meter, &error), FM_INVALID_ARGUMENT, error,
                "meter options: no model accounting");
  char mistyped[160];
  REQUIRE(snprintf(mistyped, sizeof mistyped, "{\"run\": \"%s\", \"n-total\": \"many\"}", s.run) <
          (int)sizeof mistyped);
  REQUIRE_FAILS(fm_meter_begin(mistyped, &meter, &error), FM_INVALID_ARGUMENT, error, "meter options: option \"n-total\"");
  REQUIRE_FAILS(fm_meter_begin(run_options(&s, "\"resume\": \"yes\""), &meter, &error), FM_INVALID_ARGUMENT, error,
                "meter options: option \"resume\": expected true or false");
  REQUIRE(meter == NULL);
  struct stat st;
  REQUIRE(stat(s.run, &st) != 0); /* refused before anything was created */

  /* error may be NULL: the code alone tells. */
  REQUIRE(fm_meter_begin("not json", &meter, NULL) == FM_PARSE_ERROR);
  scratch_close(&s);
}

/* Which pointers may be NULL: the handle in the hot path (a no-op), the
 * optional out-parameters and options; the options of begin, its out
 * handle, and the handle or run directory of a call that reports a status
 * are refused with FM_INVALID_ARGUMENT. */
static void spec_null_pointers_are_tolerated_or_refused_as_documented(void) {
  fm_meter_add(NULL, 1, 1, 1);
  fm_meter_add_positions(NULL, 1, 1);
  fm_meter_sync_tokens(NULL, 1);
  fm_meter_add_sequences(NULL, 1, 1);
  fm_meter_free(NULL);
  fm_free(NULL);

  fm_meter* meter = (fm_meter*)&meter; /* not NULL: begin must clear it even when it refuses */
  char* error = NULL;
  REQUIRE_FAILS(fm_meter_begin(NULL, &meter, &error), FM_INVALID_ARGUMENT, error, "fm_meter_begin");
  REQUIRE(meter == NULL);
  REQUIRE_FAILS(fm_meter_begin("{}", NULL, &error), FM_INVALID_ARGUMENT, error, "fm_meter_begin");

  char* state = (char*)"stale";
  REQUIRE_FAILS(fm_meter_step(NULL, 1, &state, &error), FM_INVALID_ARGUMENT, error, "fm_meter_step");
  REQUIRE(state == NULL);
  int stop = -1;
  REQUIRE_FAILS(fm_meter_step_budget(NULL, 1, &stop, &state, &error), FM_INVALID_ARGUMENT, error,
                "fm_meter_step_budget");
  REQUIRE(stop == 0 && state == NULL);
  REQUIRE_FAILS(fm_meter_checkpoint(NULL, 1, "c", &error), FM_INVALID_ARGUMENT, error, "fm_meter_checkpoint");
  REQUIRE_FAILS(fm_meter_flush(NULL, &error), FM_INVALID_ARGUMENT, error, "fm_meter_flush");
  char* record = (char*)"stale";
  REQUIRE_FAILS(fm_meter_end(NULL, NULL, &record, &error), FM_INVALID_ARGUMENT, error, "fm_meter_end");
  REQUIRE(record == NULL);
  REQUIRE(fm_meter_flush(NULL, NULL) == FM_INVALID_ARGUMENT);

  REQUIRE_FAILS(fm_report_run(NULL, NULL, &record, &error), FM_INVALID_ARGUMENT, error, "fm_report_run");
  REQUIRE(record == NULL);
}

/* A refused end (bad end options) leaves the handle open to end properly. */
static void spec_bad_end_or_report_options_are_refused(void) {
  scratch s;
  scratch_open(&s);
  fm_meter* meter = NULL;
  char* error = NULL;
  REQUIRE_OK(fm_meter_begin(run_options(&s, ""), &meter, &error), error);
  fm_meter_add(meter, 5, 5, 1);
  REQUIRE_FAILS(fm_meter_end(meter, "{\"status\": \"done\"}", NULL, &error), FM_INVALID_ARGUMENT, error,
                "end options: status 'done'");
  REQUIRE_FAILS(fm_meter_end(meter, "{\"status\"", NULL, &error), FM_PARSE_ERROR, error, "end options");
  REQUIRE_OK(fm_meter_end(meter, "{\"status\": \"failed\"}", NULL, &error), error);
  fm_meter_free(meter);

  REQUIRE_FAILS(fm_report_run(s.run, "{\"write\": 1}", NULL, &error), FM_INVALID_ARGUMENT, error,
                "report options: unknown or mistyped key 'write'");
  REQUIRE_FAILS(fm_report_run(s.root, NULL, NULL, &error), FM_NOT_FOUND, error, s.root);
  scratch_close(&s);
}

int main(void) {
  clear_job_environment();

  spec_versions_are_reported_without_a_handle();
  spec_a_run_records_exactly_the_tokens_added();
  spec_budget_steps_give_their_state_only_with_news();
  spec_a_catalog_model_gives_the_parameter_counts();
  spec_adds_from_many_threads_all_count();
  spec_a_run_is_continued_only_with_resume();
  spec_the_run_id_is_the_jobs_or_drawn_once();
  spec_a_run_freed_without_end_is_reported_from_its_journal();
  spec_bad_options_are_refused_with_a_message();
  spec_null_pointers_are_tolerated_or_refused_as_documented();
  spec_bad_end_or_report_options_are_refused();
  puts("c_abi: all specs hold");
  return EXIT_SUCCESS;
}
