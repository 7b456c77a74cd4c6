/*
 * init.c — starting points of the fitter.
 *
 * random: for each atom, a data row x_c drawn uniformly; gate slopes
 *   β1_j ~ N(0, (2/h_j)²) with h_j the half-range of column j, and
 *   β0 = -β1ᵀx_c, so every gate's boundary passes through the data; expert
 *   slopes a_j ~ N(0, (s_y/h_j)²), intercept b = ȳ + s_y N(0,1) - aᵀx_c
 *   (linear, relu, gelu); for poly of degree p the scale s_y^(1/p); for
 *   sigmoid and tanh experts a_j ~ N(0, (2/h_j)²), b = -aᵀx_c + N(0,1);
 *   constant c = ȳ + s_y N(0,1).
 * kmeans: k-means++ then Lloyd (at most 50 rounds) on standardised (x, y)
 *   of at most 20000 rows drawn without replacement; each cluster i gives an
 *   expert by least squares of y on x within the cluster (of atanh(y) or
 *   logit(y) for tanh and sigmoid experts, of sign(y)|y|^(1/p) for poly; the
 *   cluster mean for constant) and a gate centred on the cluster: softmax
 *   scores γ m_iᵀx - γ‖m_i‖²/2 in standardised units (m_i the centroid,
 *   γ = 1/(mean within-cluster variance)); sigmoid gates
 *   σ(γ (m_i - m̄)ᵀ(x - (m_i + m̄)/2)) with m̄ the centroid of all rows.
 * model: the given model; while it has fewer than k atoms, the atom chosen by
 *   `split` (default: the heaviest, weight σ(β0) or exp(β0)) becomes two
 *   copies whose weights add up to the original, the first copy carrying the
 *   fraction f = split_fraction (default 1/2) of it and the second 1 - f
 *   (sigmoid: σ(β0') = f σ(β0); softmax: β0' = β0 + log f), the second copy
 *   placed right after the original.
 *   Then every parameter moves by perturb · max(|θ_j|, 1) · z_j, z_j ~ N(0, 1).
 * Every start is clamped into Θ (and, for softmax, moved to the gauge).
 */
#include "fit_internal.h"

#include <gsl/gsl_randist.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double half_range(const fit_problem *P, size_t j) {
  double h = 0.5 * (P->sum.xmax[j] - P->sum.xmin[j]);
  return h > 0 ? h : 1.0;
}

static double yscale(const fit_problem *P) {
  double s = P->sum.ysd;
  if (!(s > 0)) s = fabs(P->sum.ymean);
  return s > 0 ? s : 1.0;
}

static void random_theta(const fit_problem *P, gsl_rng *rng, double *theta) {
  const size_t d = P->d, k = P->s.k, stride = P->s.stride;
  const double sy = yscale(P);
  for (size_t i = 0; i < k; i++) {
    double *t = theta + i * stride;
    size_t row = (size_t)gsl_rng_uniform_int(rng, (unsigned long)P->n);
    const double *xc = P->X + row * d;
    double dotb = 0.0;
    for (size_t j = 0; j < d; j++) {
      t[1 + j] = gsl_ran_gaussian_ziggurat(rng, 2.0 / half_range(P, j));
      dotb += t[1 + j] * xc[j];
    }
    t[0] = -dotb;
    double *eta = t + 1 + d;
    switch (P->s.expert) {
    case MOELAB_EXPERT_CONSTANT:
      eta[0] = P->sum.ymean + sy * gsl_ran_gaussian_ziggurat(rng, 1.0);
      break;
    case MOELAB_EXPERT_SIGMOID:
    case MOELAB_EXPERT_TANH: {
      double ax = 0.0;
      for (size_t j = 0; j < d; j++) {
        eta[j] = gsl_ran_gaussian_ziggurat(rng, 2.0 / half_range(P, j));
        ax += eta[j] * xc[j];
      }
      eta[d] = -ax + gsl_ran_gaussian_ziggurat(rng, 1.0);
      break;
    }
    default: {
      double s = P->s.expert == MOELAB_EXPERT_POLY ? pow(sy, 1.0 / P->s.degree) : sy;
      double base = P->s.expert == MOELAB_EXPERT_POLY ? 0.0 : P->sum.ymean;
      double ax = 0.0;
      for (size_t j = 0; j < d; j++) {
        eta[j] = gsl_ran_gaussian_ziggurat(rng, s / half_range(P, j));
        ax += eta[j] * xc[j];
      }
      eta[d] = base + s * gsl_ran_gaussian_ziggurat(rng, 1.0) - ax;
    }
    }
  }
}

/* ---------------------------------------------------------------- kmeans */

static double sqdist(const double *a, const double *b, size_t m) {
  double s = 0.0;
  for (size_t j = 0; j < m; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

/* The transformed response an expert family is linear in (see the header). */
static double link(const fit_problem *P, double y) {
  switch (P->s.expert) {
  case MOELAB_EXPERT_TANH: {
    double v = y < -0.95 ? -0.95 : y > 0.95 ? 0.95 : y;
    return atanh(v);
  }
  case MOELAB_EXPERT_SIGMOID: {
    double v = y < 0.05 ? 0.05 : y > 0.95 ? 0.95 : y;
    return log(v / (1 - v));
  }
  case MOELAB_EXPERT_POLY:
    return P->s.degree == 1 ? y : copysign(pow(fabs(y), 1.0 / P->s.degree), y);
  default: return y;
  }
}

static int kmeans_theta(const fit_problem *P, gsl_rng *rng, double *theta) {
  const size_t d = P->d, k = P->s.k, stride = P->s.stride, m = d + 1;
  size_t ns = P->n < 20000 ? P->n : 20000;
  size_t *rows = ml_alloc(P->n, sizeof(size_t));
  double *Z = ml_alloc(ns * m, sizeof(double)), *C = ml_alloc(k * m, sizeof(double));
  double *dist = ml_alloc(ns, sizeof(double)), *cnt = ml_alloc(k, sizeof(double));
  size_t *lab = ml_alloc(ns, sizeof(size_t));
  double *A = ml_alloc(m * m, sizeof(double)), *bvec = ml_alloc(m, sizeof(double));
  int st = MOELAB_OK;
  if (!rows || !Z || !C || !dist || !cnt || !lab || !A || !bvec) {
    st = MOELAB_ENOMEM;
    goto out;
  }
  /* a sample of rows without replacement (partial Fisher–Yates) */
  for (size_t i = 0; i < P->n; i++) rows[i] = i;
  for (size_t i = 0; i < ns; i++) {
    size_t j = i + (size_t)gsl_rng_uniform_int(rng, (unsigned long)(P->n - i));
    size_t t = rows[i];
    rows[i] = rows[j];
    rows[j] = t;
  }
  const double sy = yscale(P);
  for (size_t i = 0; i < ns; i++) {
    const double *x = P->X + rows[i] * d;
    for (size_t j = 0; j < d; j++) {
      double s = P->sum.xsd[j] > 0 ? P->sum.xsd[j] : 1.0;
      Z[i * m + j] = (x[j] - P->sum.xmean[j]) / s;
    }
    Z[i * m + d] = (P->y[rows[i]] - P->sum.ymean) / sy;
  }
  /* k-means++ */
  size_t first = (size_t)gsl_rng_uniform_int(rng, (unsigned long)ns);
  memcpy(C, Z + first * m, m * sizeof(double));
  for (size_t i = 0; i < ns; i++) dist[i] = sqdist(Z + i * m, C, m);
  for (size_t c = 1; c < k; c++) {
    double tot = 0.0;
    for (size_t i = 0; i < ns; i++) tot += dist[i];
    size_t pick = 0;
    if (tot > 0) {
      double u = gsl_rng_uniform(rng) * tot, acc = 0.0;
      for (pick = 0; pick + 1 < ns; pick++) {
        acc += dist[pick];
        if (acc > u) break;
      }
    } else {
      pick = (size_t)gsl_rng_uniform_int(rng, (unsigned long)ns);
    }
    memcpy(C + c * m, Z + pick * m, m * sizeof(double));
    for (size_t i = 0; i < ns; i++) {
      double dd = sqdist(Z + i * m, C + c * m, m);
      if (dd < dist[i]) dist[i] = dd;
    }
  }
  /* Lloyd */
  for (int round = 0; round < 50; round++) {
    int changed = round == 0;
    for (size_t i = 0; i < ns; i++) {
      size_t bi = 0;
      double bd = INFINITY;
      for (size_t c = 0; c < k; c++) {
        double dd = sqdist(Z + i * m, C + c * m, m);
        if (dd < bd) {
          bd = dd;
          bi = c;
        }
      }
      if (round == 0 || lab[i] != bi) changed = 1;
      lab[i] = bi;
    }
    if (!changed) break;
    memset(C, 0, k * m * sizeof(double));
    memset(cnt, 0, k * sizeof(double));
    for (size_t i = 0; i < ns; i++) {
      cnt[lab[i]] += 1;
      for (size_t j = 0; j < m; j++) C[lab[i] * m + j] += Z[i * m + j];
    }
    for (size_t c = 0; c < k; c++) {
      if (cnt[c] > 0)
        for (size_t j = 0; j < m; j++) C[c * m + j] /= cnt[c];
      else /* an empty cluster restarts at a random row */
        memcpy(C + c * m, Z + (size_t)gsl_rng_uniform_int(rng, (unsigned long)ns) * m, m * sizeof(double));
    }
  }
  /* within-cluster variance in x (standardised), for γ */
  double wss = 0.0;
  for (size_t i = 0; i < ns; i++) wss += sqdist(Z + i * m, C + lab[i] * m, d);
  double gamma = wss > 0 ? (double)(ns * d) / wss : 1.0;
  if (gamma > 50) gamma = 50;
  double *mbar = bvec; /* reused below; centroid of all rows in standardised x is 0 */
  (void)mbar;
  for (size_t c = 0; c < k; c++) {
    double *t = theta + c * stride;
    const double *mc = C + c * m;
    /* gate, standardised units u_j = (x_j - x̄_j)/s_j, then back to x */
    double b0u = 0.0;
    double *b1u = t + 1;
    if (P->s.gate == MOELAB_GATE_SOFTMAX) {
      double nn = 0.0;
      for (size_t j = 0; j < d; j++) {
        b1u[j] = gamma * mc[j];
        nn += mc[j] * mc[j];
      }
      b0u = -0.5 * gamma * nn;
    } else {
      double s = 0.0;
      for (size_t j = 0; j < d; j++) {
        b1u[j] = gamma * mc[j];
        s += gamma * mc[j] * 0.5 * mc[j];
      }
      b0u = -s;
      if (k == 1) b0u = 3.0;
    }
    /* back to x units: β1_j = b1u_j / s_j, β0 = b0u - Σ β1_j x̄_j */
    double beta0 = b0u;
    for (size_t j = 0; j < d; j++) {
      double s = P->sum.xsd[j] > 0 ? P->sum.xsd[j] : 1.0;
      t[1 + j] = b1u[j] / s;
      beta0 -= t[1 + j] * P->sum.xmean[j];
    }
    t[0] = beta0;
    /* expert: least squares of link(y) on (x, 1) over the cluster's rows (ridge 1e-8) */
    double *eta = t + 1 + d;
    size_t members = 0;
    double ysum = 0.0;
    memset(A, 0, m * m * sizeof(double));
    double rhs[MOELAB_MAX_D + 1];
    memset(rhs, 0, m * sizeof(double));
    for (size_t i = 0; i < ns; i++) {
      if (lab[i] != c) continue;
      members++;
      const double *x = P->X + rows[i] * d;
      double yl = link(P, P->y[rows[i]]);
      ysum += P->y[rows[i]];
      for (size_t a = 0; a < m; a++) {
        double va = a < d ? x[a] : 1.0;
        rhs[a] += va * yl;
        for (size_t b = 0; b < m; b++) A[a * m + b] += va * (b < d ? x[b] : 1.0);
      }
    }
    if (P->s.expert == MOELAB_EXPERT_CONSTANT) {
      eta[0] = members ? ysum / (double)members : P->sum.ymean;
      continue;
    }
    int solved = 0;
    if (members > d + 1 && m <= MOELAB_MAX_D + 1) {
      double tr = 0.0;
      for (size_t a = 0; a < m; a++) tr += A[a * m + a];
      for (size_t a = 0; a < m; a++) A[a * m + a] += 1e-8 * (tr / (double)m + 1.0);
      if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, 1, A, (lapack_int)m, rhs, 1) == 0) {
        solved = 1;
        for (size_t a = 0; a < m; a++)
          if (!isfinite(rhs[a])) solved = 0;
      }
    }
    for (size_t a = 0; a < m; a++) eta[a] = solved ? rhs[a] : (a == d ? link(P, P->sum.ymean) : 0.0);
    /* sigmoid gates are about 1/2 inside their cluster: double the expert there */
    if (P->s.gate == MOELAB_GATE_SIGMOID && k > 1 &&
        (ml_expert_affine(P->s.expert, P->s.degree) || P->s.expert == MOELAB_EXPERT_RELU ||
         P->s.expert == MOELAB_EXPERT_GELU))
      for (size_t a = 0; a < m; a++) eta[a] *= 2.0;
  }
out:
  free(rows);
  free(Z);
  free(C);
  free(dist);
  free(cnt);
  free(lab);
  free(A);
  free(bvec);
  return st;
}

/* ----------------------------------------------------------------- model */

static double weight_of(moelab_gate g, double beta0) {
  return g == MOELAB_GATE_SIGMOID ? 1.0 / (1.0 + exp(-beta0)) : exp(beta0);
}

int fit_init_from_model(const fit_problem *P, const moelab_fit_options *opt, gsl_rng *rng, double *theta,
                        moelab_error *err) {
  const moelab_model *m0 = opt->init_model;
  const size_t stride = P->s.stride, k = P->s.k;
  size_t have = m0->k;
  memcpy(theta, m0->theta, have * stride * sizeof(double));
  size_t next_split = 0;
  while (have < k) {
    size_t at;
    if (opt->split && next_split < opt->nsplit) {
      at = opt->split[next_split++];
      if (at >= have)
        return ml_fail(err, MOELAB_EINVAL, NULL, 0, "split", "split index %zu is not an atom (there are %zu)", at,
                       have);
    } else {
      at = 0;
      for (size_t i = 1; i < have; i++)
        if (weight_of(opt->gate, theta[i * stride]) > weight_of(opt->gate, theta[at * stride])) at = i;
    }
    memmove(theta + (at + 2) * stride, theta + (at + 1) * stride, (have - at - 1) * stride * sizeof(double));
    memcpy(theta + (at + 1) * stride, theta + at * stride, stride * sizeof(double));
    /* the copies carry the fractions f and 1 - f of the atom's weight */
    double b0 = theta[at * stride], f = opt->split_fraction > 0 && opt->split_fraction < 1 ? opt->split_fraction : 0.5;
    double nb[2];
    for (int c = 0; c < 2; c++) {
      double frac = c == 0 ? f : 1.0 - f;
      if (opt->gate == MOELAB_GATE_SIGMOID) {
        double part = frac / (1.0 + exp(-b0));
        nb[c] = log(part / (1.0 - part));
      } else {
        nb[c] = b0 + log(frac);
      }
    }
    theta[at * stride] = nb[0];
    theta[(at + 1) * stride] = nb[1];
    have++;
  }
  if (opt->perturb > 0)
    for (size_t j = 0; j < P->s.p; j++) {
      double a = fabs(theta[j]);
      theta[j] += opt->perturb * (a > 1.0 ? a : 1.0) * gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
  return MOELAB_OK;
}

int fit_init_theta(const fit_problem *P, const moelab_fit_options *opt, gsl_rng *rng, double *theta,
                   moelab_error *err) {
  switch (opt->init) {
  case MOELAB_INIT_RANDOM: random_theta(P, rng, theta); return MOELAB_OK;
  case MOELAB_INIT_KMEANS:
    if (kmeans_theta(P, rng, theta)) return ml_nomem(err);
    return MOELAB_OK;
  case MOELAB_INIT_MODEL: return fit_init_from_model(P, opt, rng, theta, err);
  }
  return ml_fail(err, MOELAB_EINVAL, NULL, 0, "init", "unknown initialisation");
}
