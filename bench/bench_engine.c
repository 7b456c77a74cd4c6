/*
 * bench_engine.c — why moelab has its own least squares engine: GSL's
 * gsl_multilarge_nlinear (the normal-equation trust region, methods lm and
 * lmaccel) against moelab_fit on the same problems, from the same start, on
 * one thread.
 *
 * GSL's callbacks use only the public API: f by moelab_model_predict, and df
 * computes JᵀJ (dsyrk) and Jᵀu or Ju (dgemv) blockwise from
 * moelab_model_jacobian on blocks of FIT_BLOCK rows, as moelab's engine
 * does.  lmaccel needs the second directional derivative fvv; GSL's
 * multilarge solver has no finite-difference fallback for it (with fvv =
 * NULL the acceleration is left unset), so it is supplied here from the
 * public API: fvv ≈ (2/h) ((f(x + hv) - f(x))/h - Jv), h = 0.01 (Transtrum
 * and Sethna's forward difference, GSL's h_fvv), one Jacobian pass for f(x)
 * and Jv and one pass for f(x + hv).  GSL has no bounds, so the box
 * Θ = [-10, 10]^p is not imposed on it.
 *
 * Problems (sigmoid gate, d = 1, data from the 2-atom truth of
 * bench_common.h, noise 1e-2, X ~ U[-1, 1]):
 *   relu k=2   exactly specified, from the truth perturbed by 0.1
 *   relu k=3   over-specified (truth's heaviest atom split, perturbed by 0.1);
 *              moelab's fit stays inside the box
 *   tanh k=3   over-specified; moelab's fit ends with a gate slope on the
 *              bound β1 = -10 (the atom's gate becomes a step)
 * The start is the one moelab_fit builds (max_iter = 0), then given to both.
 *
 * Usage: bench_engine [--n N] [--quick] [--xtol X] [--gtol G] [--ftol F] [--max-iter M]
 *   GSL's driver tolerances default to xtol = 1e-12, gtol = 1e-12, ftol = 0
 *   (tight, like moelab's).  They do not favour GSL: with the looser 1e-8,
 *   lm reaches the same SSE on these problems in fewer iterations.
 */
#define BENCH_GSL_CBLAS
#include "bench_common.h"
#include "bench_wrap.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multilarge_nlinear.h>
#include <omp.h>
#include <stdio.h>

typedef struct gsl_ctx {
  moelab_model *m;
  const double *X, *y;
  size_t n;
  double *Jb;     /* FIT_BLOCK × p */
  double *fx, *fh; /* n each: f(x), f(x + hv) for fvv */
  double h_fvv;
} gsl_ctx;

static int g_f(const gsl_vector *x, void *params, gsl_vector *f) {
  gsl_ctx *c = params;
  memcpy(c->m->theta, x->data, c->m->p * sizeof(double));
  moelab_model_predict(c->m, c->X, c->n, f->data, 1, NULL);
  for (size_t i = 0; i < c->n; i++) f->data[i] -= c->y[i];
  return GSL_SUCCESS;
}

/* v = Jᵀu (TransJ = CblasTrans, u of length n) or v = Ju (CblasNoTrans, u of
 * length p); JTJ = JᵀJ when not NULL; blockwise, J never stored whole. */
static int g_df(CBLAS_TRANSPOSE_t TransJ, const gsl_vector *x, const gsl_vector *u, void *params, gsl_vector *v,
                gsl_matrix *JTJ) {
  gsl_ctx *c = params;
  const size_t p = c->m->p, d = c->m->d;
  memcpy(c->m->theta, x->data, p * sizeof(double));
  if (JTJ) gsl_matrix_set_zero(JTJ);
  if (v && TransJ == CblasTrans) gsl_vector_set_zero(v);
  for (size_t r0 = 0; r0 < c->n; r0 += FIT_BLOCK) {
    size_t m = c->n - r0 < FIT_BLOCK ? c->n - r0 : FIT_BLOCK;
    moelab_model_jacobian(c->m, c->X + r0 * d, m, NULL, c->Jb, NULL);
    if (JTJ)
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)p, (blasint)m, 1.0, c->Jb, (blasint)p, 1.0,
                  JTJ->data, (blasint)JTJ->tda);
    if (v && u) {
      if (TransJ == CblasTrans)
        cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)m, (blasint)p, 1.0, c->Jb, (blasint)p,
                    u->data + r0 * u->stride, (blasint)u->stride, 1.0, v->data, (blasint)v->stride);
      else
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)m, (blasint)p, 1.0, c->Jb, (blasint)p, u->data,
                    (blasint)u->stride, 0.0, v->data + r0 * v->stride, (blasint)v->stride);
    }
  }
  if (JTJ) /* both triangles */
    for (size_t i = 0; i < p; i++)
      for (size_t j = 0; j < i; j++) gsl_matrix_set(JTJ, i, j, gsl_matrix_get(JTJ, j, i));
  return GSL_SUCCESS;
}

/* fvv ≈ (2/h) ((f(x + hv) - f(x))/h - Jv), the model's (not the residual's)
 * second directional derivative, which is the residual's (y does not depend on x). */
static int g_fvv(const gsl_vector *x, const gsl_vector *v, void *params, gsl_vector *fvv) {
  gsl_ctx *c = params;
  const size_t p = c->m->p, d = c->m->d;
  const double h = c->h_fvv;
  memcpy(c->m->theta, x->data, p * sizeof(double));
  for (size_t r0 = 0; r0 < c->n; r0 += FIT_BLOCK) {
    size_t m = c->n - r0 < FIT_BLOCK ? c->n - r0 : FIT_BLOCK;
    moelab_model_jacobian(c->m, c->X + r0 * d, m, c->fx + r0, c->Jb, NULL);
    /* fvv <- Jv for the block */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)m, (blasint)p, 1.0, c->Jb, (blasint)p, v->data,
                (blasint)v->stride, 0.0, fvv->data + r0 * fvv->stride, (blasint)fvv->stride);
  }
  for (size_t j = 0; j < p; j++) c->m->theta[j] = x->data[j] + h * v->data[j * v->stride];
  moelab_model_predict(c->m, c->X, c->n, c->fh, 1, NULL);
  for (size_t i = 0; i < c->n; i++) {
    double *o = fvv->data + i * fvv->stride;
    *o = 2.0 / h * ((c->fh[i] - c->fx[i]) / h - *o);
  }
  return GSL_SUCCESS;
}

typedef struct run_res {
  double seconds, sse;
  size_t iterations, nf, ndf, njtj, nfvv;
  double pmin, pmax;
  int status;
  size_t at_bound;
  int converged;
  char stop[24];
  char passes[40]; /* passes over the data per iteration, by kind */
} run_res;

static void minmax(const double *t, size_t p, run_res *R) {
  R->pmin = INFINITY;
  R->pmax = -INFINITY;
  for (size_t j = 0; j < p; j++) {
    if (t[j] < R->pmin) R->pmin = t[j];
    if (t[j] > R->pmax) R->pmax = t[j];
  }
}

static double sse_at(moelab_model *m, const moelab_data *D) {
  double *f = malloc(D->n * sizeof(double)), s = 0.0;
  moelab_model_predict(m, D->X, D->n, f, 1, NULL);
  for (size_t i = 0; i < D->n; i++) s += (f[i] - D->y[i]) * (f[i] - D->y[i]);
  free(f);
  return s;
}

static int run_gsl(const moelab_model *start, const moelab_data *D, int accel, double xtol, double gtol, double ftol,
                   size_t max_iter, run_res *R) {
  memset(R, 0, sizeof *R);
  moelab_model *m = NULL;
  moelab_model_copy(start, &m, NULL);
  const size_t p = m->p;
  gsl_ctx c = {m,    D->X, D->y, D->n, malloc(FIT_BLOCK * p * sizeof(double)), malloc(D->n * sizeof(double)),
               malloc(D->n * sizeof(double)), 0.01};
  gsl_multilarge_nlinear_fdf fdf;
  memset(&fdf, 0, sizeof fdf);
  fdf.f = g_f;
  fdf.df = g_df;
  fdf.fvv = accel ? g_fvv : NULL;
  fdf.n = D->n;
  fdf.p = p;
  fdf.params = &c;
  gsl_multilarge_nlinear_parameters par = gsl_multilarge_nlinear_default_parameters();
  par.trs = accel ? gsl_multilarge_nlinear_trs_lmaccel : gsl_multilarge_nlinear_trs_lm;
  double t0 = bench_now();
  gsl_multilarge_nlinear_workspace *w = gsl_multilarge_nlinear_alloc(gsl_multilarge_nlinear_trust, &par, D->n, p);
  gsl_vector_const_view x0 = gsl_vector_const_view_array(start->theta, p);
  int info = 0;
  R->status = gsl_multilarge_nlinear_init(&x0.vector, &fdf, w);
  if (!R->status) R->status = gsl_multilarge_nlinear_driver(max_iter, xtol, gtol, ftol, NULL, NULL, &info, w);
  R->seconds = bench_now() - t0;
  const gsl_vector *x = gsl_multilarge_nlinear_position(w);
  memcpy(m->theta, x->data, p * sizeof(double));
  R->iterations = gsl_multilarge_nlinear_niter(w);
  R->nf = fdf.nevalf;
  R->ndf = fdf.nevaldfu;
  R->njtj = fdf.nevaldf2;
  R->nfvv = fdf.nevalfvv;
  R->sse = sse_at(m, D);
  minmax(m->theta, p, R);
  R->converged = R->status == GSL_SUCCESS;
  snprintf(R->stop, sizeof R->stop, "%s",
           R->status ? gsl_strerror(R->status) : info == 1 ? "xtol" : info == 2 ? "gtol" : "ftol");
  double it = R->iterations ? (double)R->iterations : NAN;
  /* a df call with J'J also returns J'u in the same pass */
  snprintf(R->passes, sizeof R->passes, "%.2f f, %.2f J'J, %.2f Ju, %.2f fvv", (double)R->nf / it,
           (double)R->njtj / it, (double)(R->ndf - R->njtj) / it, (double)R->nfvv / it);
  gsl_multilarge_nlinear_free(w);
  free(c.Jb);
  free(c.fx);
  free(c.fh);
  moelab_model_free(m);
  return 0;
}

static int run_moelab(const moelab_model *start, const moelab_data *D, run_res *R) {
  memset(R, 0, sizeof *R);
  moelab_fit_options o;
  moelab_fit_options_init(&o);
  o.gate = start->gate;
  o.expert = start->expert;
  o.k = start->k;
  o.init = MOELAB_INIT_MODEL;
  o.init_model = start;
  o.perturb = 0.0;
  o.threads = 1;
  moelab_data_view v = moelab_data_as_view(D);
  moelab_model *fit = NULL;
  moelab_fit_report *rep = NULL;
  memset(&PR, 0, sizeof PR);
  PR.on = 1;
  double t0 = bench_now();
  int st = moelab_fit(&v, &o, &fit, &rep, NULL);
  R->seconds = bench_now() - t0;
  PR.on = 0;
  if (st) return st;
  R->sse = rep->sse;
  R->iterations = rep->iterations;
  R->at_bound = rep->n_at_bound;
  R->converged = rep->converged;
  snprintf(R->stop, sizeof R->stop, "%s", moelab_stop_name(rep->stop));
  minmax(fit->theta, fit->p, R);
  double it = R->iterations ? (double)R->iterations * (double)D->n : NAN;
  snprintf(R->passes, sizeof R->passes, "%.2f f, %.2f J'J, %.2f 2nd", PR.rows_f / it, PR.rows_j / it, PR.rows_j2 / it);
  moelab_model_free(fit);
  moelab_fit_report_free(rep);
  return 0;
}

typedef struct problem {
  const char *name;
  moelab_expert expert;
  size_t k;
} problem;

int main(int argc, char **argv) {
  size_t n = 100000, max_iter = 1000;
  double xtol = 1e-12, gtol = 1e-12, ftol = 0.0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
      n = (size_t)atof(argv[++i]);
    else if (strcmp(argv[i], "--quick") == 0)
      n = 10000;
    else if (strcmp(argv[i], "--xtol") == 0 && i + 1 < argc)
      xtol = atof(argv[++i]);
    else if (strcmp(argv[i], "--gtol") == 0 && i + 1 < argc)
      gtol = atof(argv[++i]);
    else if (strcmp(argv[i], "--ftol") == 0 && i + 1 < argc)
      ftol = atof(argv[++i]);
    else if (strcmp(argv[i], "--max-iter") == 0 && i + 1 < argc)
      max_iter = (size_t)atol(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_engine [--n N | --quick] [--xtol X] [--gtol G] [--ftol F] [--max-iter M]\n"
                      "  --quick: n = 1e4 (default n = 1e5)\n");
      return 2;
    }
  }
  gsl_set_error_handler_off();
  omp_set_num_threads(1);
  openblas_set_num_threads(1);
  const problem probs[3] = {{"relu k=2", MOELAB_EXPERT_RELU, 2},
                            {"relu k=3", MOELAB_EXPERT_RELU, 3},
                            {"tanh k=3", MOELAB_EXPERT_TANH, 3}};
  printf("# GSL gsl_multilarge_nlinear (lm, lmaccel) vs moelab_fit: sigmoid gate, d = 1, n = %zu, 1 thread,\n"
         "# same data and start; GSL: xtol %g, gtol %g, ftol %g, max %zu iterations, no bounds;\n"
         "# moelab: default options (box [-10, 10], gtol 1e-8, dtol 1e-12).\n"
         "# passes per iteration over the data: f only; f, J and J'J (dsyrk); Ju only; second order (moelab: one\n"
         "# pass of the analytic second-order kernel; GSL lmaccel: the finite-difference fvv, a J pass and an f pass).\n\n",
         n, xtol, gtol, ftol, max_iter);
  printf("%-9s %-12s %8s %6s %-20s %17s %11s %7s %-14s %-17s %s\n", "problem", "engine", "time s", "iters", "stop",
         "final SSE", "SSE rel.", "time/", "params", "in box", "passes per iteration");
  printf("%-9s %-12s %8s %6s %-20s %17s %11s %7s\n", "", "", "", "", "", "", "to moelab", "moelab");
  static char notes[4096];
  for (int pi = 0; pi < 3; pi++) {
    const problem *P = &probs[pi];
    moelab_model *truth = bench_truth2(MOELAB_GATE_SIGMOID, P->expert, 1, 1e-2);
    moelab_data *D = NULL;
    moelab_simulate(truth, NULL, n, 3, 0, &D, NULL);
    /* the start: what moelab_fit builds from the truth (split, perturb 0.1), after 0 iterations */
    moelab_fit_options o;
    moelab_fit_options_init(&o);
    o.expert = P->expert;
    o.k = P->k;
    o.init = MOELAB_INIT_MODEL;
    o.init_model = truth;
    o.max_iter = 0;
    o.threads = 1;
    o.compute_se = 0;
    moelab_data_view v = moelab_data_as_view(D);
    moelab_model *start = NULL;
    if (moelab_fit(&v, &o, &start, NULL, NULL)) {
      fprintf(stderr, "bench_engine: no start\n");
      return 1;
    }
    run_res Rm, Rl, Ra;
    if (run_moelab(start, D, &Rm)) {
      fprintf(stderr, "bench_engine: moelab fit failed\n");
      return 1;
    }
    run_gsl(start, D, 0, xtol, gtol, ftol, max_iter, &Rl);
    run_gsl(start, D, 1, xtol, gtol, ftol, max_iter, &Ra);
    const run_res *rs[3] = {&Rm, &Rl, &Ra};
    const char *names[3] = {"moelab", "GSL lm", "GSL lmaccel"};
    for (int e = 0; e < 3; e++) {
      const run_res *R = rs[e];
      char params[40], inbox[32];
      snprintf(params, sizeof params, "[%.3g, %.3g]", R->pmin, R->pmax);
      int inside = R->pmin >= -10.0 && R->pmax <= 10.0;
      if (e == 0)
        snprintf(inbox, sizeof inbox, "yes%s", R->at_bound ? " (on bound)" : "");
      else
        snprintf(inbox, sizeof inbox, "%s", inside ? "yes" : "NO");
      char stop[40];
      snprintf(stop, sizeof stop, "%s%s", R->stop, e == 0 ? (R->converged ? " (conv.)" : " (NOT conv.)") : "");
      printf("%-9s %-12s %8.4f %6zu %-20s %17.10g %11.2e %7.2f %-14s %-17s %s\n", e == 0 ? P->name : "", names[e],
             R->seconds, R->iterations, stop, R->sse, (R->sse - Rm.sse) / Rm.sse, R->seconds / Rm.seconds, params,
             inbox, R->passes);
    }
    /* the verdict, in words */
    for (int e = 1; e < 3; e++) {
      const run_res *R = rs[e];
      double rel = (R->sse - Rm.sse) / Rm.sse;
      int inside = R->pmin >= -10.0 && R->pmax <= 10.0;
      char *line = notes + strlen(notes);
      size_t room = sizeof notes - strlen(notes);
      if (R->seconds < Rm.seconds && rel <= 1e-9)
        snprintf(line, room, "%s: %s is FASTER than moelab (%.2fx the time) at an SSE no worse (rel. %+.1e)%s%s.\n",
                 P->name, names[e], R->seconds / Rm.seconds, rel, inside ? "" : ", but outside the box",
                 R->status ? " and without converging" : "");
      else if (R->seconds < Rm.seconds)
        snprintf(line, room, "%s: %s is faster (%.2fx the time) but ends at a larger SSE (rel. %+.1e)%s%s.\n",
                 P->name, names[e], R->seconds / Rm.seconds, rel, inside ? "" : ", outside the box",
                 R->status ? " without converging" : "");
      else
        snprintf(line, room, "%s: %s is slower (%.2fx the time), SSE rel. %+.1e%s%s.\n", P->name, names[e],
                 R->seconds / Rm.seconds, rel, inside ? "" : ", outside the box",
                 R->status ? ", without converging" : "");
    }
    printf("\n");
    moelab_model_free(start);
    moelab_data_free(D);
    moelab_model_free(truth);
  }
  printf("%s", notes);
  return 0;
}
