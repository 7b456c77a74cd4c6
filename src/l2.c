/*
 * l2.c — quadrature rules for the input law μ, and L²(μ) distances between
 * regression functions.
 *
 * d = 1: Gauss–Legendre (GSL glfixed) on pieces of the support split at every
 * ReLU kink of the models involved (so the integrand is smooth on each piece)
 * and, optionally, into equal pieces; for a normal μ without kinks,
 * Gauss–Hermite (GSL's fixed-point rule with weight exp(-(x-m)²/(2s²))), and
 * with kinks Gauss–Legendre on mean ± 12 sd (the mass outside is < 1e-32).
 * d > 1: a Sobol sequence (GSL qrng; Halton above 40 dimensions) mapped to μ,
 * equal weights.  The error estimate of a distance is its difference to the
 * same rule at half the resolution.
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
#define L2_NORMAL_SPAN 12.0

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

void ml_quad_free(ml_quad *q) {
  if (!q) return;
  free(q->X);
  free(q->w);
  q->X = q->w = NULL;
  q->n = 0;
}

static int quad_alloc(ml_quad *q, size_t n, size_t d) {
  q->n = n;
  q->d = d;
  q->X = ml_alloc(n * d, sizeof(double));
  q->w = ml_alloc(n, sizeof(double));
  if (!q->X || !q->w) {
    ml_quad_free(q);
    return MOELAB_ENOMEM;
  }
  return MOELAB_OK;
}

/* d = 1, Gauss–Legendre on [lo, hi] split at kinks and into `pieces` equal parts. */
static int quad_gl(const moelab_model *const *models, size_t nm, double lo, double hi, int normal, double mean,
                   double sd, size_t nodes, size_t pieces, ml_quad *q) {
  if (pieces < 1) pieces = 1;
  if (!(hi > lo)) {
    /* mean ± 12 sd is a single double: the whole mass of the law sits at its mean */
    if (quad_alloc(q, 1, 1)) return MOELAB_ENOMEM;
    q->X[0] = normal ? mean : lo;
    q->w[0] = 1.0;
    return MOELAB_OK;
  }
  size_t cap = pieces + 1 + 2 * MOELAB_MAX_K * nm + 2;
  double *cuts = ml_alloc(cap, sizeof(double));
  if (!cuts) return MOELAB_ENOMEM;
  size_t nc = 0;
  for (size_t i = 0; i <= pieces; i++) cuts[nc++] = lo + (hi - lo) * ((double)i / (double)pieces);
  cuts[pieces] = hi;
  for (size_t m = 0; m < nm; m++) nc = add_kinks(models[m], lo, hi, cuts, nc);
  qsort(cuts, nc, sizeof(double), cmp_double);
  size_t u = 0;
  for (size_t i = 0; i < nc; i++)
    if (u == 0 || cuts[i] > cuts[u - 1]) cuts[u++] = cuts[i];
  nc = u;
  gsl_integration_glfixed_table *tab = gsl_integration_glfixed_table_alloc(nodes);
  if (!tab || quad_alloc(q, (nc - 1) * nodes, 1)) {
    if (tab) gsl_integration_glfixed_table_free(tab); /* GSL's free functions do not accept NULL */
    free(cuts);
    return MOELAB_ENOMEM;
  }
  size_t r = 0;
  for (size_t piece = 0; piece + 1 < nc; piece++)
    for (size_t i = 0; i < nodes; i++, r++) {
      double x, w;
      gsl_integration_glfixed_point(cuts[piece], cuts[piece + 1], i, &x, &w, tab);
      if (normal) {
        double z = (x - mean) / sd;
        w *= exp(-0.5 * z * z) / (sd * sqrt(2.0 * ML_PI));
      } else {
        w /= (hi - lo);
      }
      q->X[r] = x;
      q->w[r] = w;
    }
  gsl_integration_glfixed_table_free(tab);
  free(cuts);
  return MOELAB_OK;
}

static int quad_gh(double mean, double sd, size_t nodes, ml_quad *q) {
  gsl_integration_fixed_workspace *w =
      gsl_integration_fixed_alloc(gsl_integration_fixed_hermite, nodes, mean, 1.0 / (2.0 * sd * sd), 0.0, 0.0);
  if (!w || quad_alloc(q, nodes, 1)) {
    if (w) gsl_integration_fixed_free(w);
    return MOELAB_ENOMEM;
  }
  const double *xs = gsl_integration_fixed_nodes(w), *ws = gsl_integration_fixed_weights(w);
  for (size_t i = 0; i < nodes; i++) {
    q->X[i] = xs[i];
    q->w[i] = ws[i] / (sd * sqrt(2.0 * ML_PI));
  }
  gsl_integration_fixed_free(w);
  return MOELAB_OK;
}

static int quad_qmc(const moelab_input *mu, size_t d, size_t npts, ml_quad *q) {
  gsl_qrng *g = gsl_qrng_alloc(d <= 40 ? gsl_qrng_sobol : gsl_qrng_halton, (unsigned)d);
  double *u = ml_alloc(d, sizeof(double));
  if (!g || !u || quad_alloc(q, npts, d)) {
    if (g) gsl_qrng_free(g);
    free(u);
    return MOELAB_ENOMEM;
  }
  gsl_qrng_get(g, u); /* skip the origin: it maps to -inf under a normal law */
  for (size_t r = 0; r < npts; r++) {
    gsl_qrng_get(g, u);
    for (size_t j = 0; j < d; j++) {
      double v = u[j];
      if (mu->law == MOELAB_LAW_NORMAL) {
        if (v <= 0) v = 0x1p-60;
        if (v >= 1) v = 1 - 0x1p-53;
        q->X[r * d + j] = mu->a[j] + mu->b[j] * gsl_cdf_ugaussian_Pinv(v);
      } else {
        q->X[r * d + j] = mu->a[j] + (mu->b[j] - mu->a[j]) * v;
      }
    }
    q->w[r] = 1.0 / (double)npts;
  }
  gsl_qrng_free(g);
  free(u);
  return MOELAB_OK;
}

int ml_quad_build(const moelab_input *mu, size_t d, const moelab_model *const *models, size_t nm, size_t nodes,
                  size_t pieces, size_t qmc_points, ml_quad *q) {
  memset(q, 0, sizeof *q);
  if (nodes < 1) nodes = L2_DEFAULT_NODES;
  if (qmc_points < 1) qmc_points = L2_DEFAULT_QMC;
  if (d > 1) return quad_qmc(mu, d, qmc_points, q);
  int kinks = 0;
  for (size_t m = 0; m < nm; m++)
    if (models[m] && models[m]->expert == MOELAB_EXPERT_RELU) kinks = 1;
  if (mu->law == MOELAB_LAW_NORMAL) {
    /* Gauss–Hermite needs the weight exp(-c (x-m)²) with c = 1/(2 sd²) a positive double: not so for sd
     * beyond about 1e±154, where Gauss–Legendre on mean ± 12 sd still works */
    double c = 1.0 / (2.0 * mu->b[0] * mu->b[0]);
    if (!kinks && pieces <= 1 && isfinite(c) && c > 0) return quad_gh(mu->a[0], mu->b[0], nodes, q);
    double lo = mu->a[0] - L2_NORMAL_SPAN * mu->b[0], hi = mu->a[0] + L2_NORMAL_SPAN * mu->b[0];
    return quad_gl(models, nm, lo, hi, 1, mu->a[0], mu->b[0], nodes, pieces, q);
  }
  return quad_gl(models, nm, mu->a[0], mu->b[0], 0, 0.0, 1.0, nodes, pieces, q);
}

/* Σ_q w_q (f_a(x_q) - f_b(x_q))² (b may be NULL). */
static int quad_sqdist(const moelab_model *a, const moelab_model *b, const ml_quad *q, double *out) {
  double *fa = ml_alloc(q->n, sizeof(double)), *fb = ml_alloc(q->n, sizeof(double));
  if (!fa || !fb) {
    free(fa);
    free(fb);
    return MOELAB_ENOMEM;
  }
  int st = moelab_model_predict(a, q->X, q->n, fa, 1, NULL);
  if (!st && b)
    st = moelab_model_predict(b, q->X, q->n, fb, 1, NULL);
  else if (!st)
    memset(fb, 0, q->n * sizeof(double));
  if (st) {
    free(fa);
    free(fb);
    return st;
  }
  double s = 0.0;
  for (size_t i = 0; i < q->n; i++) s += q->w[i] * (fa[i] - fb[i]) * (fa[i] - fb[i]);
  free(fa);
  free(fb);
  *out = s;
  return MOELAB_OK;
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
  if (npts < 2) npts = 2;
  const moelab_model *models[2] = {a, b};
  ml_quad q1, q2;
  double full = 0.0, half = 0.0;
  if (ml_quad_build(mu, a->d, models, b ? 2 : 1, nodes, 1, npts, &q1)) return ml_nomem(err);
  st = quad_sqdist(a, b, &q1, &full);
  ml_quad_free(&q1);
  if (st) return ml_nomem(err);
  if (ml_quad_build(mu, a->d, models, b ? 2 : 1, nodes / 2, 1, npts / 2, &q2)) return ml_nomem(err);
  st = quad_sqdist(a, b, &q2, &half);
  ml_quad_free(&q2);
  if (st) return ml_nomem(err);
  if (!isfinite(full)) return ml_fail(err, MOELAB_ENUMERIC, NULL, 0, NULL, "the L2 integral is not finite");
  if (full < 0) full = 0;
  if (half < 0) half = 0;
  *dist = sqrt(full);
  if (abs_err) *abs_err = fabs(sqrt(full) - sqrt(half));
  return MOELAB_OK;
}

int ml_contributions(const moelab_model *m, const ml_quad *q, double *contrib) {
  size_t k = m->k;
  double *G = ml_alloc(q->n * k, sizeof(double)), *H = ml_alloc(q->n * k, sizeof(double));
  if (!G || !H) {
    free(G);
    free(H);
    return MOELAB_ENOMEM;
  }
  if (moelab_model_components(m, q->X, q->n, G, H, NULL)) {
    free(G);
    free(H);
    return MOELAB_ENOMEM;
  }
  for (size_t i = 0; i < k; i++) {
    double s = 0.0;
    for (size_t r = 0; r < q->n; r++) {
      double v = G[r * k + i] * H[r * k + i];
      s += q->w[r] * v * v;
    }
    contrib[i] = sqrt(s);
  }
  free(G);
  free(H);
  return MOELAB_OK;
}
