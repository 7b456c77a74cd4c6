/*
 * l2.c — L²(μ) distances between regression functions.
 *
 * d = 1: Gauss–Legendre (GSL glfixed) on pieces of the support split at every
 * ReLU kink of either model, so the integrand is smooth on each piece; for a
 * normal μ without kinks, Gauss–Hermite (GSL's fixed-point quadrature with
 * weight exp(-(x-m)²/(2s²))).  d > 1: a Sobol sequence (GSL qrng; Halton above
 * 40 dimensions).  The error estimate is the difference to the same rule at
 * half the resolution.
 */
#include "internal.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_qrng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define L2_DEFAULT_NODES 64
#define L2_DEFAULT_QMC 65536
#define L2_NORMAL_SPAN 12.0 /* sd: the normal mass beyond is < 1e-32 */
#define L2_BLOCK 512

/* Squared difference of the two models at the n points xs (d = 1). */
static void sqdiff(const moelab_model *a, const moelab_model *b, const double *xs, size_t n, double *fa, double *fb,
                   double *out) {
  moelab_model_predict(a, xs, n, fa, 1, NULL);
  if (b)
    moelab_model_predict(b, xs, n, fb, 1, NULL);
  else
    memset(fb, 0, n * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    double e = fa[i] - fb[i];
    out[i] = e * e;
  }
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Appends the ReLU kinks x = -b/a of model m that lie in (lo, hi). */
static size_t add_kinks(const moelab_model *m, double lo, double hi, double *kinks, size_t nk) {
  if (!m || m->expert != MOELAB_EXPERT_RELU) return nk;
  for (size_t i = 0; i < m->k; i++) {
    const double *eta = m->theta + i * m->stride + 1 + m->d;
    if (eta[0] == 0.0) continue;
    double x = -eta[1] / eta[0];
    if (x > lo && x < hi) kinks[nk++] = x;
  }
  return nk;
}

/* ∫_lo^hi w(x) (fa - fb)² dx by piecewise Gauss–Legendre with `nodes` points
 * per piece; w is the uniform density (normal == 0) or the N(m, s²) density. */
static int gl_integral(const moelab_model *a, const moelab_model *b, double lo, double hi, int normal, double m,
                       double s, size_t nodes, double *out) {
  if (normal && !(hi > lo)) {
    /* mean ± 12 sd is a single double: the whole mass of the law sits at its mean */
    double fa, fb, sq;
    sqdiff(a, b, &m, 1, &fa, &fb, &sq);
    *out = sq;
    return MOELAB_OK;
  }
  double kinks[2 * MOELAB_MAX_K + 2];
  size_t nk = 0;
  kinks[nk++] = lo;
  nk = add_kinks(a, lo, hi, kinks, nk);
  nk = add_kinks(b, lo, hi, kinks, nk);
  kinks[nk++] = hi;
  qsort(kinks + 1, nk - 2, sizeof(double), cmp_double);
  gsl_integration_glfixed_table *tab = gsl_integration_glfixed_table_alloc(nodes);
  double *xs = ml_alloc(nodes, sizeof(double)), *ws = ml_alloc(nodes, sizeof(double));
  double *fa = ml_alloc(nodes, sizeof(double)), *fb = ml_alloc(nodes, sizeof(double));
  double *sq = ml_alloc(nodes, sizeof(double));
  int st = MOELAB_OK;
  if (!tab || !xs || !ws || !fa || !fb || !sq) {
    st = MOELAB_ENOMEM;
    goto out;
  }
  double total = 0.0;
  for (size_t piece = 0; piece + 1 < nk; piece++) {
    double x0 = kinks[piece], x1 = kinks[piece + 1];
    if (!(x1 > x0)) continue;
    for (size_t i = 0; i < nodes; i++) gsl_integration_glfixed_point(x0, x1, i, &xs[i], &ws[i], tab);
    sqdiff(a, b, xs, nodes, fa, fb, sq);
    for (size_t i = 0; i < nodes; i++) {
      double w = ws[i];
      if (normal) {
        double z = (xs[i] - m) / s;
        w *= exp(-0.5 * z * z) / (s * sqrt(2.0 * ML_PI));
      } else {
        w /= (hi - lo);
      }
      total += w * sq[i];
    }
  }
  *out = total;
out:
  if (tab) gsl_integration_glfixed_table_free(tab); /* GSL's free functions do not accept NULL */
  free(xs);
  free(ws);
  free(fa);
  free(fb);
  free(sq);
  return st;
}

static int gh_integral(const moelab_model *a, const moelab_model *b, double m, double s, size_t nodes,
                       double *out) {
  gsl_integration_fixed_workspace *w =
      gsl_integration_fixed_alloc(gsl_integration_fixed_hermite, nodes, m, 1.0 / (2.0 * s * s), 0.0, 0.0);
  double *fa = ml_alloc(nodes, sizeof(double)), *fb = ml_alloc(nodes, sizeof(double));
  double *sq = ml_alloc(nodes, sizeof(double));
  int st = MOELAB_OK;
  if (!w || !fa || !fb || !sq) {
    st = MOELAB_ENOMEM;
    goto out;
  }
  const double *xs = gsl_integration_fixed_nodes(w), *ws = gsl_integration_fixed_weights(w);
  sqdiff(a, b, xs, nodes, fa, fb, sq);
  double total = 0.0;
  for (size_t i = 0; i < nodes; i++) total += ws[i] * sq[i];
  *out = total / (s * sqrt(2.0 * ML_PI));
out:
  if (w) gsl_integration_fixed_free(w);
  free(fa);
  free(fb);
  free(sq);
  return st;
}

/* Mean of (fa - fb)² over the first `npts` points of a quasi-random sequence
 * mapped to μ; also the mean over the first half, for the error estimate. */
static int qmc_integral(const moelab_model *a, const moelab_model *b, const moelab_input *mu, size_t d, size_t npts,
                        double *full, double *half) {
  gsl_qrng *q = gsl_qrng_alloc(d <= 40 ? gsl_qrng_sobol : gsl_qrng_halton, (unsigned)d);
  double *u = ml_alloc(d, sizeof(double));
  double *X = ml_alloc(L2_BLOCK * d, sizeof(double));
  double *fa = ml_alloc(L2_BLOCK, sizeof(double)), *fb = ml_alloc(L2_BLOCK, sizeof(double));
  double *sq = ml_alloc(L2_BLOCK, sizeof(double));
  int st = MOELAB_OK;
  if (!q || !u || !X || !fa || !fb || !sq) {
    st = MOELAB_ENOMEM;
    goto out;
  }
  gsl_qrng_get(q, u); /* skip the origin: it maps to -inf under a normal law */
  double sum = 0.0, sum_half = 0.0;
  size_t done = 0;
  while (done < npts) {
    size_t m = npts - done < L2_BLOCK ? npts - done : L2_BLOCK;
    for (size_t r = 0; r < m; r++) {
      gsl_qrng_get(q, u);
      for (size_t j = 0; j < d; j++) {
        double v = u[j];
        if (mu->law == MOELAB_LAW_NORMAL) {
          if (v <= 0) v = 0x1p-60;
          if (v >= 1) v = 1 - 0x1p-53;
          X[r * d + j] = mu->a[j] + mu->b[j] * gsl_cdf_ugaussian_Pinv(v);
        } else {
          X[r * d + j] = mu->a[j] + (mu->b[j] - mu->a[j]) * v;
        }
      }
    }
    moelab_model_predict(a, X, m, fa, 1, NULL);
    if (b)
      moelab_model_predict(b, X, m, fb, 1, NULL);
    else
      memset(fb, 0, m * sizeof(double));
    for (size_t r = 0; r < m; r++) {
      double e = fa[r] - fb[r];
      sum += e * e;
      if (done + r < npts / 2) sum_half += e * e;
    }
    done += m;
  }
  *full = sum / (double)npts;
  *half = npts >= 2 ? sum_half / (double)(npts / 2) : *full;
out:
  gsl_qrng_free(q);
  free(u);
  free(X);
  free(fa);
  free(fb);
  free(sq);
  return st;
}

int moelab_l2_distance(const moelab_model *a, const moelab_model *b, const moelab_input *mu,
                       const moelab_l2_options *opt, double *dist, double *abs_err, moelab_error *err) {
  if (!a || !dist) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (b && b->d != a->d)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "d", "the models have different input dimensions (%zu, %zu)", a->d,
                   b->d);
  if (!mu) {
    if (a->has_input)
      mu = &a->input;
    else if (b && b->has_input)
      mu = &b->input;
    else
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "input", "no input law μ: neither model has an \"input\" member");
  }
  int st = ml_input_check(mu, a->d, NULL, "input", err);
  if (st) return st;
  size_t nodes = opt && opt->nodes ? opt->nodes : L2_DEFAULT_NODES;
  size_t npts = opt && opt->qmc_points ? opt->qmc_points : L2_DEFAULT_QMC;
  if (nodes < 2) nodes = 2;
  double full = 0.0, half = 0.0;
  if (a->d == 1) {
    int kinks = a->expert == MOELAB_EXPERT_RELU || (b && b->expert == MOELAB_EXPERT_RELU);
    /* Gauss-Hermite needs the weight exp(-c (x-m)²) with c = 1/(2 sd²) a positive double: not so for sd
     * beyond about 1e±154, where Gauss-Legendre on mean ± 12 sd still works */
    double c = 1.0 / (2.0 * mu->b[0] * mu->b[0]);
    if (mu->law == MOELAB_LAW_NORMAL && !kinks && isfinite(c) && c > 0) {
      st = gh_integral(a, b, mu->a[0], mu->b[0], nodes, &full);
      if (!st) st = gh_integral(a, b, mu->a[0], mu->b[0], nodes / 2 > 0 ? nodes / 2 : 1, &half);
    } else {
      int normal = mu->law == MOELAB_LAW_NORMAL;
      double lo = normal ? mu->a[0] - L2_NORMAL_SPAN * mu->b[0] : mu->a[0];
      double hi = normal ? mu->a[0] + L2_NORMAL_SPAN * mu->b[0] : mu->b[0];
      st = gl_integral(a, b, lo, hi, normal, mu->a[0], mu->b[0], nodes, &full);
      if (!st) st = gl_integral(a, b, lo, hi, normal, mu->a[0], mu->b[0], nodes / 2, &half);
    }
  } else {
    st = qmc_integral(a, b, mu, a->d, npts, &full, &half);
  }
  if (st) return st == MOELAB_ENOMEM ? ml_nomem(err) : st;
  if (!isfinite(full)) return ml_fail(err, MOELAB_ENUMERIC, NULL, 0, NULL, "the L2 integral is not finite");
  if (full < 0) full = 0;
  if (half < 0) half = 0;
  *dist = sqrt(full);
  if (abs_err) *abs_err = fabs(sqrt(full) - sqrt(half));
  return MOELAB_OK;
}
