/*
 * fuzz_csv.c — libFuzzer target for the CSV reader (moelab_csv_read).
 *
 * Every input is read as a CSV stream (fmemopen) four times: without a spec,
 * requiring the output column, expecting d = 2 with the output, and with
 * explicitly named columns.  Whatever the bytes, the reader must return a
 * status that its documentation allows, with an error that names the stream;
 * a data set it accepts must hold finite numbers only and must read back bit
 * for bit after moelab_csv_write.  Any violation aborts (a crash for libFuzzer).
 */
#include "moelab.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.csv"

static void require(int cond, const char *what) {
  if (cond) return;
  fprintf(stderr, "fuzz_csv: invariant violated: %s\n", what);
  abort();
}

/* Reads `size` bytes as CSV; returns the status, *out the data on success. */
static int read_bytes(const void *bytes, size_t size, const moelab_csv_spec *spec, moelab_data **out,
                      moelab_error *err) {
  /* fmemopen refuses an empty buffer on some C libraries: an empty input is /dev/null */
  FILE *fp = size ? fmemopen((void *)(uintptr_t)bytes, size, "r") : fopen("/dev/null", "r");
  if (!fp) return -1;
  int st = moelab_csv_read(fp, NAME, spec, out, err);
  fclose(fp);
  return st;
}

static void check_data(const moelab_data *D, const moelab_csv_spec *spec) {
  require(D->n >= 1, "n >= 1");
  require(D->d >= 1 && D->d <= MOELAB_MAX_D, "1 <= d <= MOELAB_MAX_D");
  require(D->X != NULL && D->names != NULL, "X and names allocated");
  for (size_t i = 0; i < D->n * D->d; i++) require(isfinite(D->X[i]), "finite inputs");
  if (D->y)
    for (size_t r = 0; r < D->n; r++) require(isfinite(D->y[r]), "finite outputs");
  for (size_t j = 0; j <= D->d; j++) require(D->names[j] != NULL, "column names");
  if (spec && spec->require_y) require(D->y != NULL, "y present when required");
  if (spec && spec->expect_d) require(D->d == spec->expect_d, "d as expected");
  if (spec && spec->x_names) require(D->d == spec->nx, "d equals the number of chosen columns");
}

/* moelab_csv_write then moelab_csv_read gives the same numbers, bit for bit. */
static void check_round_trip(const moelab_data *D) {
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  if (!fp) return;
  moelab_data_view v = moelab_data_as_view(D);
  int st = moelab_csv_write(fp, &v, NULL, 0, NULL, NULL, NULL);
  fclose(fp);
  require(st == MOELAB_OK, "moelab_csv_write succeeds");
  moelab_data *E = NULL;
  moelab_error err;
  st = read_bytes(buf, len, NULL, &E, &err);
  if (st != MOELAB_OK) fprintf(stderr, "re-read: %s (line %ld)\n", err.message, err.line);
  require(st == MOELAB_OK, "the written CSV reads back");
  require(E->n == D->n && E->d == D->d, "same shape after the round trip");
  require(memcmp(E->X, D->X, D->n * D->d * sizeof(double)) == 0, "same inputs after the round trip");
  require((E->y == NULL) == (D->y == NULL), "y kept");
  if (D->y) require(memcmp(E->y, D->y, D->n * sizeof(double)) == 0, "same outputs after the round trip");
  moelab_data_free(E);
  free(buf);
}

static void run(const uint8_t *data, size_t size, const moelab_csv_spec *spec) {
  moelab_data *D = NULL;
  moelab_error err;
  moelab_error_clear(&err);
  int st = read_bytes(data, size, spec, &D, &err);
  if (st < 0) return;
  if (st != MOELAB_OK) {
    require(D == NULL, "no data on failure");
    require(st == MOELAB_EPARSE || st == MOELAB_ELIMIT, "status is EPARSE or ELIMIT");
    require(err.status == st, "err.status equals the returned status");
    require(err.message[0] != '\0', "a message");
    require(strcmp(err.file, NAME) == 0, "the message names the file");
    require(err.line >= 0, "line >= 0");
    return;
  }
  check_data(D, spec);
  if (!spec) check_round_trip(D);
  moelab_data_free(D);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const xn[2] = {"a", "x2"};
  const moelab_csv_spec need_y = {NULL, 0, NULL, 0, 1};
  const moelab_csv_spec d2 = {NULL, 0, NULL, 2, 1};
  const moelab_csv_spec named = {xn, 2, "out", 0, 0};
  run(data, size, NULL);
  run(data, size, &need_y);
  run(data, size, &d2);
  run(data, size, &named);
  return 0;
}
