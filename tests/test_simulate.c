/*
 * test_simulate.c — random streams and simulation: golden values, keying by
 * (seed, stream), laws, and the noise level.
 */
#include "check.h"
#include "moelab.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <stdint.h>

#define GOLDEN_U0 0.90075962331536241
#define GOLDEN_U1 0.77746321496754911
#define GOLDEN_U2 0.96451823407734549
#define GOLDEN_U3 0.10131183722513681
#define GOLDEN_Z0 0.91215438962342832

/* Golden values: the first draws of stream (7, 0).  They pin the generator
 * (Philox4x64-10 keyed by (seed, stream)) and its mapping to doubles. */
static void test_golden_draws(void) {
  void *vr = NULL;
  CHECK_STATUS(moelab_rng_new(7, 0, &vr, NULL), MOELAB_OK);
  gsl_rng *r = vr;
  const double want_u[4] = {GOLDEN_U0, GOLDEN_U1, GOLDEN_U2, GOLDEN_U3};
  for (int i = 0; i < 4; i++) CHECK_SAME(gsl_rng_uniform(r), want_u[i]);
  moelab_rng_free(r);
  moelab_rng_new(7, 1, &vr, NULL);
  r = vr;
  CHECK_SAME(gsl_ran_gaussian_ziggurat(r, 1.0), GOLDEN_Z0);
  moelab_rng_free(r);
}

/* The same key gives the same numbers; other keys give other numbers. */
static void test_stream_keys(void) {
  void *a = NULL, *b = NULL, *c = NULL, *e = NULL;
  moelab_rng_new(42, 5, &a, NULL);
  moelab_rng_new(42, 5, &b, NULL);
  moelab_rng_new(42, 6, &c, NULL);
  moelab_rng_new(43, 5, &e, NULL);
  int same_ab = 1, same_ac = 0, same_ae = 0;
  for (int i = 0; i < 1000; i++) {
    double x = gsl_rng_uniform(a), y = gsl_rng_uniform(b), z = gsl_rng_uniform(c), w = gsl_rng_uniform(e);
    same_ab &= x == y;
    same_ac += x == z;
    same_ae += x == w;
  }
  CHECK(same_ab);
  CHECK(same_ac == 0 && same_ae == 0);
  moelab_rng_free(a);
  moelab_rng_free(b);
  moelab_rng_free(c);
  moelab_rng_free(e);
}

/* Uniform and Gaussian moments, with tolerances of 5 standard errors. */
static void test_stream_moments(void) {
  void *vr = NULL;
  moelab_rng_new(3, 0, &vr, NULL);
  gsl_rng *r = vr;
  enum { N = 200000 };
  double *u = malloc(N * sizeof(double)), *z = malloc(N * sizeof(double));
  for (int i = 0; i < N; i++) {
    u[i] = gsl_rng_uniform(r);
    z[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
    CHECK(u[i] >= 0 && u[i] < 1);
  }
  double se = 1.0 / sqrt((double)N);
  CHECK_NEAR(gsl_stats_mean(u, 1, N), 0.5, 5 * sqrt(1.0 / 12) * se);
  CHECK_NEAR(gsl_stats_mean(z, 1, N), 0.0, 5 * se);
  CHECK_NEAR(gsl_stats_variance(z, 1, N), 1.0, 5 * sqrt(2.0) * se);
  free(u);
  free(z);
  moelab_rng_free(r);
}

static moelab_model *example(void) {
  moelab_model *m = NULL;
  moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1, 1, 2, &m, NULL);
  double t[8] = {0, 0, 1, 0.5, -0.5, -3, -2, 1};
  memcpy(m->theta, t, sizeof t);
  double lo = -1, hi = 1;
  moelab_model_set_input(m, MOELAB_LAW_UNIFORM, &lo, &hi, NULL);
  moelab_model_set_noise(m, 0.01, NULL);
  return m;
}

static void test_simulate_deterministic(void) {
  moelab_model *m = example();
  moelab_data *a = NULL, *b = NULL, *c = NULL;
  CHECK_STATUS(moelab_simulate(m, NULL, 1000, 7, 0, &a, NULL), MOELAB_OK);
  CHECK_STATUS(moelab_simulate(m, NULL, 1000, 7, 0, &b, NULL), MOELAB_OK);
  CHECK_STATUS(moelab_simulate(m, NULL, 500, 7, 0, &c, NULL), MOELAB_OK);
  CHECK(memcmp(a->X, b->X, 1000 * sizeof(double)) == 0 && memcmp(a->y, b->y, 1000 * sizeof(double)) == 0);
  /* a prefix of a longer sample is the shorter sample */
  CHECK(memcmp(a->X, c->X, 500 * sizeof(double)) == 0 && memcmp(a->y, c->y, 500 * sizeof(double)) == 0);
  for (size_t i = 0; i < 1000; i++) CHECK(a->X[i] >= -1 && a->X[i] < 1);
  /* matched protocol: another gate on the same key sees the same X and noise */
  moelab_model *s = NULL;
  moelab_model_copy(m, &s, NULL);
  s->gate = MOELAB_GATE_SOFTMAX;
  moelab_data *d = NULL;
  moelab_simulate(s, NULL, 1000, 7, 0, &d, NULL);
  CHECK(memcmp(a->X, d->X, 1000 * sizeof(double)) == 0);
  double fa[1000], fd[1000];
  moelab_model_predict(m, a->X, 1000, fa, 1, NULL);
  moelab_model_predict(s, d->X, 1000, fd, 1, NULL);
  for (size_t i = 0; i < 1000; i++) CHECK_NEAR(a->y[i] - fa[i], d->y[i] - fd[i], 1e-15);
  moelab_data_free(a);
  moelab_data_free(b);
  moelab_data_free(c);
  moelab_data_free(d);
  moelab_model_free(s);
  moelab_model_free(m);
}

/* The residual variance of simulated data is ν (5 standard errors of a
 * sample variance: 5 sqrt(2/n) relative). */
static void test_noise_level(void) {
  moelab_model *m = example();
  const size_t n = 100000;
  moelab_data *D = NULL;
  moelab_simulate(m, NULL, n, 7, 0, &D, NULL);
  double *f = malloc(n * sizeof(double));
  moelab_model_predict(m, D->X, n, f, 0, NULL);
  double sse = 0;
  for (size_t i = 0; i < n; i++) sse += (D->y[i] - f[i]) * (D->y[i] - f[i]);
  CHECK_NEAR(sse / (double)n / 0.01, 1.0, 5 * sqrt(2.0 / (double)n));
  free(f);
  moelab_data_free(D);
  moelab_model_free(m);
}

static void test_laws(void) {
  double lo[2] = {-2, 3}, hi[2] = {1, 0.5};
  double X[2 * 20000];
  moelab_input normal = {MOELAB_LAW_NORMAL, lo, hi};
  CHECK_STATUS(moelab_draw_inputs(&normal, 2, 20000, 1, 0, X, NULL), MOELAB_OK);
  double c0 = gsl_stats_mean(X, 2, 20000), c1 = gsl_stats_mean(X + 1, 2, 20000);
  CHECK_NEAR(c0, -2, 5 * 1 / sqrt(20000.0));
  CHECK_NEAR(c1, 3, 5 * 0.5 / sqrt(20000.0));
  CHECK_NEAR(gsl_stats_sd(X + 1, 2, 20000), 0.5, 5 * 0.5 / sqrt(40000.0));
  double glo = -1, ghi = 1, G[5];
  moelab_input grid = {MOELAB_LAW_GRID, &glo, &ghi};
  CHECK_STATUS(moelab_draw_inputs(&grid, 1, 5, 1, 0, G, NULL), MOELAB_OK);
  const double want[5] = {-1, -0.5, 0, 0.5, 1};
  for (int i = 0; i < 5; i++) CHECK_SAME(G[i], want[i]);
  CHECK_STATUS(moelab_draw_inputs(&grid, 2, 5, 1, 0, X, NULL), MOELAB_EINVAL);
  double bad_hi = -3;
  moelab_input bad = {MOELAB_LAW_UNIFORM, &glo, &bad_hi};
  moelab_error err;
  CHECK_STATUS(moelab_draw_inputs(&bad, 1, 5, 1, 0, X, &err), MOELAB_EINVAL);
  CHECK(strstr(err.message, "low must be < high") != NULL);
  moelab_model *m = example();
  moelab_data *D = NULL;
  CHECK_STATUS(moelab_simulate(m, NULL, 0, 1, 0, &D, &err), MOELAB_EINVAL);
  CHECK(strcmp(err.field, "n") == 0);
  m->has_input = 0;
  CHECK_STATUS(moelab_simulate(m, NULL, 10, 1, 0, &D, &err), MOELAB_EINVAL);
  CHECK(D == NULL);
  moelab_model_free(m);
}

CHECK_MAIN(T(test_golden_draws), T(test_stream_keys), T(test_stream_moments), T(test_simulate_deterministic),
           T(test_noise_level), T(test_laws))
