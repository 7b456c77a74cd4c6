/*
 * select.c — choosing the number of atoms k: BIC or k-fold cross-validation.
 *
 * BIC(k) = n log(SSE_k / n) + p_free(k) log n, the Gaussian-likelihood BIC
 * of the least squares fit with p_free(k) free parameters (softmax fits lose
 * the d + 1 parameters of the gauge).  CV(k) = the mean over folds of the
 * held-out mean squared error; the folds come from a random permutation of
 * the rows drawn from the stream (seed, 2^62), fold f holding the rows at
 * permuted positions f, f + F, f + 2F, ...  Weights are not supported here.
 */
#include "fit_internal.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SELECT_STREAM ((uint64_t)1 << 62)

static size_t free_params(const moelab_fit_options *opt, size_t d, size_t k) {
  ml_shape s = ml_shape_make(opt->gate, opt->expert, opt->degree, d, k);
  return s.p - (opt->gate == MOELAB_GATE_SOFTMAX ? 1 + d : 0);
}

int moelab_select_k(const moelab_data_view *data, const moelab_fit_options *opt, size_t k_min, size_t k_max,
                    moelab_select rule, size_t folds, moelab_select_row *rows, size_t *best_k, moelab_model **model,
                    moelab_error *err) {
  if (!data || !opt || !rows || !best_k) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (k_min < 1 || k_max < k_min)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "need 1 <= k_min <= k_max (got %zu..%zu)", k_min, k_max);
  if (rule == MOELAB_SELECT_CV && (folds < 2 || folds > data->n))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "folds", "need 2 <= folds <= n (got %zu)", folds);
  if (opt->weights) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "weights", "k selection does not take weights");
  if (!data->y) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "y", "the data have no output column y");
  const size_t n = data->n, d = data->d;
  size_t *perm = NULL;
  double *Xtr = NULL, *ytr = NULL, *Xte = NULL, *yte = NULL, *pred = NULL;
  int st = MOELAB_OK;
  if (rule == MOELAB_SELECT_CV) {
    perm = ml_alloc(n, sizeof(size_t));
    Xtr = ml_alloc(n * d, sizeof(double));
    ytr = ml_alloc(n, sizeof(double));
    Xte = ml_alloc(n * d, sizeof(double));
    yte = ml_alloc(n, sizeof(double));
    pred = ml_alloc(n, sizeof(double));
    gsl_rng *rng = ml_rng_alloc(opt->seed, SELECT_STREAM);
    if (!perm || !Xtr || !ytr || !Xte || !yte || !pred || !rng) {
      if (rng) gsl_rng_free(rng);
      st = ml_nomem(err);
      goto out;
    }
    for (size_t i = 0; i < n; i++) perm[i] = i;
    gsl_ran_shuffle(rng, perm, n, sizeof(size_t));
    gsl_rng_free(rng);
  }
  double best = INFINITY;
  *best_k = 0;
  for (size_t k = k_min; k <= k_max; k++) {
    moelab_select_row *row = &rows[k - k_min];
    memset(row, 0, sizeof *row);
    row->k = k;
    row->p_free = free_params(opt, d, k);
    row->cv_mse = NAN;
    row->bic = NAN;
    row->sse = NAN;
    row->mse = NAN;
    moelab_fit_options o = *opt;
    o.k = k;
    if (o.init == MOELAB_INIT_MODEL && o.init_model && o.init_model->k > k) continue; /* cannot start there */
    moelab_model *m = NULL;
    moelab_fit_report *rep = NULL;
    st = moelab_fit(data, &o, &m, &rep, err);
    if (st == MOELAB_EINVAL && row->p_free > n) { /* too many parameters for the data: skip this k */
      st = MOELAB_OK;
      continue;
    }
    if (st) goto out;
    row->sse = rep->sse;
    row->mse = rep->mse;
    row->converged = rep->converged;
    double s = rep->sse > 0 ? rep->sse : 1e-300;
    row->bic = (double)n * log(s / (double)n) + (double)row->p_free * log((double)n);
    moelab_fit_report_free(rep);
    moelab_model_free(m);
    if (rule == MOELAB_SELECT_CV) {
      double total = 0.0;
      int ok = 1;
      for (size_t f = 0; f < folds && ok; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++) {
          size_t r = perm[i];
          if (i % folds == f) {
            memcpy(Xte + nte * d, data->X + r * d, d * sizeof(double));
            yte[nte++] = data->y[r];
          } else {
            memcpy(Xtr + ntr * d, data->X + r * d, d * sizeof(double));
            ytr[ntr++] = data->y[r];
          }
        }
        moelab_data_view tr = {ntr, d, Xtr, ytr};
        moelab_model *mf = NULL;
        o.stream_base = opt->stream_base + (uint64_t)(f + 1) * (uint64_t)(opt->restarts + 1);
        st = moelab_fit(&tr, &o, &mf, NULL, err);
        if (st == MOELAB_EINVAL) { /* a fold too small for k */
          st = MOELAB_OK;
          ok = 0;
          break;
        }
        if (st) goto out;
        st = moelab_model_predict(mf, Xte, nte, pred, 1, err);
        if (st) {
          moelab_model_free(mf);
          goto out;
        }
        double sse = 0.0;
        for (size_t i = 0; i < nte; i++) sse += (yte[i] - pred[i]) * (yte[i] - pred[i]);
        total += sse / (double)nte;
        moelab_model_free(mf);
      }
      if (ok) row->cv_mse = total / (double)folds;
    }
    double crit = rule == MOELAB_SELECT_CV ? row->cv_mse : row->bic;
    if (isfinite(crit) && crit < best) {
      best = crit;
      *best_k = k;
    }
  }
  if (*best_k == 0) {
    st = ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "no k in %zu..%zu could be fitted to these data", k_min, k_max);
    goto out;
  }
  if (model) {
    moelab_fit_options o = *opt;
    o.k = *best_k;
    st = moelab_fit(data, &o, model, NULL, err);
  }
out:
  free(perm);
  free(Xtr);
  free(ytr);
  free(Xte);
  free(yte);
  free(pred);
  return st;
}
