/*
 * bench_common.h — timing helpers and the shared test problems of the
 * benchmarks (figures, not tests).
 */
#ifndef MOELAB_BENCH_COMMON_H
#define MOELAB_BENCH_COMMON_H

#include "moelab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of n values (sorts them). */
static inline double bench_median(double *v, size_t n) {
  qsort(v, n, sizeof(double), bench_cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * The 2-atom truth of the fitter benchmarks: two well separated atoms,
 * opposite gate slopes and distinct experts; with u = (1, ..., 1)/√d and
 * v = (1, -1, 1, ...)/√d:
 *   atom 0: β0 =  0.5, β1 =  2u, a = 1.5v, b = 0.5
 *   atom 1: β0 = -0.5, β1 = -3u, a = -2u,  b = 1
 * (for d = 1: the truth of tests/test_fit.c), X ~ U[-1, 1]^d, noise
 * variance `noise`.  The softmax gate uses the same scores.
 */
static inline moelab_model *bench_truth2(moelab_gate gate, moelab_expert expert, size_t d, double noise) {
  moelab_model *m = NULL;
  if (moelab_model_new(gate, expert, 1, d, 2, &m, NULL)) return NULL;
  double s = 1.0 / sqrt((double)d);
  for (size_t i = 0; i < 2; i++) {
    double *t = m->theta + i * m->stride;
    t[0] = i == 0 ? 0.5 : -0.5;
    for (size_t j = 0; j < d; j++) {
      double u = s, v = (j % 2 ? -1.0 : 1.0) * s;
      t[1 + j] = i == 0 ? 2.0 * u : -3.0 * u;
      t[1 + d + j] = i == 0 ? 1.5 * v : -2.0 * u;
    }
    t[1 + 2 * d] = i == 0 ? 0.5 : 1.0;
  }
  double *lo = malloc(d * sizeof(double)), *hi = malloc(d * sizeof(double));
  for (size_t j = 0; j < d; j++) {
    lo[j] = -1.0;
    hi[j] = 1.0;
  }
  moelab_model_set_input(m, MOELAB_LAW_UNIFORM, lo, hi, NULL);
  moelab_model_set_noise(m, noise, NULL);
  free(lo);
  free(hi);
  return m;
}

/* Peak resident set of this process in bytes (getrusage ru_maxrss, KiB on Linux). */
static inline double bench_maxrss_bytes(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return 1024.0 * (double)ru.ru_maxrss;
}

/* CPU seconds (user + system) of this process so far. */
static inline double bench_cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
         1e-6 * (double)ru.ru_stime.tv_usec;
}

#endif
