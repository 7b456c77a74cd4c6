/*
 * bench_oracle.c — how often a generic solver restarted from moelab's end point
 * still lowers SSE (figures, not a test).
 *
 * For each gate and n: over-specified fits (k = 3 for the 2-atom truth of
 * bench_common.h, d = 1, noise variance 1e-2) from a near-truth start (the
 * library's model start: the heaviest atom split, every parameter perturbed by
 * 0.1 on the fit's own stream), seeds S1..S2, one restart, one thread.  From
 * every converged fit with no parameter on Θ's bound, GSL's small-problem
 * trust-region solver (gsl_multifit_nlinear, its defaults, 200 iterations) is
 * started; the fit counts as "lowered" when the solver ends inside Θ below
 * (1 - 1e-10) · SSE, the stationarity check of the tests.  Prints the counts,
 * the largest and median relative decrease, and the fits' iterations and time.
 *
 * Usage: bench_oracle [--expert FAMILY] [--n N1,N2,...] [--seeds S1..S2] [--kink-tol T] [--list]
 *   --list: one comment line per lowered fit (seed, stop reason, iterations, SSE, decrease)
 *   defaults: relu, n = 1000,4000, seeds 1..20, kink_tol the library's (1e-10)
 */
#include "bench_common.h"
#include "gsl_oracle.h"

#include <stdio.h>

/* The SSE GSL's solver reaches from the fitted model (tests/gsl_oracle.h, the tests' oracle);
 * *inside = 1 when its end point is inside the box [lo, hi] of every parameter. */
static double oracle_sse(const moelab_model *fit, const moelab_data *D, double lo, double hi, int *inside) {
  double *x = malloc(fit->p * sizeof(double));
  *inside = 0;
  if (!x) return NAN;
  double chi = gsl_oracle_sse(fit, D, x);
  if (isfinite(chi)) {
    *inside = 1;
    for (size_t j = 0; j < fit->p; j++)
      if (!(x[j] >= lo && x[j] <= hi)) *inside = 0;
  }
  free(x);
  return chi;
}

static int parse_expert(const char *s, moelab_expert *e) {
  const moelab_expert all[] = {MOELAB_EXPERT_RELU, MOELAB_EXPERT_GELU, MOELAB_EXPERT_LINEAR, MOELAB_EXPERT_SIGMOID,
                               MOELAB_EXPERT_TANH};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(s, moelab_expert_name(all[i])) == 0) {
      *e = all[i];
      return 0;
    }
  return -1;
}

int main(int argc, char **argv) {
  moelab_expert expert = MOELAB_EXPERT_RELU;
  size_t ns[16] = {1000, 4000}, nn = 2;
  long s1 = 1, s2 = 20;
  double kink_tol = -1;
  int list = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--expert") == 0 && v) {
      if (parse_expert(v, &expert)) {
        fprintf(stderr, "bench_oracle: unknown expert %s (relu, gelu, linear, sigmoid, tanh)\n", v);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--n") == 0 && v) {
      nn = 0;
      for (char *t = strtok(argv[++i], ","); t && nn < 16; t = strtok(NULL, ",")) ns[nn++] = (size_t)strtod(t, NULL);
    } else if (strcmp(a, "--seeds") == 0 && v && sscanf(v, "%ld..%ld", &s1, &s2) == 2 && s1 >= 0 && s2 >= s1) {
      i++;
    } else if (strcmp(a, "--list") == 0) {
      list = 1;
    } else if (strcmp(a, "--kink-tol") == 0 && v) {
      kink_tol = strtod(argv[++i], NULL);
    } else {
      printf("usage: bench_oracle [--expert FAMILY] [--n N1,N2,...] [--seeds S1..S2] [--kink-tol T] [--list]\n");
      return strcmp(a, "--help") == 0 ? 0 : 2;
    }
  }
  gsl_set_error_handler_off();
  moelab_fit_options base;
  moelab_fit_options_init(&base);
  printf("# GSL's gsl_multifit_nlinear restarted from moelab's end points: %s experts, k = 3 for a 2-atom\n",
         moelab_expert_name(expert));
  printf("# truth (noise 1e-2, d = 1), near-truth start, seeds %ld..%ld, 1 restart, 1 thread; kink_tol %g\n", s1, s2,
         kink_tol >= 0 ? kink_tol : base.kink_tol);
  printf("# checked: converged fits with no parameter on the box whose oracle ends inside the box;\n");
  printf("# lowered: the oracle ends below (1 - 1e-10) SSE (relative decrease: largest, median of those)\n");
  printf("%-8s %6s %5s %5s %7s %7s %10s %10s %8s %8s\n", "gate", "n", "fits", "conv", "checked", "lowered", "largest",
         "median", "iters", "fit s");
  for (int g = 0; g < 2; g++)
    for (size_t in = 0; in < nn; in++) {
      size_t n = ns[in], fits = 0, conv = 0, checked = 0, lowered = 0, iters = 0;
      double gaps[1024], secs = 0.0, largest = 0.0;
      for (long sd = s1; sd <= s2; sd++) {
        moelab_model *t = bench_truth2((moelab_gate)g, expert, 1, 1e-2);
        moelab_data *D = NULL;
        if (!t || moelab_simulate(t, NULL, n, (uint64_t)sd, 0, &D, NULL)) return 1;
        moelab_fit_options o = base;
        o.gate = t->gate;
        o.expert = expert;
        o.k = 3;
        o.init = MOELAB_INIT_MODEL;
        o.init_model = t;
        o.seed = (uint64_t)sd;
        o.threads = 1;
        o.compute_se = 0;
        if (kink_tol >= 0) o.kink_tol = kink_tol;
        moelab_data_view view = moelab_data_as_view(D);
        moelab_model *f = NULL;
        moelab_fit_report *r = NULL;
        double t0 = bench_now();
        if (moelab_fit(&view, &o, &f, &r, NULL) != MOELAB_OK) return 1;
        secs += bench_now() - t0;
        fits++;
        iters += r->iterations;
        conv += r->converged != 0;
        if (r->converged && r->n_at_bound == 0) {
          int inside;
          double so = oracle_sse(f, D, o.box.beta0_lo, o.box.beta0_hi, &inside);
          if (inside && isfinite(so)) {
            checked++;
            double gap = (r->sse - so) / r->sse;
            if (gap > 1e-10) {
              if (lowered < 1024) gaps[lowered] = gap;
              lowered++;
              if (gap > largest) largest = gap;
              if (list)
                printf("#   %s n %zu seed %ld: stop %s, %zu iterations, SSE %.15g, oracle %.15g (%.3g)\n",
                       g ? "softmax" : "sigmoid", n, sd, moelab_stop_name(r->stop), (size_t)r->iterations, r->sse, so,
                       gap);
            }
          }
        }
        moelab_fit_report_free(r);
        moelab_model_free(f);
        moelab_data_free(D);
        moelab_model_free(t);
      }
      double med = lowered ? bench_median(gaps, lowered < 1024 ? lowered : 1024) : 0.0;
      printf("%-8s %6zu %5zu %5zu %7zu %7zu %10.3g %10.3g %8zu %8.2f\n", g ? "softmax" : "sigmoid", n, fits, conv, checked,
             lowered, largest, med, iters, secs);
      fflush(stdout);
    }
  return 0;
}
