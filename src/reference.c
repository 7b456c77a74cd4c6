/*
 * reference.c — the reference measure Ḡ: the k-atom model in Θ closest to
 * the truth in L²(μ), computed by the fitter on a fixed noiseless design.
 *
 * Design: d = 1, Gauss–Legendre with `nodes` points on each of `pieces`
 * equal parts of the support (split further at the truth's ReLU kinks), with
 * the quadrature weights as observation weights, so the weighted SSE is the
 * quadrature of ‖f_G - f_G*‖²; d > 1, `qmc_points` Sobol points with equal
 * weights.  Rules: local = the study's start (the truth with atoms split,
 * perturbed on `restarts` streams), global = the local starts plus
 * `restarts` random and `restarts` k-means starts; the best wins.  The
 * report gives the L²(μ) distance to the truth on an independent accurate
 * rule, each atom's contribution ‖g_i h_i‖, parameters on Θ's boundary and
 * the smallest eigenvalues of JᵀJ on the design (gauge-fixed for softmax),
 * relative to the largest: a value near 0 flags a non-isolated minimum.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void moelab_reference_options_init(moelab_reference_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->gate = (moelab_gate)-1;
  opt->box.beta0_lo = opt->box.beta1_lo = opt->box.eta_lo = -10.0;
  opt->box.beta0_hi = opt->box.beta1_hi = opt->box.eta_hi = 10.0;
  opt->rule = MOELAB_REF_LOCAL;
  opt->perturb = 0.1;
  opt->split_fraction = 0.5;
  opt->restarts = 8;
  opt->nodes = 16;
  opt->pieces = 64;
  opt->qmc_points = 16384;
  opt->max_iter = 5000;
}

void moelab_reference_report_free(moelab_reference_report *r) {
  if (!r) return;
  free(r->contribution);
  free(r->at_bound);
  free(r);
}

/* Smallest eigenvalues of JᵀJ (gauge-fixed) over the largest, on the design. */
static int eigen_summary(const moelab_model *m, const ml_quad *q, moelab_reference_report *rep) {
  const size_t p = m->p, d = m->d, stride = m->stride, k = m->k;
  const int gauge = m->gate == MOELAB_GATE_SOFTMAX;
  const size_t np = p - (gauge ? 1 + d : 0);
  double *J = ml_alloc(q->n * p, sizeof(double)), *A = ml_zalloc(np * np, sizeof(double));
  double *ev = ml_alloc(np, sizeof(double)), *row = ml_alloc(np, sizeof(double));
  if (!J || !A || !ev || !row) {
    free(J);
    free(A);
    free(ev);
    free(row);
    return MOELAB_ENOMEM;
  }
  if (moelab_model_jacobian(m, q->X, q->n, NULL, J, NULL)) {
    free(J);
    free(A);
    free(ev);
    free(row);
    return MOELAB_ENOMEM;
  }
  for (size_t r = 0; r < q->n; r++) {
    const double *jr = J + r * p;
    double s = sqrt(q->w[r]);
    size_t c = 0;
    for (size_t i = 0; i < k; i++)
      for (size_t j = 0; j < stride; j++) {
        if (gauge && i + 1 == k && j <= d) continue; /* atom k's gate: dependent */
        double v = jr[i * stride + j];
        if (gauge && i + 1 < k && j <= d) v -= jr[(k - 1) * stride + j];
        row[c++] = s * v;
      }
    for (size_t a = 0; a < np; a++)
      for (size_t b = a; b < np; b++) A[a * np + b] += row[a] * row[b];
  }
  int st = MOELAB_OK;
  if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)np, A, (lapack_int)np, ev) != 0) {
    st = MOELAB_ENUMERIC;
  } else {
    double mx = ev[np - 1] > 0 ? ev[np - 1] : 1.0;
    rep->neig = np < 3 ? np : 3;
    for (size_t i = 0; i < rep->neig; i++) rep->eig[i] = ev[i] / mx;
    rep->degenerate = rep->eig[0] <= 1e-10;
  }
  free(J);
  free(A);
  free(ev);
  free(row);
  return st;
}

int moelab_reference(const moelab_model *truth, const moelab_reference_options *opt, moelab_model **gbar,
                     moelab_reference_report **report, moelab_error *err) {
  if (!truth || !opt || !gbar) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (!truth->has_input)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "input", "the truth has no input law μ: Ḡ minimises an L²(μ) distance");
  moelab_gate gate = (int)opt->gate < 0 ? truth->gate : opt->gate;
  if (opt->k < 1) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "k must be >= 1");
  if (gate == truth->gate && opt->k < truth->k)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "k = %zu is smaller than the truth's k = %zu", opt->k, truth->k);
  const moelab_input *mu = &truth->input;
  const size_t d = truth->d;
  const moelab_model *tm[1] = {truth};
  ml_quad q;
  double *y = NULL;
  moelab_model *best = NULL;
  moelab_fit_report *best_rep = NULL;
  moelab_reference_report *rep = NULL;
  int st = ml_quad_build(mu, d, tm, 1, opt->nodes ? opt->nodes : 16, opt->pieces ? opt->pieces : 64,
                         opt->qmc_points ? opt->qmc_points : 16384, &q);
  if (st) return ml_nomem(err);
  y = ml_alloc(q.n, sizeof(double));
  rep = ml_zalloc(1, sizeof *rep);
  if (!y || !rep) {
    st = ml_nomem(err);
    goto out;
  }
  st = moelab_model_predict(truth, q.X, q.n, y, 1, err);
  if (st) goto out;
  moelab_data_view v = {q.n, d, q.X, y};
  moelab_fit_options fo;
  moelab_fit_options_init(&fo);
  fo.gate = gate;
  fo.expert = truth->expert;
  fo.degree = truth->degree;
  fo.k = opt->k;
  fo.box = opt->box;
  fo.weights = q.w;
  fo.max_iter = opt->max_iter ? opt->max_iter : 5000;
  fo.threads = opt->threads;
  fo.seed = opt->seed;
  fo.restarts = opt->restarts ? opt->restarts : 8;
  fo.compute_se = 0;
  /* Ḡ is fitted once and every loss is measured against it: no kink stop for ReLU
   * experts, the fit runs until a negligible step (precision over time) */
  fo.kink_tol = 0;
  /* the local rule: the truth's atoms, split (and perturbed) */
  if (truth->k <= opt->k) {
    fo.init = MOELAB_INIT_MODEL;
    fo.init_model = truth;
    fo.perturb = opt->perturb;
    fo.split_fraction = opt->split_fraction > 0 ? opt->split_fraction : 0.5;
    fo.split = opt->split;
    fo.nsplit = opt->nsplit;
    st = moelab_fit(&v, &fo, &best, &best_rep, err);
    if (st) goto out;
  }
  if (opt->rule == MOELAB_REF_GLOBAL || truth->k > opt->k) {
    const moelab_init inits[2] = {MOELAB_INIT_RANDOM, MOELAB_INIT_KMEANS};
    for (int r = 0; r < 2; r++) {
      moelab_fit_options o2 = fo;
      o2.init = inits[r];
      o2.init_model = NULL;
      o2.split = NULL;
      o2.nsplit = 0;
      o2.stream_base = (uint64_t)(r + 1) << 32;
      moelab_model *m = NULL;
      moelab_fit_report *fr = NULL;
      st = moelab_fit(&v, &o2, &m, &fr, err);
      if (st == MOELAB_ENUMERIC) { /* every start of this kind failed: keep the others */
        st = MOELAB_OK;
        continue;
      }
      if (st) goto out;
      if (!best || fr->sse < best_rep->sse) {
        moelab_model_free(best);
        moelab_fit_report_free(best_rep);
        best = m;
        best_rep = fr;
      } else {
        moelab_model_free(m);
        moelab_fit_report_free(fr);
      }
    }
  }
  if (!best) {
    st = ml_fail(err, MOELAB_ENUMERIC, NULL, 0, NULL, "no start reached a valid Ḡ");
    goto out;
  }
  if (moelab_model_set_input(best, mu->law, mu->a, mu->b, err)) {
    st = MOELAB_EINVAL;
    goto out;
  }
  rep->k = best->k;
  rep->p = best->p;
  rep->sse = best_rep->sse;
  rep->converged = best_rep->converged;
  rep->design_points = q.n;
  rep->contribution = ml_alloc(best->k, sizeof(double));
  rep->at_bound = ml_alloc(best->p, sizeof(int));
  if (!rep->contribution || !rep->at_bound) {
    st = ml_nomem(err);
    goto out;
  }
  memcpy(rep->at_bound, best_rep->at_bound, best->p * sizeof(int));
  rep->n_at_bound = best_rep->n_at_bound;
  st = moelab_l2_distance(best, truth, mu, NULL, &rep->distance, NULL, err);
  if (st) goto out;
  st = moelab_l2_distance(truth, NULL, mu, NULL, &rep->truth_norm, NULL, err);
  if (st) goto out;
  {
    ml_quad fine;
    const moelab_model *bm[2] = {best, truth};
    if (ml_quad_build(mu, d, bm, 2, 32, 64, 65536, &fine) || ml_contributions(best, &fine, rep->contribution)) {
      ml_quad_free(&fine);
      st = ml_nomem(err);
      goto out;
    }
    ml_quad_free(&fine);
  }
  for (size_t i = 0; i < best->k; i++)
    if (rep->contribution[i] <= 1e-3 * rep->truth_norm) rep->switched_off++;
  st = eigen_summary(best, &q, rep);
  if (st == MOELAB_ENOMEM) {
    st = ml_nomem(err);
    goto out;
  }
  if (st) {
    st = ml_fail(err, MOELAB_ENUMERIC, NULL, 0, NULL, "the eigenvalues of J'J at Ḡ could not be computed");
    goto out;
  }
  /* the fit report stays in the model's extra member; add the reference summary */
  *gbar = best;
  best = NULL;
  if (report) {
    *report = rep;
    rep = NULL;
  }
  st = MOELAB_OK;
out:
  ml_quad_free(&q);
  free(y);
  moelab_model_free(best);
  moelab_fit_report_free(best_rep);
  moelab_reference_report_free(rep);
  return st;
}

static cJSON *num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

int moelab_reference_report_json(const moelab_reference_report *r, char **text, moelab_error *err) {
  if (!r || !text) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  cJSON *o = cJSON_CreateObject();
  if (!o) return ml_nomem(err);
  cJSON_AddItemToObject(o, "distance", num(r->distance));
  cJSON_AddItemToObject(o, "truth_norm", num(r->truth_norm));
  cJSON_AddItemToObject(o, "relative_distance", num(r->truth_norm > 0 ? r->distance / r->truth_norm : NAN));
  cJSON *c = cJSON_AddArrayToObject(o, "contributions");
  for (size_t i = 0; c && i < r->k; i++) cJSON_AddItemToArray(c, num(r->contribution[i]));
  cJSON_AddNumberToObject(o, "switched_off", (double)r->switched_off);
  cJSON_AddNumberToObject(o, "n_at_bound", (double)r->n_at_bound);
  cJSON *e = cJSON_AddArrayToObject(o, "smallest_eigenvalues");
  for (size_t i = 0; e && i < r->neig; i++) cJSON_AddItemToArray(e, num(r->eig[i]));
  cJSON_AddBoolToObject(o, "degenerate", r->degenerate);
  cJSON_AddBoolToObject(o, "converged", r->converged);
  cJSON_AddItemToObject(o, "design_sse", num(r->sse));
  cJSON_AddNumberToObject(o, "design_points", (double)r->design_points);
  char *s = ml_json_exact_text(o); /* every double exactly (cJSON prints 15 digits when within DBL_EPSILON) */
  cJSON_Delete(o);
  if (!s) return ml_nomem(err);
  *text = s;
  return MOELAB_OK;
}
