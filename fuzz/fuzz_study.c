/*
 * fuzz_study.c — libFuzzer target for the study-file reader.
 *
 * Each input goes to moelab_study_read_buffer, without and with the quick
 * overrides.  A refusal must carry a status the documentation allows and an
 * error naming the file; an accepted study must have a name, a hash and a
 * task list (computed, not run).  Any violation aborts.
 */
#include "moelab.h"

#include <gsl/gsl_errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond, const char *what) {
  if (cond) return;
  fprintf(stderr, "fuzz_study: invariant violated: %s\n", what);
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  gsl_set_error_handler_off();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int quick = 0; quick <= 1; quick++) {
    moelab_study *s = NULL;
    moelab_error err;
    moelab_error_clear(&err);
    int st = moelab_study_read_buffer((const char *)data, size, "fuzz-study.json", quick, &s, &err);
    if (st) {
      require(s == NULL, "no study on failure");
      require(st == MOELAB_EPARSE || st == MOELAB_EINVAL || st == MOELAB_ELIMIT || st == MOELAB_ENOMEM,
              "a documented status");
      require(strcmp(err.file, "fuzz-study.json") == 0, "the error names the file");
      require(err.message[0] != '\0', "a message");
      continue;
    }
    require(moelab_study_name(s) && moelab_study_name(s)[0], "a name");
    char hash[20];
    require(strlen(moelab_study_hash(s, hash)) == 16, "a 16-digit hash");
    /* the task list must be computable; cap the work on absurd grids */
    (void)moelab_study_ntasks(s);
    moelab_study_free(s);
  }
  return 0;
}
