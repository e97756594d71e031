/* Exports through the C ABI (fm_export), as a C11 program sees it: its
 * options checked before anything is sent, each refusal with its code and
 * message, a run metered by the same ABI sent to a store that does not
 * answer (an I/O error naming the object, no report), and no credentials
 * found (what was tried). The stores themselves are in ctest export_stores
 * and python_test_export; this program needs none. ASan runs it too.
 *
 * Each spec_* function states one part of the contract in its name. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv: POSIX, not ISO C */

#include "c_test_support.h"

static char root[64];
static char run_dir[128];

/* A finished run, metered through the ABI. */
static void meter_a_run(void) {
  char options[256];
  char* error = NULL;
  fm_meter* meter = NULL;
  REQUIRE(snprintf(run_dir, sizeof run_dir, "%s/run", root) < (int)sizeof run_dir);
  REQUIRE(snprintf(options, sizeof options, "{\"run\": \"%s\", \"n-total\": 1000, \"n-trainable\": 1000}", run_dir) <
          (int)sizeof options);
  REQUIRE_OK(fm_meter_begin(options, &meter, &error), error);
  fm_meter_add(meter, 500, 512, 1);
  char* record = NULL;
  REQUIRE_OK(fm_meter_end(meter, NULL, &record, &error), error);
  fm_free(record);
  fm_meter_free(meter);
}

static void spec_options_are_checked_before_anything_is_sent(void) {
  char* report = NULL;
  char* error = NULL;
  REQUIRE_FAILS(fm_export(run_dir, NULL, &report, &error), FM_PARSE_ERROR, error, "export options: expected a JSON object");
  REQUIRE_FAILS(fm_export(run_dir, "{}", &report, &error), FM_INVALID_ARGUMENT, error, "export options: \"to\" is required");
  REQUIRE_FAILS(fm_export(run_dir, "{\"to\": \"s3://Bad_Bucket/x\"}", &report, &error), FM_INVALID_ARGUMENT, error,
                "export target 's3://Bad_Bucket/x': a bucket's name is 3 to 63 lower-case letters");
  REQUIRE_FAILS(fm_export(run_dir, "{\"to\": \"s3://audit/x\", \"regoin\": \"eu-west-1\"}", &report, &error),
                FM_INVALID_ARGUMENT, error, "export options: unknown option \"regoin\"");
  REQUIRE_FAILS(fm_export(run_dir, "{\"to\": \"s3://audit/x\", \"path-style\": \"yes\"}", &report, &error),
                FM_INVALID_ARGUMENT, error, "export options: \"path-style\": expected true or false");
  REQUIRE_FAILS(fm_export(run_dir, "{\"to\": \"s3://audit/x\", \"ledger-head\": true}", &report, &error),
                FM_INVALID_ARGUMENT, error, "fm_export: give a source (a run directory or a model), or");
  REQUIRE_FAILS(fm_export(NULL, "{\"to\": \"s3://audit/x\"}", &report, &error), FM_INVALID_ARGUMENT, error,
                "fm_export: give a source");
  REQUIRE_FAILS(fm_export(run_dir, "{\"to\": \"s3://audit/x\", \"endpoint-url\": \"http://key:secret@host\"}", &report,
                          &error),
                FM_INVALID_ARGUMENT, error, "endpoint URL: it holds a user name or password");
  REQUIRE(report == NULL);
}

static void spec_a_store_that_does_not_answer_is_an_io_error_and_no_report(void) {
  REQUIRE(setenv("AWS_ACCESS_KEY_ID", "AKIACTEST", 1) == 0);
  REQUIRE(setenv("AWS_SECRET_ACCESS_KEY", "c/secret+KEY", 1) == 0);
  char* report = NULL;
  char* error = NULL;
  REQUIRE_FAILS(fm_export(run_dir, "{\"to\": \"s3://audit/x\", \"endpoint-url\": \"http://127.0.0.1:1\", "
                                   "\"export-attempts\": 1}",
                          &report, &error),
                FM_IO_ERROR, error, "s3://audit/x/");
  REQUIRE(report == NULL);
  REQUIRE(unsetenv("AWS_ACCESS_KEY_ID") == 0 && unsetenv("AWS_SECRET_ACCESS_KEY") == 0);
}

static void spec_no_credentials_says_what_was_tried(void) {
  char* report = NULL;
  char* error = NULL;
  REQUIRE_FAILS(fm_export(run_dir, "{\"to\": \"dynamodb://flops-runs\", \"endpoint-url\": \"http://127.0.0.1:1\"}",
                          &report, &error),
                FM_NOT_FOUND, error, "no AWS credentials found; tried the environment (AWS_ACCESS_KEY_ID is not set)");
}

int main(void) {
  clear_job_environment();
  const char* aws[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                       "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"};
  for (size_t i = 0; i < sizeof aws / sizeof aws[0]; ++i) REQUIRE(unsetenv(aws[i]) == 0);
  temp_dir_open(root, "c_export");
  char path[128];
  REQUIRE(snprintf(path, sizeof path, "%s/none", root) < (int)sizeof path);
  REQUIRE(setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1) == 0 && setenv("AWS_CONFIG_FILE", path, 1) == 0);
  REQUIRE(setenv("AWS_EC2_METADATA_DISABLED", "true", 1) == 0);
  meter_a_run();
  REQUIRE(snprintf(path, sizeof path, "%s/ledger.sqlite", root) < (int)sizeof path);
  REQUIRE(setenv("FLOPSMETER_LEDGER", path, 1) == 0); /* none there: nothing is recorded */
  spec_options_are_checked_before_anything_is_sent();
  spec_a_store_that_does_not_answer_is_an_io_error_and_no_report();
  spec_no_credentials_says_what_was_tried();
  temp_dir_close(root);
  puts("c_export: every spec holds");
  return 0;
}
