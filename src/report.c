/*
 * report.c — the fit report as JSON (the "fit" member of fitted model files).
 */
#include "fit_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *init_name(moelab_init i) {
  switch (i) {
  case MOELAB_INIT_RANDOM: return "random";
  case MOELAB_INIT_KMEANS: return "kmeans";
  case MOELAB_INIT_MODEL: return "model";
  }
  return "?";
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *pair(double a, double b) {
  cJSON *arr = cJSON_CreateArray();
  if (arr) {
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(a));
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(b));
  }
  return arr;
}

int moelab_fit_report_json(const moelab_fit_report *r, const moelab_fit_options *opt, char **text,
                           moelab_error *err) {
  if (!r || !text) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  cJSON *o = cJSON_CreateObject();
  if (!o) return ml_nomem(err);
  cJSON_AddItemToObject(o, "sse", num_or_null(r->sse));
  cJSON_AddItemToObject(o, "mse", num_or_null(r->mse));
  cJSON_AddNumberToObject(o, "n", (double)r->n);
  cJSON_AddNumberToObject(o, "p", (double)r->p);
  cJSON_AddNumberToObject(o, "p_free", (double)r->p_free);
  cJSON_AddBoolToObject(o, "converged", r->converged);
  cJSON_AddStringToObject(o, "stop", moelab_stop_name(r->stop));
  cJSON_AddItemToObject(o, "grad_norm", num_or_null(r->grad_norm));
  cJSON_AddItemToObject(o, "decrement", num_or_null(r->decrement));
  cJSON_AddNumberToObject(o, "iterations", (double)r->iterations);
  cJSON_AddNumberToObject(o, "restarts", (double)r->restarts);
  cJSON_AddNumberToObject(o, "restarts_converged", (double)r->restarts_converged);
  cJSON_AddNumberToObject(o, "restarts_failed", (double)r->restarts_failed);
  cJSON_AddNumberToObject(o, "best_restart", (double)r->best_restart);
  cJSON_AddNumberToObject(o, "seconds", r->seconds);
  cJSON_AddItemToObject(o, "sigma2", num_or_null(r->sigma2));
  cJSON_AddBoolToObject(o, "se_available", r->se_available);
  cJSON_AddItemToObject(o, "rcond", num_or_null(r->rcond));
  cJSON *se = cJSON_AddArrayToObject(o, "se");
  for (size_t j = 0; se && j < r->p; j++) cJSON_AddItemToArray(se, num_or_null(r->se[j]));
  cJSON *ab = cJSON_AddArrayToObject(o, "at_bound");
  if (opt && ab) {
    ml_shape s = ml_shape_make(opt->gate, opt->expert, opt->degree, r->d, r->k);
    for (size_t j = 0; j < r->p; j++) {
      if (!r->at_bound[j]) continue;
      char name[96], item[112];
      ml_param_name(&s, j, name, sizeof name);
      snprintf(item, sizeof item, "%s:%s", name, r->at_bound[j] < 0 ? "lower" : "upper");
      cJSON_AddItemToArray(ab, cJSON_CreateString(item));
    }
  }
  cJSON *rs = cJSON_AddArrayToObject(o, "restart_sse");
  for (size_t i = 0; rs && i < r->restarts; i++) cJSON_AddItemToArray(rs, num_or_null(r->restart[i].sse));
  if (opt) {
    cJSON *op = cJSON_AddObjectToObject(o, "options");
    if (op) {
      cJSON_AddStringToObject(op, "gate", moelab_gate_name(opt->gate));
      cJSON_AddStringToObject(op, "expert", moelab_expert_name(opt->expert));
      cJSON_AddNumberToObject(op, "degree", opt->degree);
      cJSON_AddNumberToObject(op, "k", (double)opt->k);
      cJSON_AddStringToObject(op, "init", init_name(opt->init));
      cJSON_AddNumberToObject(op, "perturb", opt->perturb);
      cJSON_AddNumberToObject(op, "split_fraction", opt->split_fraction > 0 ? opt->split_fraction : 0.5);
      cJSON_AddNumberToObject(op, "restarts", (double)opt->restarts);
      cJSON_AddNumberToObject(op, "seed", (double)opt->seed);
      cJSON_AddNumberToObject(op, "stream_base", (double)opt->stream_base);
      cJSON_AddNumberToObject(op, "max_iter", (double)opt->max_iter);
      cJSON_AddNumberToObject(op, "gtol", opt->gtol);
      cJSON_AddNumberToObject(op, "dtol", opt->dtol);
      cJSON_AddNumberToObject(op, "ftol", opt->ftol);
      cJSON_AddNumberToObject(op, "xtol", opt->xtol);
      cJSON_AddNumberToObject(op, "stat_tol", opt->stat_tol);
      cJSON_AddNumberToObject(op, "kink_tol", opt->kink_tol);
      cJSON_AddStringToObject(op, "step", opt->newton ? "newton" : opt->accel ? "gauss-newton, accelerated" : "gauss-newton");
      cJSON *box = cJSON_AddObjectToObject(op, "box");
      if (box) {
        cJSON_AddItemToObject(box, "beta0", pair(opt->box.beta0_lo, opt->box.beta0_hi));
        cJSON_AddItemToObject(box, "beta1", pair(opt->box.beta1_lo, opt->box.beta1_hi));
        cJSON_AddItemToObject(box, "eta", pair(opt->box.eta_lo, opt->box.eta_hi));
      }
      cJSON_AddBoolToObject(op, "weighted", opt->weights != NULL);
    }
  }
  char *s = ml_json_exact_text(o); /* every double exactly (cJSON prints 15 digits when within DBL_EPSILON) */
  cJSON_Delete(o);
  if (!s) return ml_nomem(err);
  *text = s;
  return MOELAB_OK;
}
