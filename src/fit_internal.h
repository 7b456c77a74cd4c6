/*
 * fit_internal.h — the fitter's private structures, shared by fit.c
 * (Levenberg–Marquardt), init.c (starting points) and select.c (choosing k).
 */
#ifndef MOELAB_FIT_INTERNAL_H
#define MOELAB_FIT_INTERNAL_H

#include "internal.h"

/* Rows per Jacobian block: the block (rows × p) stays in cache. */
#define FIT_BLOCK 256
/* At most this many super-chunks; their partial sums are added in a fixed
 * order, so results never depend on the thread count. */
#define FIT_MAX_CHUNKS 64
/* The Gram matrix of a block with fewer rows than this (p + 1 < FIT_GRAM_MAX)
 * is formed by ml_gram, larger ones by OpenBLAS's dsyrk (fit.c, gram_update;
 * the measurements in kernel.c). */
#define FIT_GRAM_MAX 128

/* Summary statistics of the data (for starting points and scaling). */
typedef struct fit_summary {
  double *xmin, *xmax, *xmean, *xsd; /* d each */
  double ymean, ysd, ymin, ymax;     /* weighted */
} fit_summary;

typedef struct fit_problem {
  ml_shape s;
  size_t n, d;
  const double *X, *y, *w;
  double W;     /* Σ w (n without weights) */
  double scale; /* W · s, s = weighted variance of y (or mean square, or 1): gradient normaliser */
  int gauge;    /* softmax sum-to-zero gauge in use */
  size_t np;    /* free parameters */
  double *lo, *hi; /* np bounds */
  size_t nchunks, chunk_rows;
  size_t T; /* second-order coefficient types (geodesic acceleration) */
  int threads;
  int newton;    /* the Newton model JᵀJ + Σ w (f - y) ∇²f (moelab_fit_options.hessian) */
  int use_cache; /* keep J and the second-order coefficients of the last pass (n × (p + T), twice) */
  fit_summary sum;
} fit_problem;

/* θ (p) from φ (np). */
void fit_phi_to_theta(const fit_problem *P, const double *phi, double *theta);
/* φ from θ, after moving θ to the gauge (softmax: gate parameters centred). */
void fit_theta_to_phi(const fit_problem *P, const double *theta, double *phi);
/* Clamps φ into the box. */
void fit_clamp(const fit_problem *P, double *phi);

/* A starting θ (p) for restart `r` drawn from `rng`.  Errors: ENOMEM. */
int fit_init_theta(const fit_problem *P, const moelab_fit_options *opt, gsl_rng *rng, double *theta,
                   moelab_error *err);

/* Builds the split/perturbed start of MOELAB_INIT_MODEL (θ of k atoms). */
int fit_init_from_model(const fit_problem *P, const moelab_fit_options *opt, gsl_rng *rng, double *theta,
                        moelab_error *err);

/*
 * The fitter's model at θ (p, the model's parameter ordering), for tests:
 * SSE, H (np × np, np = the free parameters φ: for softmax without atom k's
 * gate parameters) = J_φᵀJ_φ, plus the residual curvature when opt->newton,
 * and g = J_φᵀ √w e (the gradient of SSE/2).  H must hold p², g p doubles.
 * Errors: those of moelab_fit's checks, ENOMEM.
 */
int fit_model_at(const moelab_data_view *data, const moelab_fit_options *opt, const double *theta, double *sse,
                 double *H, double *g, size_t *np, moelab_error *err);

#endif
