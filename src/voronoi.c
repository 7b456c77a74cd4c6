/*
 * voronoi.c — Voronoi cells, the losses D_r, D3 and L̄, and the direct
 * expert-rate measures (docs/theory.md §5).
 *
 * Project choices (documented in moelab.h and docs/theory.md):
 *  - θ = (β1, η), β0 excluded, Euclidean; ties go to the smallest reference index.
 *  - D3 scores every cell at power 1 (one atom per cell when cells are singletons).
 *  - Softmax: every quantity at the common translation (t0, t1) of the fitted
 *    gate parameters that minimises the loss, found by GSL's nmsimplex2 from
 *    t = 0 and from the translation that aligns total mass and mean slope.
 *  - Homogeneous experts (relu, linear, constant): in cells whose reference
 *    slope is exactly 0, the canonical variant scores the identified products
 *    v_i = w_i η_i: ‖Σ v_i - v°‖ (+ for relu Σ ‖v_i - proj_{v°} v_i‖, the
 *    part of each product off the reference direction) + the gate-slope terms.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static double weight(moelab_gate g, double b0) { return g == MOELAB_GATE_SIGMOID ? 1.0 / (1.0 + exp(-b0)) : exp(b0); }

/* The squared distances ‖β1_i + t1 - β1°_j‖² and ‖η_i - η°_j‖². */
static void sq_deltas(const moelab_model *fit, size_t i, const moelab_model *ref, size_t j, const double *t1,
                      double *sb, double *se) {
  const double *a = fit->theta + i * fit->stride, *b = ref->theta + j * ref->stride;
  double s = 0.0;
  for (size_t c = 0; c < fit->d; c++) {
    double v = a[1 + c] + (t1 ? t1[c] : 0.0) - b[1 + c];
    s += v * v;
  }
  *sb = s;
  s = 0.0;
  for (size_t c = 0; c < fit->q; c++) {
    double v = a[1 + fit->d + c] - b[1 + fit->d + c];
    s += v * v;
  }
  *se = s;
}

/* ‖β1_i + t1 - β1°_j‖ and ‖η_i - η°_j‖. */
static void deltas(const moelab_model *fit, size_t i, const moelab_model *ref, size_t j, const double *t1, double *db,
                   double *de) {
  sq_deltas(fit, i, ref, j, t1, db, de);
  *db = sqrt(*db);
  *de = sqrt(*de);
}

/* Cells by the squared distance itself (no square root taken and squared
 * again), so that equal distances compare equal and a tie goes to the
 * smallest reference index. */
static void cells_at(const moelab_model *fit, const moelab_model *ref, const double *t1, size_t *cell) {
  for (size_t i = 0; i < fit->k; i++) {
    double best = INFINITY;
    size_t bj = 0;
    for (size_t j = 0; j < ref->k; j++) {
      double sb, se;
      sq_deltas(fit, i, ref, j, t1, &sb, &se);
      double dist = sb + se;
      if (dist < best) {
        best = dist;
        bj = j;
      }
    }
    cell[i] = bj;
  }
}

static int check_pair(const moelab_model *fit, const moelab_model *ref, moelab_error *err) {
  if (!fit || !ref) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL model");
  if (fit->d != ref->d)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "d", "the fit has d = %zu, the reference d = %zu", fit->d, ref->d);
  /* the same expert functions: the same family, or linear and poly of degree 1 */
  int affine = ml_expert_affine(fit->expert, fit->degree) && ml_expert_affine(ref->expert, ref->degree);
  if (!affine && (fit->expert != ref->expert || fit->degree != ref->degree))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "expert", "the fit has %s experts, the reference %s",
                   moelab_expert_name(fit->expert), moelab_expert_name(ref->expert));
  return MOELAB_OK;
}

int moelab_voronoi_cells(const moelab_model *fit, const moelab_model *ref, size_t *cell, moelab_error *err) {
  int st = check_pair(fit, ref, err);
  if (st) return st;
  if (!cell) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL cell array");
  cells_at(fit, ref, NULL, cell);
  return MOELAB_OK;
}

int moelab_loss_parse(const char *name, moelab_loss_spec *spec, moelab_error *err) {
  if (!name || !spec) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "loss", "NULL argument");
  memset(spec, 0, sizeof *spec);
  spec->translate = 1;
  spec->r = 2.0;
  if (strcmp(name, "D1") == 0) {
    spec->kind = MOELAB_LOSS_D1;
    return MOELAB_OK;
  }
  if (strcmp(name, "D3") == 0) {
    spec->kind = MOELAB_LOSS_D3;
    spec->r = 1.0;
    return MOELAB_OK;
  }
  if (strcmp(name, "Lbar") == 0) {
    spec->kind = MOELAB_LOSS_LBAR;
    spec->r = 1.0;
    return MOELAB_OK;
  }
  if (strncmp(name, "D2:", 3) == 0) {
    double r;
    if (ml_parse_double(name + 3, &r) == 0 && r > 0 && r <= 64) {
      spec->kind = MOELAB_LOSS_D2;
      spec->r = r;
      return MOELAB_OK;
    }
  }
  return ml_fail(err, MOELAB_EINVAL, NULL, 0, "loss", "unknown loss '%s' (expected D1, D2:r with 0 < r <= 64, D3 or Lbar)",
                 name);
}

char *moelab_loss_name(const moelab_loss_spec *spec, char *buf) {
  char num[40];
  switch (spec->kind) {
  case MOELAB_LOSS_D1: strcpy(buf, "D1"); break;
  case MOELAB_LOSS_D2: snprintf(buf, 32, "D2:%s", moelab_format_double(spec->r, num)); break;
  case MOELAB_LOSS_D3: strcpy(buf, "D3"); break;
  case MOELAB_LOSS_LBAR: strcpy(buf, "Lbar"); break;
  default: strcpy(buf, "?");
  }
  return buf;
}

void moelab_loss_result_free(moelab_loss_result *r) {
  if (!r) return;
  free(r->cell);
  free(r->contribution);
  free(r->e);
  free(r->e_max);
  free(r->t1);
  free(r);
}

/* ------------------------------------------------------------ evaluation */

typedef struct lctx {
  const moelab_model *fit, *ref;
  moelab_loss_spec spec;
  const double *contrib; /* L̄ */
  size_t *cell;          /* scratch / output (k) */
  size_t *count;         /* k0 */
  size_t *cost_idx;      /* L̄ scratch */
  double *cost;          /* L̄ scratch: k0 × k0 */
  size_t *on;            /* L̄: the fitted atoms kept on (k0) */
} lctx;

static int homogeneous(const moelab_model *m) { return ml_expert_homogeneous(m->expert, m->degree); }

/*
 * The Hungarian algorithm (shortest augmenting paths, O(n³)) on an n×n cost
 * matrix: assign[row] = column minimising the total cost.
 */
static void hungarian(const double *cost, size_t n, size_t *assign) {
  size_t m = n + 1;
  double *u = calloc(m, sizeof(double)), *v = calloc(m, sizeof(double)), *minv = malloc(m * sizeof(double));
  size_t *p = calloc(m, sizeof(size_t)), *way = calloc(m, sizeof(size_t));
  unsigned char *used = malloc(m);
  if (!u || !v || !minv || !p || !way || !used) { /* fall back to the identity */
    for (size_t i = 0; i < n; i++) assign[i] = i;
    goto out;
  }
  for (size_t i = 1; i <= n; i++) {
    p[0] = i;
    size_t j0 = 0;
    for (size_t j = 0; j <= n; j++) {
      minv[j] = INFINITY;
      used[j] = 0;
    }
    do {
      used[j0] = 1;
      size_t i0 = p[j0], j1 = 0;
      double delta = INFINITY;
      for (size_t j = 1; j <= n; j++) {
        if (used[j]) continue;
        double cur = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (size_t j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  for (size_t j = 1; j <= n; j++) assign[p[j] - 1] = j - 1;
out:
  free(u);
  free(v);
  free(minv);
  free(p);
  free(way);
  free(used);
}

/*
 * The loss at translation (t0, t1).  When res is not NULL, fills every part
 * of it (cells, terms, rates, canonical); returns the loss value.
 */
static double loss_at(lctx *c, double t0, const double *t1, moelab_loss_result *res) {
  const moelab_model *fit = c->fit, *ref = c->ref;
  const size_t k = fit->k, k0 = ref->k;
  const moelab_gate g = fit->gate;
  const double r = c->spec.kind == MOELAB_LOSS_D1 ? 2.0 : c->spec.kind == MOELAB_LOSS_D2 ? c->spec.r : 1.0;
  double mass = 0.0, exact = 0.0, over = 0.0;
  if (c->spec.kind == MOELAB_LOSS_LBAR) {
    /* c->on: the k0 fitted atoms kept on (fixed by the contributions) */
    for (size_t a = 0; a < k0; a++)
      for (size_t j = 0; j < k0; j++) {
        double sb, se;
        sq_deltas(fit, c->on[a], ref, j, t1, &sb, &se);
        c->cost[a * k0 + j] = sqrt(sb + se);
      }
    hungarian(c->cost, k0, c->cost_idx);
    for (size_t i = 0; i < k; i++) c->cell[i] = SIZE_MAX;
    for (size_t a = 0; a < k0; a++) {
      size_t i = c->on[a], j = c->cost_idx[a];
      c->cell[i] = j;
      double db, de;
      deltas(fit, i, ref, j, t1, &db, &de);
      mass += fabs(weight(g, fit->theta[i * fit->stride] + t0) - weight(g, ref->theta[j * ref->stride]));
      exact += db + de;
    }
    for (size_t i = 0; i < k; i++)
      if (c->cell[i] == SIZE_MAX) over += c->contrib[i];
  } else {
    cells_at(fit, ref, t1, c->cell);
    memset(c->count, 0, k0 * sizeof(size_t));
    for (size_t i = 0; i < k; i++) c->count[c->cell[i]]++;
    for (size_t j = 0; j < k0; j++) {
      double wsum = 0.0;
      for (size_t i = 0; i < k; i++) {
        if (c->cell[i] != j) continue;
        double wi = weight(g, fit->theta[i * fit->stride] + t0), db, de;
        wsum += wi;
        deltas(fit, i, ref, j, t1, &db, &de);
        if (c->count[j] == 1)
          exact += wi * (db + de);
        else
          over += wi * (pow(db, r) + pow(de, r));
      }
      mass += fabs(wsum - weight(g, ref->theta[j * ref->stride]));
    }
  }
  double value = mass + exact + over;
  if (!res) return value;
  res->value = value;
  res->mass = mass;
  res->exact = exact;
  res->over = over;
  memcpy(res->cell, c->cell, k * sizeof(size_t));
  /* expert-rate measures */
  res->empty_cells = 0;
  res->rate_all = res->rate_exact = res->rate_over = res->rate_all_unweighted = NAN;
  for (size_t j = 0; j < k0; j++) {
    double ws = 0.0, acc = 0.0, mx = -1.0;
    size_t cnt = 0;
    for (size_t i = 0; i < k; i++) {
      if (c->cell[i] != j) continue;
      double wi = weight(g, fit->theta[i * fit->stride] + t0), db, de;
      deltas(fit, i, ref, j, t1, &db, &de);
      ws += wi;
      acc += wi * (db * db + de * de);
      if (db + de > mx) mx = db + de;
      cnt++;
    }
    if (cnt == 0) {
      res->e[j] = res->e_max[j] = NAN;
      res->empty_cells++;
      continue;
    }
    res->e[j] = ws > 0 ? sqrt(acc / ws) : NAN;
    res->e_max[j] = mx;
    if (isfinite(res->e[j])) {
      if (!(res->rate_all >= res->e[j])) res->rate_all = res->e[j];
      if (cnt == 1 && !(res->rate_exact >= res->e[j])) res->rate_exact = res->e[j];
      if (cnt > 1 && !(res->rate_over >= res->e[j])) res->rate_over = res->e[j];
    }
    if (!(res->rate_all_unweighted >= mx)) res->rate_all_unweighted = mx;
  }
  /* canonical variant for homogeneous experts */
  res->canonical = NAN;
  if (homogeneous(fit) && c->spec.kind != MOELAB_LOSS_LBAR) {
    const size_t d = fit->d, q = fit->q;
    double total = 0.0;
    for (size_t j = 0; j < k0; j++) {
      const double *tj = ref->theta + j * ref->stride;
      int flat = 1;
      for (size_t cc = 0; cc < d; cc++)
        if (tj[1 + cc] != 0.0) flat = 0;
      double wsum = 0.0, cell_std = 0.0;
      size_t cnt = 0;
      for (size_t i = 0; i < k; i++)
        if (c->cell[i] == j) cnt++;
      double vs[MOELAB_MAX_D + 1], vref[MOELAB_MAX_D + 1], slope = 0.0, off = 0.0;
      double w0 = weight(g, tj[0]);
      for (size_t cc = 0; cc < q; cc++) {
        vs[cc] = 0.0;
        vref[cc] = w0 * tj[1 + d + cc];
      }
      double vref2 = 0.0;
      for (size_t cc = 0; cc < q; cc++) vref2 += vref[cc] * vref[cc];
      for (size_t i = 0; i < k; i++) {
        if (c->cell[i] != j) continue;
        const double *ti = fit->theta + i * fit->stride;
        double wi = weight(g, ti[0] + t0), db, de;
        deltas(fit, i, ref, j, t1, &db, &de);
        wsum += wi;
        cell_std += cnt == 1 ? wi * (db + de) : wi * (pow(db, r) + pow(de, r));
        slope += cnt == 1 ? wi * db : wi * pow(db, r);
        double vi[MOELAB_MAX_D + 1], dotp = 0.0;
        for (size_t cc = 0; cc < q; cc++) {
          vi[cc] = wi * ti[1 + d + cc];
          vs[cc] += vi[cc];
          dotp += vi[cc] * vref[cc];
        }
        if (fit->expert == MOELAB_EXPERT_RELU) { /* the part of v_i off the reference direction */
          double s2 = 0.0, lam = vref2 > 0 ? dotp / vref2 : 0.0;
          for (size_t cc = 0; cc < q; cc++) {
            double dv = vi[cc] - lam * vref[cc];
            s2 += dv * dv;
          }
          off += sqrt(s2);
        }
      }
      if (!flat) {
        total += fabs(wsum - w0) + cell_std;
        continue;
      }
      double s2 = 0.0;
      for (size_t cc = 0; cc < q; cc++) s2 += (vs[cc] - vref[cc]) * (vs[cc] - vref[cc]);
      total += sqrt(s2) + off + slope;
    }
    res->canonical = total;
  }
  return value;
}

/* ---------------------------------------------- softmax: best translation */

typedef struct nm_ctx {
  lctx *c;
  size_t d;
} nm_ctx;

static double nm_f(const gsl_vector *x, void *p) {
  nm_ctx *n = p;
  double v = loss_at(n->c, gsl_vector_get(x, 0), x->data + 1, NULL);
  return isfinite(v) ? v : 1e300;
}

/* Minimises the loss over t = (t0, t1) from `start` (d + 1); best in `best`. */
static double nm_minimise(lctx *c, size_t d, const double *start, double *best) {
  nm_ctx n = {c, d};
  gsl_multimin_function fn = {nm_f, d + 1, &n};
  gsl_multimin_fminimizer *s = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, d + 1);
  gsl_vector *x = gsl_vector_alloc(d + 1), *step = gsl_vector_alloc(d + 1);
  double val = INFINITY;
  if (!s || !x || !step) goto out;
  for (size_t i = 0; i <= d; i++) {
    gsl_vector_set(x, i, start[i]);
    gsl_vector_set(step, i, 0.5);
  }
  gsl_multimin_fminimizer_set(s, &fn, x, step);
  /* restarted twice from its own best point: the simplex can stall on the kinks of the loss */
  for (int round = 0; round < 3; round++) {
    for (int it = 0; it < 4000; it++) {
      if (gsl_multimin_fminimizer_iterate(s)) break;
      if (gsl_multimin_fminimizer_size(s) < 1e-13) break;
    }
    gsl_vector_memcpy(x, gsl_multimin_fminimizer_x(s));
    for (size_t i = 0; i <= d; i++) gsl_vector_set(step, i, 0.05);
    if (round < 2) gsl_multimin_fminimizer_set(s, &fn, x, step);
  }
  val = gsl_multimin_fminimizer_minimum(s);
  for (size_t i = 0; i <= d; i++) best[i] = gsl_vector_get(gsl_multimin_fminimizer_x(s), i);
out:
  gsl_multimin_fminimizer_free(s);
  gsl_vector_free(x);
  gsl_vector_free(step);
  return val;
}

int moelab_loss(const moelab_model *fit, const moelab_model *ref, const moelab_loss_spec *spec,
                moelab_loss_result **out, moelab_error *err) {
  int st = check_pair(fit, ref, err);
  if (st) return st;
  if (!spec || !out) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (fit->gate != ref->gate)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "gate",
                   "the fit has a %s gate but the reference a %s gate: the atom weights differ",
                   moelab_gate_name(fit->gate), moelab_gate_name(ref->gate));
  if (spec->kind == MOELAB_LOSS_D2 && !(spec->r > 0))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "loss", "D2 needs r > 0");
  if (spec->kind == MOELAB_LOSS_LBAR && fit->k < ref->k)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "Lbar needs at least as many fitted atoms (%zu) as reference atoms (%zu)",
                   fit->k, ref->k);
  const size_t k = fit->k, k0 = ref->k, d = fit->d;
  moelab_loss_result *res = ml_zalloc(1, sizeof *res);
  lctx c;
  memset(&c, 0, sizeof c);
  ml_quad q;
  memset(&q, 0, sizeof q);
  double *contrib = NULL, *tbest = NULL, *tstart = NULL;
  if (!res) return ml_nomem(err);
  res->spec = *spec;
  res->k = k;
  res->k0 = k0;
  res->d = d;
  res->cell = ml_alloc(k, sizeof(size_t));
  res->e = ml_alloc(k0, sizeof(double));
  res->e_max = ml_alloc(k0, sizeof(double));
  res->t1 = ml_zalloc(d, sizeof(double));
  c.fit = fit;
  c.ref = ref;
  c.spec = *spec;
  c.cell = ml_alloc(k, sizeof(size_t));
  c.count = ml_zalloc(k0, sizeof(size_t));
  c.cost = ml_alloc(k0 * k0, sizeof(double));
  c.cost_idx = ml_alloc(k0, sizeof(size_t));
  c.on = ml_alloc(k0, sizeof(size_t));
  tbest = ml_zalloc(d + 1, sizeof(double));
  tstart = ml_zalloc(d + 1, sizeof(double));
  if (!res->cell || !res->e || !res->e_max || !res->t1 || !c.cell || !c.count || !c.cost || !c.cost_idx || !c.on ||
      !tbest || !tstart) {
    st = ml_nomem(err);
    goto out;
  }
  if (spec->kind == MOELAB_LOSS_LBAR) {
    const moelab_input *mu = spec->mu ? spec->mu : ref->has_input ? &ref->input : fit->has_input ? &fit->input : NULL;
    if (!mu) {
      st = ml_fail(err, MOELAB_EINVAL, NULL, 0, "input", "Lbar needs an input law for the contributions ‖g_i h_i‖");
      goto out;
    }
    st = ml_input_check(mu, d, NULL, "input", err);
    if (st) goto out;
    const moelab_model *models[1] = {fit};
    contrib = ml_alloc(k, sizeof(double));
    if (!contrib || ml_quad_build(mu, d, models, 1, 32, 64, 65536, &q) || ml_contributions(fit, &q, contrib)) {
      st = ml_nomem(err);
      goto out;
    }
    /* the k0 strongest atoms stay on; ties keep the lower index on */
    size_t *order = ml_alloc(k, sizeof(size_t));
    if (!order) {
      st = ml_nomem(err);
      goto out;
    }
    for (size_t i = 0; i < k; i++) order[i] = i;
    for (size_t a = 1; a < k; a++) /* insertion sort by decreasing contribution */
      for (size_t b = a; b > 0 && contrib[order[b]] > contrib[order[b - 1]]; b--) {
        size_t t = order[b];
        order[b] = order[b - 1];
        order[b - 1] = t;
      }
    for (size_t a = 0; a < k0; a++) c.on[a] = order[a];
    for (size_t a = 1; a < k0; a++) /* in index order */
      for (size_t b = a; b > 0 && c.on[b] < c.on[b - 1]; b--) {
        size_t t = c.on[b];
        c.on[b] = c.on[b - 1];
        c.on[b - 1] = t;
      }
    free(order);
    c.contrib = contrib;
    res->contribution = contrib;
    contrib = NULL;
  }
  res->minimiser = "none";
  if (fit->gate == MOELAB_GATE_SOFTMAX && spec->translate) {
    double v0 = loss_at(&c, 0.0, tstart + 1, NULL);
    double best = nm_minimise(&c, d, tstart, tbest);
    if (!(best <= v0)) {
      memset(tbest, 0, (d + 1) * sizeof(double));
      best = v0;
    }
    /* the aligned start: total mass and mean gate slope */
    double wf = 0.0, wr = 0.0;
    for (size_t i = 0; i < k; i++) wf += exp(fit->theta[i * fit->stride]);
    for (size_t j = 0; j < k0; j++) wr += exp(ref->theta[j * ref->stride]);
    tstart[0] = log(wr / wf);
    for (size_t cc = 0; cc < d; cc++) {
      double mf = 0.0, mr = 0.0;
      for (size_t i = 0; i < k; i++) mf += fit->theta[i * fit->stride + 1 + cc];
      for (size_t j = 0; j < k0; j++) mr += ref->theta[j * ref->stride + 1 + cc];
      tstart[1 + cc] = mr / (double)k0 - mf / (double)k;
    }
    double *t2 = ml_alloc(d + 1, sizeof(double));
    if (!t2) {
      st = ml_nomem(err);
      goto out;
    }
    double v2 = nm_minimise(&c, d, tstart, t2);
    if (v2 < best) memcpy(tbest, t2, (d + 1) * sizeof(double));
    free(t2);
    res->minimiser = "nmsimplex2";
  }
  res->t0 = tbest[0];
  memcpy(res->t1, tbest + 1, d * sizeof(double));
  loss_at(&c, res->t0, res->t1, res);
  *out = res;
  res = NULL;
  st = MOELAB_OK;
out:
  ml_quad_free(&q);
  free(contrib);
  free(tbest);
  free(tstart);
  free(c.cell);
  free(c.count);
  free(c.cost);
  free(c.cost_idx);
  free(c.on);
  moelab_loss_result_free(res);
  return st;
}

/* ------------------------------------------------------------------ JSON */

static cJSON *num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

int moelab_loss_result_json(const moelab_loss_result *r, char **text, moelab_error *err) {
  if (!r || !text) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  cJSON *o = cJSON_CreateObject();
  if (!o) return ml_nomem(err);
  char name[40];
  cJSON_AddStringToObject(o, "loss", moelab_loss_name(&r->spec, name));
  cJSON_AddItemToObject(o, "value", num(r->value));
  cJSON *terms = cJSON_AddObjectToObject(o, "terms");
  if (terms) {
    cJSON_AddItemToObject(terms, "mass", num(r->mass));
    cJSON_AddItemToObject(terms, "exact", num(r->exact));
    cJSON_AddItemToObject(terms, "overspecified", num(r->over));
  }
  cJSON *cells = cJSON_AddArrayToObject(o, "cells");
  for (size_t j = 0; cells && j < r->k0; j++) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < r->k; i++)
      if (r->cell[i] == j) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)i));
    cJSON_AddItemToArray(cells, a);
  }
  if (r->spec.kind == MOELAB_LOSS_LBAR) {
    cJSON *off = cJSON_AddArrayToObject(o, "switched_off");
    for (size_t i = 0; off && i < r->k; i++)
      if (r->cell[i] == SIZE_MAX) cJSON_AddItemToArray(off, cJSON_CreateNumber((double)i));
    cJSON *con = cJSON_AddArrayToObject(o, "contributions");
    for (size_t i = 0; con && r->contribution && i < r->k; i++) cJSON_AddItemToArray(con, num(r->contribution[i]));
  }
  cJSON *er = cJSON_AddObjectToObject(o, "expert_rate");
  if (er) {
    cJSON_AddItemToObject(er, "all", num(r->rate_all));
    cJSON_AddItemToObject(er, "exact", num(r->rate_exact));
    cJSON_AddItemToObject(er, "over", num(r->rate_over));
    cJSON_AddItemToObject(er, "all_unweighted", num(r->rate_all_unweighted));
  }
  cJSON *e = cJSON_AddArrayToObject(o, "e");
  cJSON *em = cJSON_AddArrayToObject(o, "e_max");
  for (size_t j = 0; j < r->k0; j++) {
    if (e) cJSON_AddItemToArray(e, num(r->e[j]));
    if (em) cJSON_AddItemToArray(em, num(r->e_max[j]));
  }
  cJSON_AddNumberToObject(o, "empty_cells", (double)r->empty_cells);
  cJSON_AddItemToObject(o, "canonical", num(r->canonical));
  cJSON *tr = cJSON_AddObjectToObject(o, "translation");
  if (tr) {
    cJSON_AddNumberToObject(tr, "t0", r->t0);
    cJSON *t1 = cJSON_AddArrayToObject(tr, "t1");
    for (size_t c = 0; t1 && c < r->d; c++) cJSON_AddItemToArray(t1, cJSON_CreateNumber(r->t1[c]));
    cJSON_AddStringToObject(tr, "minimiser", r->minimiser);
  }
  char *s = ml_json_exact_text(o); /* every double exactly (cJSON prints 15 digits when within DBL_EPSILON) */
  cJSON_Delete(o);
  if (!s) return ml_nomem(err);
  *text = s;
  return MOELAB_OK;
}
