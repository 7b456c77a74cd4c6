/*
 * rate.c — empirical convergence rates from (n, replicate, value) rows.
 *
 * Power law: OLS of log(mean value) on log n (GSL gsl_fit_linear); the 95%
 * interval of the slope is the bootstrap percentile interval, resampling the
 * replicates within each n (B resamples from the stream (seed, 2^61)).
 * Log rate: OLS of log(mean) on log(log n), i.e. mean ≈ C (log n)^(-λ).
 * The fit with the smaller residual sum of squares (both have two
 * parameters, same responses) is preferred.
 */
#include "internal.h"

#include <gsl/gsl_fit.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RATE_STREAM ((uint64_t)1 << 61)

void moelab_rate_options_init(moelab_rate_options *opt) {
  opt->bootstrap = 2000;
  opt->seed = 0;
  opt->level = 0.95;
}

void moelab_rate_result_clear(moelab_rate_result *r) {
  if (!r) return;
  free(r->n);
  free(r->mean);
  free(r->sd);
  free(r->count);
  memset(r, 0, sizeof *r);
}

typedef struct row {
  double n, v;
} row;

static int cmp_row(const void *a, const void *b) {
  const row *x = a, *y = b;
  return (x->n > y->n) - (x->n < y->n);
}

/* OLS slope/intercept of y on x (m points) and the residual sum of squares. */
static void ols(const double *x, const double *y, size_t m, double *c0, double *c1, double *rss) {
  double cov00, cov01, cov11;
  gsl_fit_linear(x, 1, y, 1, m, c0, c1, &cov00, &cov01, &cov11, rss);
}

int moelab_rate_fit(const double *n, const double *value, size_t rows, const moelab_rate_options *opt,
                    moelab_rate_result *out, moelab_error *err) {
  if (!n || !value || !out) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  moelab_rate_options def;
  moelab_rate_options_init(&def);
  if (!opt) opt = &def;
  if (!(opt->level > 0 && opt->level < 1)) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "level", "level must be in (0, 1)");
  memset(out, 0, sizeof *out);
  row *R = ml_alloc(rows, sizeof(row));
  if (!R) return ml_nomem(err);
  for (size_t i = 0; i < rows; i++) {
    if (!(n[i] > 1) || !isfinite(n[i])) {
      free(R);
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "n", "row %zu: n must be > 1 (got %g)", i + 1, n[i]);
    }
    if (!(value[i] >= 0) || !isfinite(value[i])) {
      free(R);
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "value", "row %zu: values must be >= 0 and finite (got %g)",
                     i + 1, value[i]);
    }
    R[i].n = n[i];
    R[i].v = value[i];
  }
  qsort(R, rows, sizeof(row), cmp_row); /* stable enough: equal n keep an order irrelevant to the means */
  size_t G = 0;
  for (size_t i = 0; i < rows; i++)
    if (i == 0 || R[i].n != R[i - 1].n) G++;
  if (G < 2) {
    free(R);
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "n", "a rate needs at least 2 distinct n (got %zu)", G);
  }
  size_t *start = ml_alloc(G + 1, sizeof(size_t));
  out->n = ml_alloc(G, sizeof(double));
  out->mean = ml_alloc(G, sizeof(double));
  out->sd = ml_alloc(G, sizeof(double));
  out->count = ml_alloc(G, sizeof(size_t));
  double *lx = ml_alloc(G, sizeof(double)), *llx = ml_alloc(G, sizeof(double)), *ly = ml_alloc(G, sizeof(double));
  double *bs = ml_alloc(opt->bootstrap + 1, sizeof(double)), *bl = ml_alloc(opt->bootstrap + 1, sizeof(double));
  gsl_rng *rng = ml_rng_alloc(opt->seed, RATE_STREAM);
  int st = MOELAB_OK;
  if (!start || !out->n || !out->mean || !out->sd || !out->count || !lx || !llx || !ly || !bs || !bl || !rng) {
    st = ml_nomem(err);
    goto out;
  }
  size_t g = 0;
  for (size_t i = 0; i < rows; i++)
    if (i == 0 || R[i].n != R[i - 1].n) start[g++] = i;
  start[G] = rows;
  out->groups = G;
  for (g = 0; g < G; g++) {
    size_t a = start[g], b = start[g + 1];
    double m = 0.0;
    for (size_t i = a; i < b; i++) m += R[i].v;
    m /= (double)(b - a);
    double s = 0.0;
    for (size_t i = a; i < b; i++) s += (R[i].v - m) * (R[i].v - m);
    out->n[g] = R[a].n;
    out->mean[g] = m;
    out->sd[g] = b - a > 1 ? sqrt(s / (double)(b - a - 1)) : 0.0;
    out->count[g] = b - a;
    if (!(m > 0)) {
      st = ml_fail(err, MOELAB_EINVAL, NULL, 0, "value", "every value at n = %g is 0: the log of the mean is undefined",
                   R[a].n);
      goto out;
    }
    lx[g] = log(R[a].n);
    llx[g] = log(lx[g]);
    ly[g] = log(m);
  }
  ols(lx, ly, G, &out->intercept, &out->slope, &out->rss_power);
  double c1;
  ols(llx, ly, G, &out->log_c, &c1, &out->rss_log);
  out->lambda = -c1;
  out->prefer_log = out->rss_log < out->rss_power;
  /* bootstrap: resample the replicates within each n.  A resample whose mean
   * is 0 at some n (possible only when values are exactly 0) has no log-log
   * slope and is left out of the percentiles. */
  size_t B = 0;
  for (size_t b = 0; b < opt->bootstrap; b++) {
    int zero = 0;
    for (g = 0; g < G; g++) {
      size_t a = start[g], m = start[g + 1] - a;
      double s = 0.0;
      for (size_t i = 0; i < m; i++) s += R[a + (size_t)gsl_rng_uniform_int(rng, (unsigned long)m)].v;
      if (s > 0)
        ly[g] = log(s / (double)m);
      else
        zero = 1;
    }
    if (zero) continue;
    double c0, rss;
    ols(lx, ly, G, &c0, &bs[B], &rss);
    ols(llx, ly, G, &c0, &bl[B], &rss);
    bl[B] = -bl[B];
    B++;
  }
  if (B >= 2) {
    gsl_sort(bs, 1, B);
    gsl_sort(bl, 1, B);
    double alpha = (1.0 - opt->level) / 2.0;
    size_t lo = (size_t)floor(alpha * (double)(B - 1)), hi = (size_t)ceil((1.0 - alpha) * (double)(B - 1));
    out->ci_low = bs[lo];
    out->ci_high = bs[hi];
    out->lambda_ci_low = bl[lo];
    out->lambda_ci_high = bl[hi];
  } else {
    out->ci_low = out->ci_high = out->slope;
    out->lambda_ci_low = out->lambda_ci_high = out->lambda;
  }
out:
  free(R);
  free(start);
  free(lx);
  free(llx);
  free(ly);
  free(bs);
  free(bl);
  if (rng) gsl_rng_free(rng);
  if (st) moelab_rate_result_clear(out);
  return st;
}

double moelab_rate_n_for(const moelab_rate_result *r, double eps, int use_log) {
  if (!r || !(eps > 0)) return NAN;
  if (!use_log) {
    if (!(r->slope < 0)) return NAN;
    return exp((log(eps) - r->intercept) / r->slope);
  }
  if (!(r->lambda > 0)) return NAN;
  return exp(exp((r->log_c - log(eps)) / r->lambda));
}
