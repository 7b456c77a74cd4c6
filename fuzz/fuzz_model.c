/*
 * fuzz_model.c — libFuzzer target for the model JSON reader.
 *
 * Each input goes to moelab_model_read_buffer.  A refusal must carry a status
 * the documentation allows and an error naming the file.  An accepted model is
 * written (moelab_model_to_string), read back and written again: the two texts
 * must be identical and the parameters bitwise equal; a deep copy must write
 * the same text; evaluation, the Jacobian and (with an input law) a cheap L²
 * distance must not crash.  Any violation aborts (a crash for libFuzzer).
 */
#include "moelab.h"

#include <gsl/gsl_errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.json"

static void require(int cond, const char *what) {
  if (cond) return;
  fprintf(stderr, "fuzz_model: invariant violated: %s\n", what);
  abort();
}

static void require_ok(int st, const moelab_error *err, const char *what) {
  if (st == MOELAB_OK) return;
  char buf[1024];
  moelab_error_format(err, buf, sizeof buf);
  fprintf(stderr, "fuzz_model: %s failed (%s): %s\n", what, moelab_status_str(st), buf);
  abort();
}

static int same_model(const moelab_model *a, const moelab_model *b) {
  if (a->gate != b->gate || a->expert != b->expert || a->degree != b->degree || a->d != b->d || a->k != b->k ||
      a->p != b->p || a->has_input != b->has_input || a->has_noise != b->has_noise)
    return 0;
  if (memcmp(a->theta, b->theta, a->p * sizeof(double)) != 0) return 0;
  if (a->has_input && (a->input.law != b->input.law || memcmp(a->input.a, b->input.a, a->d * sizeof(double)) != 0 ||
                       memcmp(a->input.b, b->input.b, a->d * sizeof(double)) != 0))
    return 0;
  if (a->has_noise && memcmp(&a->noise, &b->noise, sizeof(double)) != 0) return 0;
  return 1;
}

/* Evaluation at two points (0 and 1 in every coordinate), the Jacobian and a
 * coarse L² norm: these must not crash, whatever the (finite) parameters. */
static void exercise(const moelab_model *m) {
  size_t d = m->d, p = m->p;
  double *X = calloc(2 * d, sizeof(double)), *J = calloc(2 * p, sizeof(double));
  double f[2], g[2 * MOELAB_MAX_K], h[2 * MOELAB_MAX_K];
  require(X && J, "allocation in the harness");
  for (size_t j = 0; j < d; j++) X[d + j] = 1.0;
  moelab_error err;
  require_ok(moelab_model_predict(m, X, 2, f, 1, &err), &err, "moelab_model_predict");
  require_ok(moelab_model_components(m, X, 2, g, h, &err), &err, "moelab_model_components");
  require_ok(moelab_model_jacobian(m, X, 2, f, J, &err), &err, "moelab_model_jacobian");
  if (m->has_input) {
    moelab_l2_options o = {8, 64};
    double dist = 0, aerr = 0;
    int st = moelab_l2_distance(m, NULL, NULL, &o, &dist, &aerr, &err);
    require(st == MOELAB_OK || st == MOELAB_ENUMERIC, "moelab_l2_distance: OK or ENUMERIC");
  }
  free(X);
  free(J);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  gsl_set_error_handler_off();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  moelab_model *m = NULL;
  moelab_error err;
  moelab_error_clear(&err);
  int st = moelab_model_read_buffer((const char *)data, size, NAME, &m, &err);
  if (st != MOELAB_OK) {
    require(m == NULL, "no model on failure");
    require(st == MOELAB_EPARSE || st == MOELAB_EINVAL || st == MOELAB_ELIMIT, "status is EPARSE, EINVAL or ELIMIT");
    require(err.status == st, "err.status equals the returned status");
    require(err.message[0] != '\0', "a message");
    require(strcmp(err.file, NAME) == 0, "the message names the file");
    require(err.line >= 0, "line >= 0");
    return 0;
  }
  require(m->d >= 1 && m->d <= MOELAB_MAX_D && m->k >= 1 && m->k <= MOELAB_MAX_K, "d and k in range");
  require(m->p == m->k * m->stride && m->stride == 1 + m->d + m->q, "consistent shape");
  char *t1 = NULL, *t2 = NULL, *t3 = NULL;
  require_ok(moelab_model_to_string(m, &t1, &err), &err, "writing the model");
  moelab_model *m2 = NULL, *c = NULL;
  require_ok(moelab_model_read_buffer(t1, strlen(t1), "written.json", &m2, &err), &err, "reading the written model");
  require_ok(moelab_model_to_string(m2, &t2, &err), &err, "writing the model again");
  if (strcmp(t1, t2) != 0) {
    fprintf(stderr, "---- first text:\n%s---- second text:\n%s----\n", t1, t2);
    require(0, "write -> read -> write gives the same text");
  }
  require(same_model(m, m2), "the parameters survive a round trip bit for bit");
  require_ok(moelab_model_copy(m, &c, &err), &err, "moelab_model_copy");
  require_ok(moelab_model_to_string(c, &t3, &err), &err, "writing the copy");
  require(strcmp(t1, t3) == 0, "a copy writes the same text");
  exercise(m);
  free(t1);
  free(t2);
  free(t3);
  moelab_model_free(m);
  moelab_model_free(m2);
  moelab_model_free(c);
  return 0;
}
