/*
 * bench_common.h — timing helpers for the benchmarks (figures, not tests).
 */
#ifndef MOELAB_BENCH_COMMON_H
#define MOELAB_BENCH_COMMON_H

#include <stdlib.h>
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

#endif
