/*
 * model.c — mixture-of-experts models: construction, evaluation and the
 * analytic Jacobian.
 *
 * f(x) = Σ_i g_i(x) h(x, η_i).  Writing s_i = β0_i + β1_iᵀx and u_i = a_iᵀx + b_i:
 *   sigmoid gate:  ∂f/∂s_i = σ'(s_i) h_i              (σ' = σ(s)σ(-s))
 *   softmax gate:  ∂f/∂s_i = g_i (h_i − f)
 *   ∂f/∂β0_i = ∂f/∂s_i,   ∂f/∂β1_i = ∂f/∂s_i · x
 *   ∂f/∂a_i = g_i h'(u_i) x,   ∂f/∂b_i = g_i h'(u_i),   ∂f/∂c_i = g_i (constant)
 */
#include "experts.h"
#include "gates.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

ml_shape ml_shape_make(moelab_gate gate, moelab_expert expert, int degree, size_t d, size_t k) {
  ml_shape s;
  s.gate = gate;
  s.expert = expert;
  s.degree = expert == MOELAB_EXPERT_POLY ? degree : 1;
  s.d = d;
  s.k = k;
  s.q = moelab_expert_nparams(expert, d);
  s.stride = 1 + d + s.q;
  s.p = k * s.stride;
  return s;
}

ml_shape ml_shape_of(const moelab_model *m) { return ml_shape_make(m->gate, m->expert, m->degree, m->d, m->k); }

int moelab_model_new(moelab_gate gate, moelab_expert expert, int degree, size_t d, size_t k, moelab_model **model,
                     moelab_error *err) {
  if (!model) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "model output pointer is NULL");
  if (gate != MOELAB_GATE_SIGMOID && gate != MOELAB_GATE_SOFTMAX)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "gate", "unknown gate %d", (int)gate);
  if ((unsigned)expert > (unsigned)MOELAB_EXPERT_TANH)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "expert", "unknown expert family %d", (int)expert);
  if (d < 1) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "d", "d must be >= 1");
  if (k < 1) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "k must be >= 1");
  if (d > MOELAB_MAX_D)
    return ml_fail(err, MOELAB_ELIMIT, NULL, 0, "d", "d = %zu exceeds the limit %d", d, MOELAB_MAX_D);
  if (k > MOELAB_MAX_K)
    return ml_fail(err, MOELAB_ELIMIT, NULL, 0, "k", "k = %zu exceeds the limit %d", k, MOELAB_MAX_K);
  if (expert == MOELAB_EXPERT_POLY && (degree < 1 || degree > MOELAB_MAX_DEGREE))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "degree", "degree must be between 1 and %d", MOELAB_MAX_DEGREE);
  moelab_model *m = ml_zalloc(1, sizeof *m);
  if (!m) return ml_nomem(err);
  ml_shape s = ml_shape_make(gate, expert, degree, d, k);
  m->gate = gate;
  m->expert = expert;
  m->degree = s.degree;
  m->d = d;
  m->k = k;
  m->q = s.q;
  m->stride = s.stride;
  m->p = s.p;
  m->theta = ml_zalloc(s.p, sizeof(double));
  if (!m->theta) {
    free(m);
    return ml_nomem(err);
  }
  *model = m;
  return MOELAB_OK;
}

void moelab_model_free(moelab_model *model) {
  if (!model) return;
  free(model->theta);
  free(model->input.a);
  free(model->input.b);
  free(model->extra);
  free(model);
}

int moelab_model_copy(const moelab_model *src, moelab_model **out, moelab_error *err) {
  if (!src || !out) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  moelab_model *m = NULL;
  int st = moelab_model_new(src->gate, src->expert, src->degree, src->d, src->k, &m, err);
  if (st) return st;
  memcpy(m->theta, src->theta, src->p * sizeof(double));
  if (src->has_input) {
    st = moelab_model_set_input(m, src->input.law, src->input.a, src->input.b, err);
    if (st) goto fail;
  }
  m->has_noise = src->has_noise;
  m->noise = src->noise;
  if (src->extra) {
    m->extra = ml_strdup(src->extra);
    if (!m->extra) {
      st = ml_nomem(err);
      goto fail;
    }
  }
  *out = m;
  return MOELAB_OK;
fail:
  moelab_model_free(m);
  return st;
}

int moelab_model_set_input(moelab_model *model, moelab_law law, const double *a, const double *b,
                           moelab_error *err) {
  if (!model || !a || !b) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "input", "NULL argument");
  moelab_input in = {law, (double *)a, (double *)b};
  int st = ml_input_check(&in, model->d, NULL, "input", err);
  if (st) return st;
  double *na = ml_alloc(model->d, sizeof(double)), *nb = ml_alloc(model->d, sizeof(double));
  if (!na || !nb) {
    free(na);
    free(nb);
    return ml_nomem(err);
  }
  memcpy(na, a, model->d * sizeof(double));
  memcpy(nb, b, model->d * sizeof(double));
  free(model->input.a);
  free(model->input.b);
  model->input.law = law;
  model->input.a = na;
  model->input.b = nb;
  model->has_input = 1;
  return MOELAB_OK;
}

int moelab_model_set_noise(moelab_model *model, double noise, moelab_error *err) {
  if (!model) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "noise", "NULL model");
  if (!isfinite(noise) || noise < 0)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "noise", "noise variance must be finite and >= 0, got %g", noise);
  model->noise = noise;
  model->has_noise = 1;
  return MOELAB_OK;
}

int moelab_model_set_extra(moelab_model *model, const char *json_object_text, moelab_error *err) {
  if (!model) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL model");
  char *copy = NULL;
  if (json_object_text) {
    cJSON *obj = cJSON_Parse(json_object_text);
    int ok = obj && cJSON_IsObject(obj);
    cJSON_Delete(obj);
    if (!ok) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "extra", "not a JSON object");
    copy = ml_strdup(json_object_text);
    if (!copy) return ml_nomem(err);
  }
  free(model->extra);
  model->extra = copy;
  return MOELAB_OK;
}

char *ml_param_name(const ml_shape *s, size_t j, char *buf, size_t size) {
  size_t i = j / s->stride, c = j % s->stride;
  if (c == 0)
    snprintf(buf, size, "atoms[%zu].beta0", i);
  else if (c <= s->d)
    snprintf(buf, size, "atoms[%zu].beta1[%zu]", i, c - 1);
  else
    snprintf(buf, size, "atoms[%zu].eta[%zu]", i, c - 1 - s->d);
  return buf;
}

int moelab_model_validate(const moelab_model *model, moelab_error *err) {
  if (!model) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL model");
  ml_shape s = ml_shape_of(model);
  for (size_t j = 0; j < model->p; j++) {
    if (isfinite(model->theta[j])) continue;
    char field[64];
    ml_param_name(&s, j, field, sizeof field);
    return ml_fail(err, MOELAB_ENUMERIC, NULL, 0, field, "parameter is not finite (%g)", model->theta[j]);
  }
  return MOELAB_OK;
}

static inline double dot(const double *a, const double *b, size_t d) {
  double s = 0.0;
  for (size_t j = 0; j < d; j++) s += a[j] * b[j];
  return s;
}

/*
 * The kernels are written once, as always-inline row loops taking the gate,
 * the expert family and D (1: d = 1, 0: d from the shape) as arguments; the
 * dispatchers below call them with constants, so each (gate, expert, d = 1 or
 * not) pair gets its own specialised loop with the family switch and the d
 * loops folded away.  Every specialisation performs the same floating-point
 * operations in the same order as the formulas at the top of this file, so
 * all of them give the same results, bit for bit, as the general loop would.
 * Scratch values live in local arrays (not in `work`), which lets the
 * compiler keep them in registers.
 */
#if defined(__GNUC__)
#define ML_KERNEL static inline __attribute__((always_inline))
#else
#define ML_KERNEL static inline
#endif

/* The parameters, copied once per call when d = 1 (at most 4 per atom) so that
 * stores to J cannot force them to be reloaded. */
#define ML_D1_THETA (4 * MOELAB_MAX_K)

/*
 * The scores z_i = β0_i + β1_iᵀx and (but for constant experts)
 * u_i = a_iᵀx + b_i of every atom.  Each dot product is summed from 0 in the
 * order j = 0..d-1, exactly as dot(); two atoms are done at a time, so four
 * independent sums are in flight instead of one.
 */
ML_KERNEL void atom_scores(const double *theta, size_t stride, size_t k, size_t d, const double *x,
                           const int constant, double *z, double *u) {
  size_t i = 0;
  for (; i + 1 < k; i += 2) {
    const double *t0 = theta + i * stride, *t1 = t0 + stride;
    double z0 = 0.0, z1 = 0.0, u0 = 0.0, u1 = 0.0;
    for (size_t j = 0; j < d; j++) {
      double xj = x[j];
      z0 += t0[1 + j] * xj;
      z1 += t1[1 + j] * xj;
      if (!constant) {
        u0 += t0[1 + d + j] * xj;
        u1 += t1[1 + d + j] * xj;
      }
    }
    z[i] = t0[0] + z0;
    z[i + 1] = t1[0] + z1;
    if (!constant) {
      u[i] = t0[1 + 2 * d] + u0;
      u[i + 1] = t1[1 + 2 * d] + u1;
    }
  }
  if (i < k) {
    const double *t = theta + i * stride;
    z[i] = t[0] + dot(t + 1, x, d);
    if (!constant) u[i] = t[1 + 2 * d] + dot(t + 1 + d, x, d);
  }
}

ML_KERNEL void eval_rows_k(const ml_shape *s, const double *theta_in, const double *X, size_t n, double *f,
                           double *J, size_t ldj, double *G, double *H, const int softmax, const moelab_expert expert,
                           const size_t D) {
  const size_t d = D ? D : s->d, k = s->k, stride = s->stride;
  const int degree = s->degree;
  const int constant = expert == MOELAB_EXPERT_CONSTANT;
  double z[MOELAB_MAX_K], g[MOELAB_MAX_K], dg[MOELAB_MAX_K], h[MOELAB_MAX_K], dh[MOELAB_MAX_K];
  double th1[ML_D1_THETA];
  const double *theta = theta_in;
  if (D == 1) {
    memcpy(th1, theta_in, s->p * sizeof(double));
    theta = th1;
  }
  for (size_t r = 0; r < n; r++) {
    const double *x = X + r * d;
    atom_scores(theta, stride, k, d, x, constant, z, h);
    for (size_t i = 0; i < k; i++) {
      if (constant) {
        h[i] = theta[i * stride + 1 + d];
        dh[i] = 0.0;
      } else {
        ml_activation(expert, degree, h[i], &h[i], &dh[i]);
      }
    }
    if (softmax) {
      ml_softmax(z, k, g);
    } else {
      for (size_t i = 0; i < k; i++) dg[i] = exp(-fabs(z[i]));
      for (size_t i = 0; i < k; i++) ml_sigmoid_gate_e(z[i], dg[i], &g[i], &dg[i]);
    }
    double fv = 0.0;
    for (size_t i = 0; i < k; i++) fv += g[i] * h[i];
    if (f) f[r] = fv;
    if (G) memcpy(G + r * k, g, k * sizeof(double));
    if (H) memcpy(H + r * k, h, k * sizeof(double));
    if (!J) continue;
    double *row = J + r * ldj;
    for (size_t i = 0; i < k; i++) {
      double *ri = row + i * stride;
      double cs = softmax ? g[i] * (h[i] - fv) : dg[i] * h[i];
      ri[0] = cs;
      for (size_t j = 0; j < d; j++) ri[1 + j] = cs * x[j];
      if (constant) {
        ri[1 + d] = g[i];
      } else {
        double cu = g[i] * dh[i];
        for (size_t j = 0; j < d; j++) ri[1 + d + j] = cu * x[j];
        ri[1 + 2 * d] = cu;
      }
    }
  }
}

#define ML_EVAL_ARGS s, theta, X, n, f, J, ldj, G, H
#define ML_EVAL_CASE(E)                                                                                       \
  case E:                                                                                                     \
    if (softmax) {                                                                                            \
      if (d1)                                                                                                 \
        eval_rows_k(ML_EVAL_ARGS, 1, E, 1);                                                                   \
      else                                                                                                    \
        eval_rows_k(ML_EVAL_ARGS, 1, E, 0);                                                                   \
    } else {                                                                                                  \
      if (d1)                                                                                                 \
        eval_rows_k(ML_EVAL_ARGS, 0, E, 1);                                                                   \
      else                                                                                                    \
        eval_rows_k(ML_EVAL_ARGS, 0, E, 0);                                                                   \
    }                                                                                                         \
    return;

void ml_eval_rows(const ml_shape *s, const double *theta, const double *X, size_t n, double *f, double *J,
                  size_t ldj, double *G, double *H, double *work) {
  (void)work;
  const int softmax = s->gate == MOELAB_GATE_SOFTMAX;
  const int d1 = s->d == 1;
  switch (s->expert) {
    ML_EVAL_CASE(MOELAB_EXPERT_RELU)
    ML_EVAL_CASE(MOELAB_EXPERT_GELU)
    ML_EVAL_CASE(MOELAB_EXPERT_LINEAR)
    ML_EVAL_CASE(MOELAB_EXPERT_POLY)
    ML_EVAL_CASE(MOELAB_EXPERT_CONSTANT)
    ML_EVAL_CASE(MOELAB_EXPERT_SIGMOID)
    ML_EVAL_CASE(MOELAB_EXPERT_TANH)
  }
}

size_t ml_hess_ntypes(const ml_shape *s) {
  size_t k = s->k;
  return s->gate == MOELAB_GATE_SIGMOID ? 3 * k : k * (k + 1) / 2 + k * k + k;
}

size_t ml_hess_zz(const ml_shape *s, size_t i, size_t j) {
  if (s->gate == MOELAB_GATE_SIGMOID) return i;
  if (i > j) {
    size_t t = i;
    i = j;
    j = t;
  }
  /* packed upper triangle, row by row */
  return i * s->k - i * (i - 1) / 2 + (j - i);
}

size_t ml_hess_zu(const ml_shape *s, size_t i, size_t j) {
  if (s->gate == MOELAB_GATE_SIGMOID) return s->k + i;
  return s->k * (s->k + 1) / 2 + i * s->k + j;
}

size_t ml_hess_uu(const ml_shape *s, size_t i) {
  if (s->gate == MOELAB_GATE_SIGMOID) return 2 * s->k + i;
  return s->k * (s->k + 1) / 2 + s->k * s->k + i;
}

ML_KERNEL void eval_rows2_k(const ml_shape *s, const double *theta_in, const double *X, size_t n, double *f,
                            double *J, size_t ldj, double *C, size_t ldc, const int softmax,
                            const moelab_expert expert, const size_t D) {
  const size_t d = D ? D : s->d, k = s->k, stride = s->stride;
  const int degree = s->degree;
  const int constant = expert == MOELAB_EXPERT_CONSTANT;
  double z[MOELAB_MAX_K], g[MOELAB_MAX_K], dg[MOELAB_MAX_K], h[MOELAB_MAX_K];
  double dh[MOELAB_MAX_K], d2h[MOELAB_MAX_K], d2g[MOELAB_MAX_K];
  double th1[ML_D1_THETA];
  const double *theta = theta_in;
  if (D == 1) {
    memcpy(th1, theta_in, s->p * sizeof(double));
    theta = th1;
  }
  for (size_t r = 0; r < n; r++) {
    const double *x = X + r * d;
    atom_scores(theta, stride, k, d, x, constant, z, h);
    for (size_t i = 0; i < k; i++) {
      if (constant) {
        h[i] = theta[i * stride + 1 + d];
        dh[i] = 1.0; /* ∂h/∂c */
        d2h[i] = 0.0;
      } else {
        ml_activation2(expert, degree, h[i], &h[i], &dh[i], &d2h[i]);
      }
    }
    if (softmax) {
      ml_softmax(z, k, g);
    } else {
      /* σ' = σ(z)σ(-z), σ'' = σ(z)σ(-z)(σ(-z) - σ(z)), all from exp(-|z|) */
      for (size_t i = 0; i < k; i++) dg[i] = exp(-fabs(z[i]));
      for (size_t i = 0; i < k; i++) {
        double e = dg[i];
        double big = 1.0 / (1.0 + e), small = e * big;
        double sz = ml_select(z[i] >= 0, big, small), smz = ml_select(z[i] >= 0, small, big);
        g[i] = sz;
        dg[i] = big * small;
        d2g[i] = big * small * (smz - sz);
      }
    }
    double fv = 0.0;
    for (size_t i = 0; i < k; i++) fv += g[i] * h[i];
    if (f) f[r] = fv;
    if (J) {
      double *row = J + r * ldj;
      for (size_t i = 0; i < k; i++) {
        double *ri = row + i * stride;
        double cs = softmax ? g[i] * (h[i] - fv) : dg[i] * h[i];
        ri[0] = cs;
        for (size_t j = 0; j < d; j++) ri[1 + j] = cs * x[j];
        double cu = g[i] * dh[i];
        if (constant) {
          ri[1 + d] = g[i];
        } else {
          for (size_t j = 0; j < d; j++) ri[1 + d + j] = cu * x[j];
          ri[1 + 2 * d] = cu;
        }
      }
    }
    if (!C) continue;
    double *c = C + r * ldc;
    if (!softmax) {
      for (size_t i = 0; i < k; i++) {
        c[i] = d2g[i] * h[i];         /* zz_i */
        c[k + i] = dg[i] * dh[i];     /* zu_i */
        c[2 * k + i] = g[i] * d2h[i]; /* uu_i */
      }
    } else {
      size_t t = 0;
      for (size_t i = 0; i < k; i++)
        for (size_t j = i; j < k; j++, t++)
          c[t] = (i == j ? g[i] * (h[i] - fv) : 0.0) - g[i] * g[j] * (h[i] + h[j] - 2.0 * fv);
      for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++, t++) c[t] = g[i] * dh[j] * ((i == j ? 1.0 : 0.0) - g[j]);
      for (size_t i = 0; i < k; i++, t++) c[t] = g[i] * d2h[i];
    }
  }
}

#define ML_EVAL2_ARGS s, theta, X, n, f, J, ldj, C, ldc
#define ML_EVAL2_CASE(E)                                                                                      \
  case E:                                                                                                     \
    if (softmax) {                                                                                            \
      if (d1)                                                                                                 \
        eval_rows2_k(ML_EVAL2_ARGS, 1, E, 1);                                                                 \
      else                                                                                                    \
        eval_rows2_k(ML_EVAL2_ARGS, 1, E, 0);                                                                 \
    } else {                                                                                                  \
      if (d1)                                                                                                 \
        eval_rows2_k(ML_EVAL2_ARGS, 0, E, 1);                                                                 \
      else                                                                                                    \
        eval_rows2_k(ML_EVAL2_ARGS, 0, E, 0);                                                                 \
    }                                                                                                         \
    return;

void ml_eval_rows2(const ml_shape *s, const double *theta, const double *X, size_t n, double *f, double *J,
                   size_t ldj, double *C, size_t ldc, double *work) {
  (void)work;
  const int softmax = s->gate == MOELAB_GATE_SOFTMAX;
  const int d1 = s->d == 1;
  switch (s->expert) {
    ML_EVAL2_CASE(MOELAB_EXPERT_RELU)
    ML_EVAL2_CASE(MOELAB_EXPERT_GELU)
    ML_EVAL2_CASE(MOELAB_EXPERT_LINEAR)
    ML_EVAL2_CASE(MOELAB_EXPERT_POLY)
    ML_EVAL2_CASE(MOELAB_EXPERT_CONSTANT)
    ML_EVAL2_CASE(MOELAB_EXPERT_SIGMOID)
    ML_EVAL2_CASE(MOELAB_EXPERT_TANH)
  }
}

static int check_eval_args(const moelab_model *model, const void *X, size_t n, moelab_error *err) {
  if (!model) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL model");
  if (n > 0 && !X) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL input array");
  return MOELAB_OK;
}

#define ML_ROW_BLOCK 256

int moelab_model_predict(const moelab_model *model, const double *X, size_t n, double *yhat, int threads,
                         moelab_error *err) {
  int st = check_eval_args(model, X, n, err);
  if (st) return st;
  if (n > 0 && !yhat) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL output array");
  ml_shape s = ml_shape_of(model);
  long nblocks = (long)((n + ML_ROW_BLOCK - 1) / ML_ROW_BLOCK);
  int nt = threads > 0 ? threads : 0;
#pragma omp parallel for schedule(static) num_threads(nt > 0 ? nt : omp_get_max_threads()) if (nblocks > 4)
  for (long b = 0; b < nblocks; b++) {
    double work[ML_EVAL_WORK(MOELAB_MAX_K)];
    size_t r0 = (size_t)b * ML_ROW_BLOCK;
    size_t m = n - r0 < ML_ROW_BLOCK ? n - r0 : ML_ROW_BLOCK;
    ml_eval_rows(&s, model->theta, X + r0 * s.d, m, yhat + r0, NULL, 0, NULL, NULL, work);
  }
  return MOELAB_OK;
}

int moelab_model_components(const moelab_model *model, const double *X, size_t n, double *gates,
                            double *experts, moelab_error *err) {
  int st = check_eval_args(model, X, n, err);
  if (st) return st;
  ml_shape s = ml_shape_of(model);
  double work[ML_EVAL_WORK(MOELAB_MAX_K)];
  ml_eval_rows(&s, model->theta, X, n, NULL, NULL, 0, gates, experts, work);
  return MOELAB_OK;
}

int moelab_model_jacobian(const moelab_model *model, const double *X, size_t n, double *f, double *J,
                          moelab_error *err) {
  int st = check_eval_args(model, X, n, err);
  if (st) return st;
  if (n > 0 && !J) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL Jacobian array");
  ml_shape s = ml_shape_of(model);
  double work[ML_EVAL_WORK(MOELAB_MAX_K)];
  ml_eval_rows(&s, model->theta, X, n, f, J, s.p, NULL, NULL, work);
  return MOELAB_OK;
}
