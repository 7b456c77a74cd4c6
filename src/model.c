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
  int nomem = 0;
#pragma omp parallel num_threads(nt > 0 ? nt : omp_get_max_threads()) if (nblocks > 4)
  {
    double *work = ml_alloc(ml_eval_work(&s), sizeof(double));
    if (!work) {
#pragma omp atomic write
      nomem = 1;
    }
#pragma omp for schedule(static)
    for (long b = 0; b < nblocks; b++) {
      if (!work) continue;
      size_t r0 = (size_t)b * ML_ROW_BLOCK;
      size_t m = n - r0 < ML_ROW_BLOCK ? n - r0 : ML_ROW_BLOCK;
      ml_eval_rows(&s, model->theta, X + r0 * s.d, m, yhat + r0, NULL, 0, NULL, NULL, work);
    }
    free(work);
  }
  return nomem ? ml_nomem(err) : MOELAB_OK;
}

int moelab_model_components(const moelab_model *model, const double *X, size_t n, double *gates,
                            double *experts, moelab_error *err) {
  int st = check_eval_args(model, X, n, err);
  if (st) return st;
  ml_shape s = ml_shape_of(model);
  double *work = ml_alloc(ml_eval_work(&s), sizeof(double));
  if (!work) return ml_nomem(err);
  ml_eval_rows(&s, model->theta, X, n, NULL, NULL, 0, gates, experts, work);
  free(work);
  return MOELAB_OK;
}

int moelab_model_jacobian(const moelab_model *model, const double *X, size_t n, double *f, double *J,
                          moelab_error *err) {
  int st = check_eval_args(model, X, n, err);
  if (st) return st;
  if (n > 0 && !J) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL Jacobian array");
  ml_shape s = ml_shape_of(model);
  double *work = ml_alloc(ml_eval_work(&s), sizeof(double));
  if (!work) return ml_nomem(err);
  ml_eval_rows(&s, model->theta, X, n, f, J, s.p, NULL, NULL, work);
  free(work);
  return MOELAB_OK;
}
