/* What the C ABI's test programs share: requirements that stop the program
 * at the first broken promise (file, line, expression, non-zero exit), the
 * checks of a call's status and message, and scratch directories.
 *
 * Include it first, after `#define _XOPEN_SOURCE 700` (mkdtemp, nftw and
 * setenv are POSIX, not ISO C). Everything here is static inline, so a
 * program that uses only part of it compiles without warnings. */
#ifndef FLOPSMETER_TESTS_C_TEST_SUPPORT_H_
#define FLOPSMETER_TESTS_C_TEST_SUPPORT_H_

#include <flopsmeter/c_api.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REQUIRE(expr)                                                                \
  do {                                                                               \
    if (!(expr)) {                                                                   \
      fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__, #expr); \
      exit(EXIT_FAILURE);                                                            \
    }                                                                                \
  } while (0)

/* `call` must return FM_OK and leave *error NULL; otherwise the ABI's own
 * message is printed with the call. `error` is the char* the call fills. */
#define REQUIRE_OK(call, error) require_ok_at(__FILE__, __LINE__, #call, (call), &(error))

static inline void require_ok_at(const char* file, int line, const char* call, fm_status status, char** error) {
  if (status != FM_OK) {
    fprintf(stderr, "%s:%d: %s returned %d: %s\n", file, line, call, (int)status,
            *error != NULL ? *error : "(no message)");
    exit(EXIT_FAILURE);
  }
  if (*error != NULL) {
    fprintf(stderr, "%s:%d: %s succeeded but set an error message: %s\n", file, line, call, *error);
    exit(EXIT_FAILURE);
  }
}

/* `call` must fail with `code` and a message that starts with `prefix`, which
 * is then freed: every message belongs to the caller. */
#define REQUIRE_FAILS(call, code, error, prefix) \
  require_fails_at(__FILE__, __LINE__, #call, (call), (code), &(error), (prefix))

static inline void require_fails_at(const char* file, int line, const char* call, fm_status status,
                                    fm_status expected, char** error, const char* prefix) {
  if (status != expected || *error == NULL || strncmp(*error, prefix, strlen(prefix)) != 0) {
    fprintf(stderr, "%s:%d: %s: expected status %d with a message starting \"%s\", got %d: %s\n", file,
            line, call, (int)expected, prefix, (int)status, *error != NULL ? *error : "(no message)");
    exit(EXIT_FAILURE);
  }
  fm_free(*error);
  *error = NULL;
}

/* A fresh directory under /tmp named after `tag`, into root[64]. */
static inline void temp_dir_open(char root[64], const char* tag) {
  REQUIRE(snprintf(root, 64, "/tmp/flopsmeter_%s_XXXXXX", tag) < 64);
  REQUIRE(mkdtemp(root) != NULL);
}

static inline int remove_tree_entry(const char* path, const struct stat* st, int type, struct FTW* ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  return remove(path);
}

static inline void temp_dir_close(const char* root) {
  REQUIRE(nftw(root, remove_tree_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

/* A whole file as a NUL-terminated string, freed by the caller. */
static inline char* read_text(const char* path) {
  FILE* f = fopen(path, "rb");
  REQUIRE(f != NULL);
  REQUIRE(fseek(f, 0, SEEK_END) == 0);
  const long size = ftell(f);
  REQUIRE(size >= 0 && fseek(f, 0, SEEK_SET) == 0);
  char* text = malloc((size_t)size + 1);
  REQUIRE(text != NULL);
  REQUIRE(fread(text, 1, (size_t)size, f) == (size_t)size);
  text[size] = '\0';
  fclose(f);
  return text;
}

static inline int file_exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* begin fills unset options from the job's environment (docs/meter.md) and
 * the ledger its location, key and organisation: the specs state theirs in
 * full. */
static inline void clear_job_environment(void) {
  const char* variables[] = {"PRETRAIN_FLOPS", "FLOPS_METER_NVML", "FLOPS_METER_OUT", "FLOPS_METER_PEAK_FLOPS",
                             "FLOPS_METER_NVML_LIBRARY", "RANK", "WORLD_SIZE", "LOCAL_RANK",
                             "TRAINING_JOB_NAME", "FLOPS_METER_RUN_ID", "FLOPSMETER_LEDGER",
                             "FLOPSMETER_LEDGER_KEY", "FLOPSMETER_ORGANISATION", "FLOPS_METER_EXPORT"};
  for (size_t i = 0; i < sizeof variables / sizeof variables[0]; ++i) REQUIRE(unsetenv(variables[i]) == 0);
}

#endif /* FLOPSMETER_TESTS_C_TEST_SUPPORT_H_ */
