/*
 * gsl_oracle.h — the stationarity oracle of the tests and of bench/bench_oracle:
 * GSL's small-problem trust-region solver (gsl_multifit_nlinear, its defaults,
 * 200 iterations, tolerances 1e-15) started from a fitted model's parameters,
 * through the public API (moelab_model_predict and moelab_model_jacobian).
 */
#ifndef MOELAB_GSL_ORACLE_H
#define MOELAB_GSL_ORACLE_H

#include "moelab.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <math.h>
#include <string.h>

typedef struct gsl_oracle_ctx {
  moelab_model *m;
  const double *X, *y;
  size_t n;
} gsl_oracle_ctx;

static int gsl_oracle_f(const gsl_vector *x, void *p, gsl_vector *f) {
  gsl_oracle_ctx *c = p;
  memcpy(c->m->theta, x->data, c->m->p * sizeof(double));
  if (moelab_model_predict(c->m, c->X, c->n, f->data, 1, NULL) != MOELAB_OK) return GSL_EFAILED;
  for (size_t i = 0; i < c->n; i++) f->data[i] -= c->y[i];
  return GSL_SUCCESS;
}

static int gsl_oracle_df(const gsl_vector *x, void *p, gsl_matrix *J) {
  gsl_oracle_ctx *c = p;
  memcpy(c->m->theta, x->data, c->m->p * sizeof(double));
  return moelab_model_jacobian(c->m, c->X, c->n, NULL, J->data, NULL) == MOELAB_OK ? GSL_SUCCESS : GSL_EFAILED;
}

/* The SSE the solver reaches from fit's parameters on D (NaN when it cannot start);
 * x_end (fit->p doubles, or NULL) receives its end point. */
static inline double gsl_oracle_sse(const moelab_model *fit, const moelab_data *D, double *x_end) {
  moelab_model *m = NULL;
  if (moelab_model_copy(fit, &m, NULL)) return NAN;
  gsl_oracle_ctx c = {m, D->X, D->y, D->n};
  gsl_multifit_nlinear_fdf fdf;
  memset(&fdf, 0, sizeof fdf);
  fdf.f = gsl_oracle_f;
  fdf.df = gsl_oracle_df;
  fdf.n = D->n;
  fdf.p = m->p;
  fdf.params = &c;
  gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
  gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, D->n, m->p);
  double chi = NAN;
  if (w) {
    gsl_vector_const_view x0 = gsl_vector_const_view_array(fit->theta, m->p);
    int info;
    gsl_multifit_nlinear_init(&x0.vector, &fdf, w);
    gsl_multifit_nlinear_driver(200, 1e-15, 1e-15, 1e-15, NULL, NULL, &info, w);
    gsl_blas_ddot(w->f, w->f, &chi);
    if (x_end) memcpy(x_end, w->x->data, m->p * sizeof(double));
    gsl_multifit_nlinear_free(w);
  }
  moelab_model_free(m);
  return chi;
}

#endif
