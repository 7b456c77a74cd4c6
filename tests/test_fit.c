/*
 * test_fit.c — the least squares estimator: exact recovery on noiseless data,
 * stationarity checked by an independent solver (GSL's gsl_multifit_nlinear),
 * determinism across threads, bounds, the softmax gauge, the split rule,
 * weights, failures, and the choice of k.
 */
#include "check.h"
#include "fit_internal.h"
#include "gsl_oracle.h"
#include "moelab.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit_nlinear.h>

static moelab_model *truth2(moelab_gate g, moelab_expert e, size_t d) {
  moelab_model *m = NULL;
  moelab_model_new(g, e, 1, d, 2, &m, NULL);
  /* two well separated atoms: opposite gate slopes, distinct experts */
  double a0[8] = {0.5, 2.0, -1.0, 1.5, 0.7, 0.5}, a1[8] = {-0.5, -3.0, 0.5, -2.0, 0.3, 1.0};
  if (d == 1) {
    double t0[4] = {0.5, 2.0, 1.5, 0.5}, t1[4] = {-0.5, -3.0, -2.0, 1.0};
    memcpy(m->theta, t0, sizeof t0);
    memcpy(m->theta + 4, t1, sizeof t1);
  } else {
    memcpy(m->theta, a0, 6 * sizeof(double));
    memcpy(m->theta + 6, a1, 6 * sizeof(double));
  }
  double lo[2] = {-1, -1}, hi[2] = {1, 1};
  moelab_model_set_input(m, MOELAB_LAW_UNIFORM, lo, hi, NULL);
  return m;
}

/* The defaults with the gate and expert family of t. */
static moelab_fit_options options_for(const moelab_model *t) {
  moelab_fit_options o;
  moelab_fit_options_init(&o);
  o.gate = t->gate;
  o.expert = t->expert;
  return o;
}

/* Gauge-free parameters: softmax gate parameters relative to the last atom's. */
static void canonical(const moelab_model *m, double *out) {
  memcpy(out, m->theta, m->p * sizeof(double));
  if (m->gate != MOELAB_GATE_SOFTMAX) return;
  const double *last = m->theta + (m->k - 1) * m->stride;
  for (size_t i = 0; i < m->k; i++)
    for (size_t c = 0; c <= m->d; c++) out[i * m->stride + c] = m->theta[i * m->stride + c] - last[c];
}

static void test_exact_recovery(void) {
  const moelab_expert experts[] = {MOELAB_EXPERT_RELU, MOELAB_EXPERT_GELU, MOELAB_EXPERT_SIGMOID,
                                   MOELAB_EXPERT_TANH};
  for (int newton = 0; newton < 2; newton++) /* Gauss–Newton, and the Newton model (d = 1) */
  for (int g = 0; g < 2; g++)
    for (size_t e = 0; e < 4; e++)
      for (size_t d = 1; d <= 2 - (size_t)newton; d++) {
        moelab_model *t = truth2((moelab_gate)g, experts[e], d);
        moelab_data *D = NULL;
        moelab_simulate(t, NULL, 2000, 5, 0, &D, NULL); /* no noise */
        moelab_fit_options o = options_for(t);
        o.k = 2;
        o.init = MOELAB_INIT_MODEL;
        o.init_model = t;
        o.perturb = 0.1;
        o.threads = 1;
        o.newton = newton;
        moelab_data_view v = moelab_data_as_view(D);
        moelab_model *f = NULL;
        moelab_fit_report *r = NULL;
        moelab_error err;
        CHECK_STATUS(moelab_fit(&v, &o, &f, &r, &err), MOELAB_OK);
        if (!f) continue;
        double ct[12], cf[12];
        canonical(t, ct);
        canonical(f, cf);
        double worst = 0;
        for (size_t j = 0; j < t->p; j++) worst = fmax(worst, fabs(cf[j] - ct[j]) / fmax(fabs(ct[j]), 1.0));
        CHECK_MSG(worst <= 1e-6, "%s/%s d=%zu newton=%d: relative error %.3g (stop %s, %zu it)",
                  moelab_gate_name(t->gate), moelab_expert_name(t->expert), d, newton, worst,
                  moelab_stop_name(r->stop), r->iterations);
        CHECK_MSG(r->converged, "%s/%s d=%zu did not converge", moelab_gate_name(t->gate),
                  moelab_expert_name(t->expert), d);
        CHECK(r->sse < 1e-16 * 2000);
        if (t->gate == MOELAB_GATE_SOFTMAX) /* the sum-to-zero gauge */
          for (size_t c = 0; c <= d; c++) CHECK_NEAR(f->theta[c] + f->theta[f->stride + c], 0.0, 1e-12);
        moelab_fit_report_free(r);
        moelab_model_free(f);
        moelab_data_free(D);
        moelab_model_free(t);
      }
}

/*
 * The Newton model is the Hessian of SSE/2: JᵀJ plus the residual curvature,
 * against central differences of the analytic gradient, for both gates,
 * smooth experts (GELU, tanh, sigmoid, poly of degree 3, constant), d = 1
 * and 2, k = 3, on noisy data at a point away from the truth (so the
 * residuals, and with them the curvature term, are not small).  Relative to
 * √(H_aa H_bb) the differences are O(h²) ≈ 1e-10 here; a missing or wrong
 * curvature block shows at O(1).
 */
static void test_newton_hessian(void) {
  const moelab_expert experts[] = {MOELAB_EXPERT_GELU, MOELAB_EXPERT_TANH, MOELAB_EXPERT_SIGMOID,
                                   MOELAB_EXPERT_POLY, MOELAB_EXPERT_CONSTANT};
  for (int g = 0; g < 2; g++)
    for (size_t e = 0; e < 5; e++)
      for (size_t d = 1; d <= 2; d++) {
        moelab_model *t = NULL;
        moelab_model_new((moelab_gate)g, experts[e], 3, d, 3, &t, NULL);
        for (size_t j = 0; j < t->p; j++) t->theta[j] = 0.8 * sin(1.7 * (double)j + 0.3 * (double)d) + 0.1;
        double lo[2] = {-1, -1}, hi[2] = {1, 1};
        moelab_model_set_input(t, MOELAB_LAW_UNIFORM, lo, hi, NULL);
        moelab_model_set_noise(t, 0.05, NULL);
        moelab_data *D = NULL;
        CHECK_STATUS(moelab_simulate(t, NULL, 400, 9, 0, &D, NULL), MOELAB_OK);
        moelab_fit_options o = options_for(t);
        o.degree = 3;
        o.k = 3;
        o.newton = 1;
        o.threads = 1;
        moelab_data_view v = moelab_data_as_view(D);
        size_t p = t->p, np = 0;
        double *th = malloc(p * sizeof(double)), *H = malloc(p * p * sizeof(double)), *g0 = malloc(p * sizeof(double));
        double *Hx = malloc(p * p * sizeof(double)), *gp = malloc(p * sizeof(double)), *gm = malloc(p * sizeof(double));
        for (size_t j = 0; j < p; j++) th[j] = t->theta[j] + 0.3 * cos(2.3 * (double)j); /* away from the truth */
        double sse;
        CHECK_STATUS(fit_model_at(&v, &o, th, &sse, H, g0, &np, NULL), MOELAB_OK);
        /* φ → θ moves: a free φ_a is θ_a, and under the softmax gauge atom k's gate parameter c moves by -h
         * with every other atom's */
        double worst = 0;
        const size_t stride = t->stride, gs = 1 + d;
        for (size_t a = 0; a < np; a++) {
          size_t atom = a / stride, c = a % stride, ta = a;
          if (g == 1 && atom + 1 == t->k) ta = (t->k - 1) * stride + gs + c; /* atom k's η */
          double h = 1e-5 * fmax(1.0, fabs(th[ta])), s2;
          double *tp = malloc(p * sizeof(double));
          for (int sgn = 0; sgn < 2; sgn++) {
            memcpy(tp, th, p * sizeof(double));
            double dh = sgn ? -h : h;
            tp[ta] += dh;
            if (g == 1 && atom + 1 < t->k && c < gs) tp[(t->k - 1) * stride + c] -= dh;
            fit_model_at(&v, &o, tp, &s2, Hx, sgn ? gm : gp, &np, NULL);
          }
          free(tp);
          for (size_t b = 0; b < np; b++) {
            double fd = (gp[b] - gm[b]) / (2 * h);
            double sc = sqrt(fabs(H[a * np + a]) * fabs(H[b * np + b])) + 1e-300;
            worst = fmax(worst, fabs(fd - H[b * np + a]) / sc);
          }
        }
        CHECK_MSG(worst <= 1e-6, "%s/%s d=%zu: Newton model vs differences of the gradient %.3g",
                  moelab_gate_name(t->gate), moelab_expert_name(t->expert), d, worst);
        /* and without the curvature term the model is only JᵀJ: the same test must fail */
        o.newton = 0;
        CHECK_STATUS(fit_model_at(&v, &o, th, &sse, Hx, g0, &np, NULL), MOELAB_OK);
        double diff = 0;
        for (size_t j = 0; j < np * np; j++) diff = fmax(diff, fabs(Hx[j] - H[j]) / sqrt(fabs(H[(j / np) * (np + 1)]) * fabs(H[(j % np) * (np + 1)]) + 1e-300));
        CHECK_MSG(diff > 1e-3, "%s/%s d=%zu: the curvature term is negligible here (%.3g): the test proves nothing",
                  moelab_gate_name(t->gate), moelab_expert_name(t->expert), d, diff);
        free(th), free(H), free(g0), free(Hx), free(gp), free(gm);
        moelab_data_free(D);
        moelab_model_free(t);
      }
}

/* ---- the oracle: GSL's small-problem solver started from our answer ---- */

/* The SSE GSL's trust-region LM reaches from the model's parameters (tests/gsl_oracle.h). */
static double oracle_sse(const moelab_model *start, const moelab_data *D) { return gsl_oracle_sse(start, D, NULL); }

static double row_term_max(const moelab_model *m, const moelab_data *D);

/* Fits end at stationary points: converged, and GSL's trust-region LM started
 * from the returned point lowers SSE by at most 1e-10 relative.  The oracle
 * has no bounds, so it is applied to the fits that end inside Θ; most do.
 * ReLU fits may be converged by kink stationarity instead of the gradient test
 * (stop kink, or xtol/ftol/stalled): their gradient is then within the largest
 * single-row term (from the public Jacobian).  The ReLU fits of this configuration
 * pass the 1e-10 check; over many seeds GSL still lowers about 1 in 20 over-specified
 * ReLU end points a little (bench/bench_oracle: 7 of 152, README), which test_kink_stop's
 * comment explains. */
static void test_stationary_against_oracle(void) {
  gsl_set_error_handler_off();
  const moelab_expert experts[] = {MOELAB_EXPERT_GELU, MOELAB_EXPERT_TANH, MOELAB_EXPERT_LINEAR, MOELAB_EXPERT_RELU};
  int interior = 0, cases = 0;
  for (int g = 0; g < 2; g++)
    for (size_t e = 0; e < 4; e++)
      for (size_t k = 2; k <= 3; k++) {
        moelab_model *t = truth2((moelab_gate)g, experts[e], 1);
        /* k = 2 (exactly specified) with little noise stays inside Θ; k = 3 may
         * switch an atom off at a bound */
        moelab_model_set_noise(t, k == 2 ? 1e-4 : 1e-2, NULL);
        moelab_data *D = NULL;
        moelab_simulate(t, NULL, k == 2 ? 3000 : 1000, 9, 0, &D, NULL);
        moelab_fit_options o = options_for(t);
        o.k = k;
        o.init = MOELAB_INIT_MODEL;
        o.init_model = t;
        o.restarts = 2;
        o.threads = 1;
        moelab_data_view v = moelab_data_as_view(D);
        moelab_model *f = NULL;
        moelab_fit_report *r = NULL;
        CHECK_STATUS(moelab_fit(&v, &o, &f, &r, NULL), MOELAB_OK);
        if (!f) continue;
        cases++;
        const int gradient_test = r->grad_norm <= o.gtol && r->decrement <= o.dtol;
        const int kink_test = t->expert == MOELAB_EXPERT_RELU &&
                              (r->stop == MOELAB_STOP_KINK || r->stop == MOELAB_STOP_XTOL ||
                               r->stop == MOELAB_STOP_FTOL || r->stop == MOELAB_STOP_STALLED) &&
                              r->grad_norm <= row_term_max(f, D) * (1 + 1e-9);
        CHECK_MSG(r->converged && (gradient_test || kink_test),
                  "%s/%s k=%zu: gradient %.3g decrement %.3g stop %s", moelab_gate_name(t->gate),
                  moelab_expert_name(t->expert), k, r->grad_norm, r->decrement, moelab_stop_name(r->stop));
        if (r->n_at_bound == 0) {
          interior++;
          double sse_oracle = oracle_sse(f, D);
          CHECK_MSG(sse_oracle >= r->sse * (1 - 1e-10), "%s/%s k=%zu: oracle %.15g < ours %.15g",
                    moelab_gate_name(t->gate), moelab_expert_name(t->expert), k, sse_oracle, r->sse);
        }
        moelab_fit_report_free(r);
        moelab_model_free(f);
        moelab_data_free(D);
        moelab_model_free(t);
      }
  CHECK(cases == 16);
  CHECK_MSG(interior >= 8, "only %d of %d fits ended inside the box", interior, cases);
}

static moelab_fit_report *fit_with(const moelab_data *D, moelab_fit_options *o, moelab_model **f) {
  moelab_data_view v = moelab_data_as_view(D);
  moelab_fit_report *r = NULL;
  *f = NULL;
  int st = moelab_fit(&v, o, f, &r, NULL);
  CHECK_STATUS(st, MOELAB_OK);
  return r;
}

/* max_i |r_i| ‖J_i‖∞ / (n s), s the variance of y: the largest single-row term
 * of the gradient of L = SSE / (2 n s), from the public Jacobian. */
static double row_term_max(const moelab_model *m, const moelab_data *D) {
  double *J = malloc(D->n * m->p * sizeof(double)), *f = malloc(D->n * sizeof(double));
  double best = NAN;
  if (J && f && moelab_model_jacobian(m, D->X, D->n, f, J, NULL) == MOELAB_OK) {
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < D->n; i++) mean += D->y[i];
    mean /= (double)D->n;
    for (size_t i = 0; i < D->n; i++) var += (D->y[i] - mean) * (D->y[i] - mean);
    var /= (double)D->n;
    best = 0.0;
    for (size_t i = 0; i < D->n; i++) {
      double jm = 0.0;
      for (size_t j = 0; j < m->p; j++) jm = fmax(jm, fabs(J[i * m->p + j]));
      best = fmax(best, fabs(f[i] - D->y[i]) * jm);
    }
    best /= (double)D->n * var;
  }
  free(J);
  free(f);
  return best;
}

/* SSE of the model m on D with parameters th (public API). */
static double sse_at(moelab_model *m, const double *th, const moelab_data *D, double *f) {
  memcpy(m->theta, th, m->p * sizeof(double));
  if (moelab_model_predict(m, D->X, D->n, f, 1, NULL) != MOELAB_OK) return NAN;
  double s = 0.0;
  for (size_t i = 0; i < D->n; i++) s += (f[i] - D->y[i]) * (f[i] - D->y[i]);
  return s;
}

/* The largest relative decrease of SSE that a Levenberg–Marquardt step from the fitted
 * point reaches, over the steps (JᵀJ + μ diag(JᵀJ)) δ = -Jᵀr in θ, μ = 1e-3·2^j, j = 0..30
 * (the steps a fresh start would take), computed here from the public Jacobian with GSL's
 * Cholesky; a softmax step is evaluated as it is (f does not see the gauge).  NaN when no
 * step could be solved (so a check on it fails).  Only for fits with no parameter on a
 * bound. */
static double best_lm_step_gain(const moelab_model *fit, const moelab_data *D) {
  const size_t p = fit->p, n = D->n;
  moelab_model *m = NULL;
  moelab_model_copy(fit, &m, NULL);
  double *J = malloc(n * p * sizeof(double)), *f = malloc(n * sizeof(double)), *th = malloc(p * sizeof(double));
  gsl_matrix *H = gsl_matrix_alloc(p, p), *A = gsl_matrix_alloc(p, p);
  gsl_vector *g = gsl_vector_alloc(p), *dx = gsl_vector_alloc(p);
  double best = NAN;
  if (m && J && f && th && moelab_model_jacobian(m, D->X, n, f, J, NULL) == MOELAB_OK) {
    gsl_matrix_view Jv = gsl_matrix_view_array(J, n, p);
    for (size_t i = 0; i < n; i++) f[i] -= D->y[i];
    gsl_vector_view r = gsl_vector_view_array(f, n);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &Jv.matrix, &Jv.matrix, 0.0, H);
    gsl_blas_dgemv(CblasTrans, 1.0, &Jv.matrix, &r.vector, 0.0, g);
    double sse0 = sse_at(m, fit->theta, D, f), dmax = 0.0;
    for (size_t a = 0; a < p; a++) dmax = fmax(dmax, gsl_matrix_get(H, a, a));
    int solved = 0;
    for (int j = 0; j <= 30; j++) {
      double mu = ldexp(1e-3, j);
      gsl_matrix_memcpy(A, H);
      /* diag(JᵀJ) floored at 1e-12 of its largest entry, as a fresh start scales */
      for (size_t a = 0; a < p; a++)
        gsl_matrix_set(A, a, a, gsl_matrix_get(H, a, a) + mu * fmax(gsl_matrix_get(H, a, a), 1e-12 * dmax));
      if (gsl_linalg_cholesky_decomp1(A) != GSL_SUCCESS) continue;
      if (!solved++) best = -INFINITY;
      gsl_linalg_cholesky_solve(A, g, dx);
      for (size_t a = 0; a < p; a++) th[a] = fit->theta[a] - gsl_vector_get(dx, a);
      double s = sse_at(m, th, D, f);
      if (isfinite(s)) best = fmax(best, (sse0 - s) / sse0);
    }
  }
  gsl_matrix_free(H), gsl_matrix_free(A), gsl_vector_free(g), gsl_vector_free(dx);
  free(J), free(f), free(th);
  moelab_model_free(m);
  return best;
}

/* ReLU kink stationarity: over-specified sigmoid and softmax ReLU fits from near the
 * truth end converged by kink stationarity (stop "kink", or "xtol"/"ftol" after the
 * fresh-start steps; at least 4 of the 6), with a gradient within the largest single-row
 * term (computed here from the public Jacobian) and above gtol (so the rule, not the
 * gradient test, ended them).  At such an end none of the Levenberg–Marquardt steps a
 * fresh start would try lowers SSE by more than kink_tol relative (computed here
 * independently; the code before these steps failed this for 3 of the 6 fits, by
 * 6.7e-7 to 6.7e-6).  The crawl (kink_tol = 0: no rule, no such steps) ends at least as
 * high as the kink stop, up to 1e-3 σ̂² (σ̂² = SSE / (n - p), the noise-level threshold of
 * studies).  Two threads give the same bits as one.  (GSL's solver restarted from these
 * points is not asked for 1e-10 here: from some such fits a trust region that starts with
 * tiny steps and grows them for 50–150 iterations still finds a slightly lower point (1.3e-6
 * relative from one of these six, in a build without fused multiply-adds in the Gram
 * sums), the kind of fit bench/bench_oracle counts.) */
static void test_kink_stop(void) {
  gsl_set_error_handler_off();
  int kinks = 0;
  for (int g = 0; g < 2; g++)
    for (uint64_t seed = 4; seed <= 6; seed++) {
      moelab_model *t = truth2((moelab_gate)g, MOELAB_EXPERT_RELU, 1);
      moelab_model_set_noise(t, 1e-2, NULL);
      moelab_data *D = NULL;
      moelab_simulate(t, NULL, 10000, seed, 0, &D, NULL);
      moelab_fit_options o = options_for(t);
      o.k = 3;
      o.init = MOELAB_INIT_MODEL;
      o.init_model = t;
      o.seed = seed;
      o.threads = 1;
      o.compute_se = 0;
      const double ktol = o.kink_tol; /* the default, 1e-10 */
      moelab_model *a = NULL, *b = NULL, *a2 = NULL;
      moelab_fit_report *ra = fit_with(D, &o, &a);
      o.threads = 2;
      moelab_fit_report *ra2 = fit_with(D, &o, &a2);
      o.threads = 1;
      o.kink_tol = 0;
      moelab_fit_report *rb = fit_with(D, &o, &b);
      if (a && b && a2) {
        const char *gn = moelab_gate_name(t->gate);
        CHECK(memcmp(a->theta, a2->theta, a->p * sizeof(double)) == 0 && ra->iterations == ra2->iterations);
        CHECK(rb->stop != MOELAB_STOP_KINK);
        double s2 = ra->sse / (double)(D->n - a->p);
        CHECK_MSG(rb->sse >= ra->sse - 1e-3 * s2, "%s seed %d: kink stop %zu it SSE %.15g, crawl %zu it SSE %.15g", gn,
                  (int)seed, ra->iterations, ra->sse, rb->iterations, rb->sse);
        /* converged by kink stationarity: the kink rule, or a negligible step or decrease after
         * the fresh-start steps (which run before either), with the gradient test unmet */
        const int kink_end = ra->stop == MOELAB_STOP_KINK || ra->stop == MOELAB_STOP_XTOL || ra->stop == MOELAB_STOP_FTOL;
        if (kink_end && ra->converged && ra->grad_norm > o.gtol) {
          kinks++;
          double rt = row_term_max(a, D);
          CHECK(ra->converged);
          CHECK_MSG(ra->grad_norm <= rt * (1 + 1e-9) && ra->grad_norm > o.gtol, "%s seed %d: gradient %.3g, row term %.3g",
                    gn, (int)seed, ra->grad_norm, rt);
          if (ra->n_at_bound == 0) {
            double gain = best_lm_step_gain(a, D);
            CHECK_MSG(gain <= ktol, "%s seed %d: a Levenberg–Marquardt step lowers SSE by %.3g relative", gn,
                      (int)seed, gain);
          }
        }
      }
      moelab_fit_report_free(ra);
      moelab_fit_report_free(ra2);
      moelab_fit_report_free(rb);
      moelab_model_free(a);
      moelab_model_free(a2);
      moelab_model_free(b);
      moelab_data_free(D);
      moelab_model_free(t);
    }
  CHECK_MSG(kinks >= 4, "only %d of 6 fits ended converged by kink stationarity", kinks);
}

/* The weak fresh-start steps: the benchmark's headline fit (sigmoid/ReLU, d = 1, k = 3 for
 * the 2-atom truth, noise 1e-2, n = 1e5, simulation seed 2024, the heaviest atom split and
 * perturbed by 0.1) ends where GSL's solver restarted from the end point lowers SSE by at
 * most 1e-10 relative, the acceptance check.  Without the weak steps and the probes' range
 * up to μ ≈ 1e6 this fit stopped after 39 iterations at a point GSL lowered by 3.0e-10. */
static void test_weak_steps(void) {
  gsl_set_error_handler_off();
  moelab_model *t = truth2(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1);
  moelab_model_set_noise(t, 1e-2, NULL);
  moelab_data *D = NULL;
  CHECK_STATUS(moelab_simulate(t, NULL, 100000, 2024, 0, &D, NULL), MOELAB_OK);
  moelab_fit_options o = options_for(t);
  o.k = 3;
  o.init = MOELAB_INIT_MODEL;
  o.init_model = t;
  o.perturb = 0.1;
  o.threads = 1;
  o.compute_se = 0;
  moelab_model *f = NULL;
  moelab_fit_report *r = fit_with(D, &o, &f);
  if (f && r) {
    CHECK(r->converged && r->n_at_bound == 0);
    double so = oracle_sse(f, D);
    CHECK_MSG(so >= r->sse * (1 - 1e-10), "oracle %.15g < ours %.15g (%.3g relative, %zu iterations, stop %s)", so,
              r->sse, (r->sse - so) / r->sse, (size_t)r->iterations, moelab_stop_name(r->stop));
  }
  moelab_fit_report_free(r);
  moelab_model_free(f);
  moelab_data_free(D);
  moelab_model_free(t);
}

/* Identical results for 1 and 2 threads, random starts and several restarts. */
static void test_thread_determinism(void) {
  moelab_model *t = truth2(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_GELU, 2);
  moelab_model_set_noise(t, 0.01, NULL);
  moelab_data *D = NULL;
  moelab_simulate(t, NULL, 3000, 2, 0, &D, NULL);
  moelab_fit_options o = options_for(t);
  o.k = 3;
  o.restarts = 3;
  o.seed = 17;
  o.max_iter = 60;
  moelab_model *a = NULL, *b = NULL;
  o.threads = 1;
  moelab_fit_report *ra = fit_with(D, &o, &a);
  o.threads = 2;
  moelab_fit_report *rb = fit_with(D, &o, &b);
  if (a && b) {
    CHECK(memcmp(a->theta, b->theta, a->p * sizeof(double)) == 0);
    CHECK_SAME(ra->sse, rb->sse);
    for (size_t r = 0; r < 3; r++) CHECK_SAME(ra->restart[r].sse, rb->restart[r].sse);
  }
  moelab_fit_report_free(ra);
  moelab_fit_report_free(rb);
  moelab_model_free(a);
  moelab_model_free(b);
  moelab_data_free(D);
  moelab_model_free(t);
}

/* The split rule: with perturb 0 and no iterations the fit returns its start. */
static void test_split_rule(void) {
  moelab_model *t = truth2(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_GELU, 1);
  moelab_data *D = NULL;
  moelab_simulate(t, NULL, 100, 1, 0, &D, NULL);
  moelab_fit_options o = options_for(t);
  o.k = 3;
  o.init = MOELAB_INIT_MODEL;
  o.init_model = t;
  o.perturb = 0;
  o.max_iter = 0;
  moelab_model *f = NULL;
  moelab_fit_report *r = fit_with(D, &o, &f);
  if (f) {
    /* atom 0 (weight σ(0.5) > σ(-0.5)) is split into atoms 0 and 1 with σ(β0') = σ(0.5)/2 */
    double half = 0.5 / (1 + exp(-0.5));
    CHECK_NEAR(1 / (1 + exp(-f->theta[0])), half, 1e-15);
    CHECK_NEAR(1 / (1 + exp(-f->theta[4])), half, 1e-15);
    for (int j = 1; j < 4; j++) CHECK(f->theta[j] == t->theta[j] && f->theta[4 + j] == t->theta[j]);
    for (int j = 0; j < 4; j++) CHECK(f->theta[8 + j] == t->theta[4 + j]);
  }
  moelab_fit_report_free(r);
  moelab_model_free(f);
  /* an explicit split of atom 1, softmax: β0' = β0 - log 2 */
  t->gate = MOELAB_GATE_SOFTMAX;
  o.gate = MOELAB_GATE_SOFTMAX;
  size_t split[1] = {1};
  o.split = split;
  o.nsplit = 1;
  r = fit_with(D, &o, &f);
  if (f) {
    /* gauge-free: exp(β0_1' - β0_0) = exp(-0.5 - log 2 - 0.5) */
    CHECK_NEAR(f->theta[4] - f->theta[0], -1.0 - log(2.0), 1e-14);
    CHECK_NEAR(f->theta[8] - f->theta[4], 0.0, 1e-14);
  }
  moelab_fit_report_free(r);
  moelab_model_free(f);
  split[0] = 5;
  moelab_data_view v = moelab_data_as_view(D);
  moelab_error err;
  CHECK_STATUS(moelab_fit(&v, &o, &f, NULL, &err), MOELAB_EINVAL);
  CHECK(strcmp(err.field, "split") == 0);
  moelab_data_free(D);
  moelab_model_free(t);
}

/* A parameter whose best value lies outside Θ ends on the bound and is reported. */
static void test_bounds(void) {
  moelab_model *t = truth2(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1);
  t->theta[2] = 4.0; /* a_0 = 4, outside the box [-3, 3] */
  moelab_data *D = NULL;
  moelab_simulate(t, NULL, 500, 1, 0, &D, NULL);
  moelab_fit_options o = options_for(t);
  o.k = 2;
  o.init = MOELAB_INIT_MODEL;
  o.init_model = t;
  o.box.eta_lo = -3;
  o.box.eta_hi = 3;
  moelab_model *f = NULL;
  moelab_fit_report *r = fit_with(D, &o, &f);
  if (f) {
    for (size_t j = 0; j < f->p; j++) CHECK(f->theta[j] >= -10 && f->theta[j] <= 10);
    CHECK(r->n_at_bound >= 1);
    int any = 0;
    for (size_t i = 0; i < 2; i++)
      for (size_t j = 2; j < 4; j++) {
        double v = f->theta[i * 4 + j];
        CHECK(v >= -3 && v <= 3);
        if (v == 3.0) any = r->at_bound[i * 4 + j] == 1;
      }
    CHECK(any);
    CHECK(r->converged); /* the projected gradient vanishes at the bound */
    CHECK(strstr(f->extra, "at_bound") != NULL);
  }
  moelab_fit_report_free(r);
  moelab_model_free(f);
  moelab_data_free(D);
  moelab_model_free(t);
}

/* Weight 2 on a row is the same as the row twice. */
static void test_weights(void) {
  moelab_model *t = truth2(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_TANH, 1);
  moelab_model_set_noise(t, 0.01, NULL);
  moelab_data *D = NULL;
  moelab_simulate(t, NULL, 300, 4, 0, &D, NULL);
  moelab_data *E = NULL;
  moelab_data_new(400, 1, 1, &E, NULL);
  memcpy(E->X, D->X, 300 * sizeof(double));
  memcpy(E->y, D->y, 300 * sizeof(double));
  memcpy(E->X + 300, D->X, 100 * sizeof(double)); /* rows 0..99 twice */
  memcpy(E->y + 300, D->y, 100 * sizeof(double));
  double w[300];
  for (int i = 0; i < 300; i++) w[i] = i < 100 ? 2.0 : 1.0;
  moelab_fit_options o = options_for(t);
  o.k = 2;
  o.init = MOELAB_INIT_MODEL;
  o.init_model = t;
  o.perturb = 0;
  o.threads = 1;
  moelab_model *a = NULL, *b = NULL;
  moelab_fit_report *rb = fit_with(E, &o, &b);
  o.weights = w;
  moelab_fit_report *ra = fit_with(D, &o, &a);
  if (a && b) {
    CHECK_NEAR(ra->sse, rb->sse, 1e-10 * rb->sse);
    for (size_t j = 0; j < a->p; j++) CHECK_NEAR(a->theta[j], b->theta[j], 1e-6 * fmax(1, fabs(b->theta[j])));
  }
  w[5] = -1;
  moelab_data_view v = moelab_data_as_view(D);
  moelab_error err;
  CHECK_STATUS(moelab_fit(&v, &o, &a, NULL, &err), MOELAB_EINVAL);
  CHECK(strcmp(err.field, "weights") == 0);
  moelab_fit_report_free(ra);
  moelab_fit_report_free(rb);
  moelab_model_free(a);
  moelab_model_free(b);
  moelab_data_free(D);
  moelab_data_free(E);
  moelab_model_free(t);
}

static void test_fails_well(void) {
  moelab_model *t = truth2(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_GELU, 2);
  moelab_model_set_noise(t, 0.01, NULL);
  moelab_data *D = NULL;
  moelab_simulate(t, NULL, 200, 4, 0, &D, NULL);
  moelab_fit_options o = options_for(t);
  o.k = 3;
  o.threads = 1;
  moelab_error err;
  moelab_model *f = NULL;
  moelab_fit_report *r = NULL;
  /* fewer rows than parameters */
  moelab_data_view few = {10, 2, D->X, D->y};
  CHECK_STATUS(moelab_fit(&few, &o, &f, &r, &err), MOELAB_EINVAL);
  CHECK(strstr(err.message, "fewer rows") != NULL);
  CHECK(f == NULL && r == NULL);
  /* no y */
  moelab_data_view noy = {200, 2, D->X, NULL};
  CHECK_STATUS(moelab_fit(&noy, &o, &f, &r, &err), MOELAB_EINVAL);
  /* tolerances: negative, infinite, kink_tol above 1 */
  moelab_data_view all = moelab_data_as_view(D);
  const double bad_tol[3] = {-1.0, INFINITY, 2.0};
  for (int b = 0; b < 3; b++) {
    moelab_fit_options ob = o;
    if (b < 2)
      ob.stat_tol = bad_tol[b];
    else
      ob.kink_tol = bad_tol[b];
    CHECK_STATUS(moelab_fit(&all, &ob, &f, &r, &err), MOELAB_EINVAL);
    CHECK(f == NULL && r == NULL && strstr(err.message, "tol") != NULL);
  }
  /* a constant column: the fit completes without NaN; J'J is singular */
  for (size_t i = 0; i < 200; i++) D->X[2 * i + 1] = 0.25;
  o.restarts = 2;
  moelab_data_view v = moelab_data_as_view(D);
  CHECK_STATUS(moelab_fit(&v, &o, &f, &r, &err), MOELAB_OK);
  if (f) {
    CHECK(moelab_model_validate(f, NULL) == MOELAB_OK);
    CHECK(isfinite(r->sse));
    CHECK(!r->se_available);
  }
  moelab_fit_report_free(r);
  moelab_model_free(f);
  f = NULL;
  r = NULL;
  /* a start that overflows to NaN: every restart fails, a clear error */
  moelab_model *bad = NULL;
  moelab_model_copy(t, &bad, NULL);
  for (size_t j = 0; j < bad->p; j++) bad->theta[j] = 1e300;
  o.k = 2;
  o.init = MOELAB_INIT_MODEL;
  o.init_model = bad;
  o.perturb = 0;
  o.box.beta0_lo = o.box.beta1_lo = o.box.eta_lo = -1e308;
  o.box.beta0_hi = o.box.beta1_hi = o.box.eta_hi = 1e308;
  CHECK_STATUS(moelab_fit(&v, &o, &f, &r, &err), MOELAB_ENUMERIC);
  CHECK(strstr(err.message, "all 2 restarts failed") != NULL);
  CHECK(f == NULL);
  /* one good restart among failing ones is kept */
  o.perturb = 0.5;
  for (size_t j = 0; j < bad->p; j++) bad->theta[j] = t->theta[j];
  bad->theta[1] = 1e306; /* β1 so large that some perturbed starts overflow */
  moelab_model_free(bad);
  bad = NULL;
  moelab_data_free(D);
  moelab_model_free(t);
}

/* BIC picks the true k = 2 on data from a two-atom model. */
static void test_select_k(void) {
  moelab_model *t = truth2(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_GELU, 1);
  moelab_model_set_noise(t, 0.01, NULL);
  moelab_data *D = NULL;
  moelab_simulate(t, NULL, 2000, 6, 0, &D, NULL);
  moelab_fit_options o = options_for(t);
  o.init = MOELAB_INIT_KMEANS;
  o.restarts = 4;
  o.threads = 1;
  moelab_select_row rows[3];
  size_t best = 0;
  moelab_data_view v = moelab_data_as_view(D);
  moelab_model *m = NULL;
  CHECK_STATUS(moelab_select_k(&v, &o, 1, 3, MOELAB_SELECT_BIC, 0, rows, &best, &m, NULL), MOELAB_OK);
  CHECK(best == 2);
  CHECK(m && m->k == 2);
  CHECK(rows[0].bic > rows[1].bic && rows[2].bic > rows[1].bic);
  CHECK(rows[1].p_free == 8);
  moelab_model_free(m);
  moelab_data_free(D);
  moelab_model_free(t);
}

CHECK_MAIN(T(test_exact_recovery), T(test_newton_hessian), T(test_stationary_against_oracle), T(test_kink_stop), T(test_weak_steps), T(test_thread_determinism),
           T(test_split_rule), T(test_bounds), T(test_weights), T(test_fails_well), T(test_select_k))
