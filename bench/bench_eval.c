/*
 * bench_eval.c — evaluation throughput: rows per second of f(x) and of the
 * full Jacobian row, for d = 1 and d = 8, k = 3, both gates, on one thread.
 * Prints the median of 7 timed repetitions.
 */
#include "bench_common.h"
#include "moelab.h"

#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 200000;
  const size_t dims[2] = {1, 8};
  const moelab_expert experts[3] = {MOELAB_EXPERT_RELU, MOELAB_EXPERT_GELU, MOELAB_EXPERT_TANH};
  printf("# moelab evaluation throughput, k = 3, n = %zu rows, 1 thread, median of 7\n", n);
  printf("%-8s %-8s %3s %16s %16s\n", "gate", "expert", "d", "f rows/s", "jacobian rows/s");
  for (int g = 0; g < 2; g++)
    for (int e = 0; e < 3; e++)
      for (int di = 0; di < 2; di++) {
        size_t d = dims[di];
        moelab_model *m = NULL;
        moelab_model_new((moelab_gate)g, experts[e], 1, d, 3, &m, NULL);
        void *vr;
        moelab_rng_new(1, 0, &vr, NULL);
        gsl_rng *r = vr;
        for (size_t j = 0; j < m->p; j++) m->theta[j] = gsl_rng_uniform(r) * 2 - 1;
        double *X = malloc(n * d * sizeof(double)), *f = malloc(n * sizeof(double));
        size_t jrows = n / 8;
        double *J = malloc(jrows * m->p * sizeof(double));
        for (size_t i = 0; i < n * d; i++) X[i] = gsl_rng_uniform(r) * 2 - 1;
        double tf[7], tj[7];
        for (int rep = 0; rep < 7; rep++) {
          double t0 = bench_now();
          moelab_model_predict(m, X, n, f, 1, NULL);
          double t1 = bench_now();
          moelab_model_jacobian(m, X, jrows, f, J, NULL);
          double t2 = bench_now();
          tf[rep] = (double)n / (t1 - t0);
          tj[rep] = (double)jrows / (t2 - t1);
        }
        printf("%-8s %-8s %3zu %16.3e %16.3e\n", moelab_gate_name(m->gate), moelab_expert_name(m->expert), d,
               bench_median(tf, 7), bench_median(tj, 7));
        free(X);
        free(f);
        free(J);
        moelab_rng_free(r);
        moelab_model_free(m);
      }
  return 0;
}
