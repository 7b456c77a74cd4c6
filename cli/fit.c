/*
 * fit.c — `moelab fit`: the least squares estimator on a data file, with
 * restarts, bounds, standard errors and the choice of k.
 */
#include "commands.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"gate", 'g', "GATE", "sigmoid", "Gate: sigmoid or softmax."},
    {"expert", 'e', "FAMILY", "relu", "Expert family: relu, gelu, linear, poly, constant, sigmoid or tanh."},
    {"degree", 0, "P", "2", "Degree of the poly family (1..16)."},
    {"k", 'k', "K|K1..K2", "2",
     "Number of atoms, or a range K1..K2: each k is fitted and one is chosen by --select."},
    {"select", 0, "RULE", "bic", "With a range of k: bic, or cv (k-fold cross-validated MSE)."},
    {"folds", 0, "F", "5", "Folds of --select cv."},
    {"init", 'i', "RULE", "random",
     "Start: random (random atoms from the data's ranges), kmeans (clusters of (x, y)), or model:FILE (a model "
     "file; when --k is larger, its heaviest atoms are split, see --split)."},
    {"perturb", 0, "S", "0.1",
     "model:FILE start: every parameter moves by S*max(|value|, 1)*N(0,1), on each restart's own stream."},
    {"split", 0, "I,J,...", "the heaviest atom each time",
     "model:FILE start with a larger k: indices of the atoms to split, in order."},
    {"split-fraction", 0, "F", "0.5", "model:FILE start: the weight fraction of the first copy of a split atom."},
    {"restarts", 'r', "R", "1", "Independent starts; the smallest objective wins."},
    {"threads", 't', "T", "0 (all cores)", "OpenMP threads; the result does not depend on it."},
    {"seed", 's', "S", "0", "Seed: restart r draws from the random stream (S, r)."},
    {"max-iter", 0, "M", "1000", "Iterations per restart."},
    {"gtol", 0, "TOL", "1e-8",
     "Converged (stationary) when the projected gradient of SSE/(2 W s) is below TOL (s: the variance of y) "
     "and the Gauss-Newton decrement is below --dtol."},
    {"dtol", 0, "TOL", "1e-12",
     "Converged only when a full Gauss-Newton step would decrease SSE by less than TOL relative."},
    {"ftol", 0, "TOL", "1e-15", "Stop after 3 steps that each decrease SSE by less than TOL relative."},
    {"xtol", 0, "TOL", "1e-15", "Stop when a step is below TOL relative to the parameters."},
    {"stat-tol", 0, "TOL", "0 (off)",
     "Also converged (stop 'noise-level') when the last 10 lightly damped steps decreased SSE by at most TOL times "
     "the noise variance estimate together: stationary up to a negligible fraction of one observation's noise "
     "(useful for over-specified fits with flat valleys)."},
    {"kink-tol", 0, "TOL", "1e-10",
     "ReLU experts, whose SSE has kinks where a sample's expert switches on: converged (stop 'kink') when the "
     "last 10 steps decreased SSE by at most TOL relative together and the gradient is no larger than one row's "
     "gradient term (stationary up to one kink crossing). Before such a fit ends (or ends on --xtol or --ftol), "
     "the steps a fresh start would take from the point are tried, and the fit goes on from the first that "
     "decreases SSE; one that decreases it by at most TOL relative is taken only while each run from such a step "
     "gains more than TOL relative before the fit next ends. 0: off (the fit then crawls along the kinks until "
     "--xtol or --ftol)."},
    {"box-beta0", 0, "LO,HI", "-10,10", "Bounds of the gate intercepts beta0."},
    {"box-beta1", 0, "LO,HI", "-10,10", "Bounds of the gate slopes beta1."},
    {"box-eta", 0, "LO,HI", "-10,10", "Bounds of the expert parameters eta."},
    {"no-accel", 0, NULL, NULL, "Plain Levenberg-Marquardt steps, without geodesic acceleration."},
    {"newton", 0, NULL, NULL,
     "Damped Newton steps on the full second-order model (J'J plus the residual curvature from the analytic "
     "second derivatives), without acceleration: it sees negative curvature, so it can leave the saddle points "
     "of over-specified fits where Gauss-Newton stops."},
    {"no-se", 0, NULL, NULL, "Skip the standard errors."},
    {"x", 0, "COLS", "x1..xd", "Comma-separated names of the input columns."},
    {"y", 0, "COL", "y", "Name of the output column."},
    {"output", 'o', "FILE", "-",
     "The fitted model (JSON, with the report and options in its \"fit\" member); '-' is stdout. Written "
     "atomically."},
    {"quiet", 'q', NULL, NULL, "Do not print the report."},
    {NULL, 0, NULL, NULL, NULL}};

static int parse_k(const char *C, const char *v, size_t *k1, size_t *k2) {
  char *end;
  unsigned long a = strtoul(v, &end, 10), b = a;
  if (end == v) goto bad;
  if (end[0] == '.' && end[1] == '.') {
    const char *s = end + 2;
    b = strtoul(s, &end, 10);
    if (end == s) goto bad;
  }
  if (*end || a < 1 || b < a || b > MOELAB_MAX_K) goto bad;
  *k1 = a;
  *k2 = b;
  return 0;
bad:
  cli_msg(C, "option '--k': expected K or K1..K2 with 1 <= K1 <= K2 <= %d, got '%s'", MOELAB_MAX_K, v);
  return EXIT_USAGE;
}

static void print_report(FILE *fp, const moelab_model *m, const moelab_fit_report *r, const char *const *names) {
  fprintf(fp, "fit: %s gate, %s experts, k = %zu, d = %zu, n = %zu\n", moelab_gate_name(m->gate),
          moelab_expert_name(m->expert), m->k, m->d, r->n);
  fprintf(fp, "objective: SSE %.10g, mean squared residual %.10g\n", r->sse, r->mse);
  fprintf(fp, "converged: %s (stop: %s, gradient %.3g, decrement %.3g, %zu iterations)\n",
          r->converged ? "yes" : "NO", moelab_stop_name(r->stop), r->grad_norm, r->decrement, r->iterations);
  fprintf(fp, "restarts: %zu, converged %zu, failed %zu, best #%zu; %.3f s\n", r->restarts, r->restarts_converged,
          r->restarts_failed, r->best_restart, r->seconds);
  if (r->se_available)
    fprintf(fp, "standard errors: from sigma^2 (J'J)^-1, sigma^2 = %.6g, rcond %.3g\n", r->sigma2, r->rcond);
  else
    fprintf(fp,
            "standard errors: not available: J'J is singular or ill-conditioned (rcond %.3g)%s\n", r->rcond,
            m->k > 1 ? "; over-specified fits are singular by nature" : "");
  fprintf(fp, "%-6s %-10s %16s %12s\n", "atom", "parameter", "estimate", "std.error");
  for (size_t i = 0; i < m->k; i++)
    for (size_t j = 0; j < m->stride; j++) {
      size_t idx = i * m->stride + j;
      char pname[64];
      if (j == 0)
        snprintf(pname, sizeof pname, "beta0");
      else if (j <= m->d)
        snprintf(pname, sizeof pname, "beta1.%s", names ? names[j - 1] : "x");
      else if (m->expert == MOELAB_EXPERT_CONSTANT)
        snprintf(pname, sizeof pname, "c");
      else if (j - 1 - m->d < m->d)
        snprintf(pname, sizeof pname, "a.%s", names ? names[j - 1 - m->d] : "x");
      else
        snprintf(pname, sizeof pname, "b");
      char se[32] = "-";
      if (isfinite(r->se[idx])) snprintf(se, sizeof se, "%.4g", r->se[idx]);
      fprintf(fp, "%-6zu %-10s %16.8g %12s%s\n", i, pname, m->theta[idx], se,
              r->at_bound[idx] ? (r->at_bound[idx] < 0 ? "  at lower bound" : "  at upper bound") : "");
    }
}

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  if (a.npos > 1) {
    cli_msg(C, "expected one data file, got %zu", a.npos);
    return EXIT_USAGE;
  }
  const char *dpath = a.npos ? a.pos[0] : "-";
  moelab_fit_options o;
  moelab_fit_options_init(&o);
  o.degree = 2;
  const char *v;
  if ((v = cli_get(&a, "gate")) && moelab_gate_parse(v, &o.gate)) {
    cli_msg(C, "option '--gate': unknown gate '%s' (expected sigmoid or softmax)", v);
    return EXIT_USAGE;
  }
  if ((v = cli_get(&a, "expert")) && moelab_expert_parse(v, &o.expert)) {
    cli_msg(C, "option '--expert': unknown family '%s' (expected relu, gelu, linear, poly, constant, sigmoid, tanh)",
            v);
    return EXIT_USAGE;
  }
  long degree = 2, threads = 0;
  size_t k1 = 2, k2 = 2, restarts = 1, max_iter = 1000, folds = 5;
  uint64_t seed = 0;
  if ((rc = cli_get_int(C, &a, "degree", 1, MOELAB_MAX_DEGREE, &degree)) ||
      (rc = cli_get_int(C, &a, "threads", 0, 4096, &threads)) ||
      (rc = cli_get_size(C, &a, "restarts", 1, 100000, &restarts)) ||
      (rc = cli_get_size(C, &a, "max-iter", 0, 100000000, &max_iter)) ||
      (rc = cli_get_size(C, &a, "folds", 2, 1000, &folds)) || (rc = cli_get_u64(C, &a, "seed", &seed)) ||
      (rc = cli_get_double(C, &a, "perturb", 0, 1e6, &o.perturb)) ||
      (rc = cli_get_double(C, &a, "split-fraction", 1e-9, 1 - 1e-9, &o.split_fraction)) ||
      (rc = cli_get_double(C, &a, "gtol", 0, 1, &o.gtol)) || (rc = cli_get_double(C, &a, "dtol", 0, 1, &o.dtol)) || (rc = cli_get_double(C, &a, "ftol", 0, 1, &o.ftol)) ||
      (rc = cli_get_double(C, &a, "xtol", 0, 1, &o.xtol)) || (rc = cli_get_double(C, &a, "stat-tol", 0, 1e6, &o.stat_tol)) ||
      (rc = cli_get_double(C, &a, "kink-tol", 0, 1, &o.kink_tol)) ||
      (rc = cli_get_range(C, &a, "box-beta0", &o.box.beta0_lo, &o.box.beta0_hi)) ||
      (rc = cli_get_range(C, &a, "box-beta1", &o.box.beta1_lo, &o.box.beta1_hi)) ||
      (rc = cli_get_range(C, &a, "box-eta", &o.box.eta_lo, &o.box.eta_hi)))
    return rc;
  if ((v = cli_get(&a, "k")) && (rc = parse_k(C, v, &k1, &k2))) return rc;
  o.degree = o.expert == MOELAB_EXPERT_POLY ? (int)degree : 1;
  o.k = k1;
  o.restarts = restarts;
  o.threads = (int)threads;
  o.seed = seed;
  o.max_iter = max_iter;
  o.accel = !cli_flag(&a, "no-accel");
  o.newton = cli_flag(&a, "newton");
  o.compute_se = !cli_flag(&a, "no-se");
  moelab_select rule = MOELAB_SELECT_BIC;
  if ((v = cli_get(&a, "select"))) {
    if (strcmp(v, "bic") == 0)
      rule = MOELAB_SELECT_BIC;
    else if (strcmp(v, "cv") == 0)
      rule = MOELAB_SELECT_CV;
    else {
      cli_msg(C, "option '--select': expected bic or cv, got '%s'", v);
      return EXIT_USAGE;
    }
  }
  size_t split[MOELAB_MAX_K];
  const char *init = cli_get(&a, "init");
  const char *init_file = NULL;
  if (init) {
    if (strcmp(init, "random") == 0)
      o.init = MOELAB_INIT_RANDOM;
    else if (strcmp(init, "kmeans") == 0)
      o.init = MOELAB_INIT_KMEANS;
    else if (strncmp(init, "model:", 6) == 0 && init[6]) {
      o.init = MOELAB_INIT_MODEL;
      init_file = init + 6;
    } else {
      cli_msg(C, "option '--init': expected random, kmeans or model:FILE, got '%s'", init);
      return EXIT_USAGE;
    }
  }
  if ((rc = cli_get_indices(C, &a, "split", split, MOELAB_MAX_K, &o.nsplit))) return rc;
  if (o.nsplit) o.split = split;
  if (init_file && strcmp(init_file, "-") == 0 && strcmp(dpath, "-") == 0) {
    cli_msg(C, "the start model and the data cannot both come from stdin");
    return EXIT_USAGE;
  }
  cli_colspec cs;
  if ((rc = cli_colspec_init(C, &a, &cs))) {
    cli_colspec_free(&cs);
    return rc;
  }
  moelab_model *start = NULL, *m = NULL;
  moelab_data *D = NULL;
  moelab_fit_report *rep = NULL;
  moelab_select_row *rows = NULL;
  moelab_error err;
  moelab_error_clear(&err);
  if (init_file) {
    if ((rc = cli_read_model(C, init_file, &start))) goto done;
    o.init_model = start;
    if (start->expert != o.expert && !cli_get(&a, "expert")) o.expert = start->expert;
    if (!cli_get(&a, "gate")) o.gate = start->gate;
    if (!cli_get(&a, "degree") && start->expert == MOELAB_EXPERT_POLY) o.degree = start->degree;
    if (!cli_get(&a, "k")) k1 = k2 = o.k = start->k;
  }
  cs.spec.require_y = 1;
  if (start) cs.spec.expect_d = start->d;
  if ((rc = cli_read_data(C, dpath, &cs.spec, &D))) goto done;
  cli_catch_signals();
  o.stop_flag = &cli_interrupted;
  moelab_data_view view = moelab_data_as_view(D);
  const char *opath = cli_get(&a, "output");
  if (!opath) opath = "-";
  FILE *rf = strcmp(opath, "-") == 0 ? stderr : stdout;
  int quiet = cli_flag(&a, "quiet");
  if (k2 > k1) {
    rows = calloc(k2 - k1 + 1, sizeof *rows);
    if (!rows) {
      rc = EXIT_RUNTIME;
      goto done;
    }
    size_t best = 0;
    if (moelab_select_k(&view, &o, k1, k2, rule, folds, rows, &best, NULL, &err)) {
      rc = cli_interrupted ? EXIT_SIGINT : cli_fail(C, &err, 0);
      goto done;
    }
    if (!quiet) {
      fprintf(rf, "choosing k by %s:\n%4s %8s %16s %16s %16s %10s\n", rule == MOELAB_SELECT_BIC ? "BIC" : "CV",
              "k", "p_free", "SSE", "BIC", "CV MSE", "converged");
      for (size_t k = k1; k <= k2; k++) {
        moelab_select_row *r = &rows[k - k1];
        fprintf(rf, "%4zu %8zu %16.8g %16.8g %16.8g %10s%s\n", k, r->p_free, r->sse, r->bic, r->cv_mse,
                isfinite(r->sse) ? (r->converged ? "yes" : "NO") : "-", k == best ? "  <- chosen" : "");
      }
    }
    o.k = best;
  }
  if (moelab_fit(&view, &o, &m, &rep, &err)) {
    rc = cli_interrupted ? EXIT_SIGINT : cli_fail(C, &err, 0);
    if (rc == EXIT_SIGINT) cli_msg(C, "interrupted: nothing written");
    goto done;
  }
  if (cli_interrupted) {
    cli_msg(C, "interrupted: nothing written");
    rc = EXIT_SIGINT;
    goto done;
  }
  if (!quiet) print_report(rf, m, rep, (const char *const *)D->names);
  if ((rc = cli_write_model(C, opath, m))) goto done;
  rc = EXIT_OK;
done:
  moelab_fit_report_free(rep);
  moelab_model_free(m);
  moelab_model_free(start);
  moelab_data_free(D);
  free(rows);
  cli_colspec_free(&cs);
  return rc;
}

const cli_command cmd_fit = {
    "fit",
    "moelab fit DATA.csv --gate sigmoid|softmax --expert FAMILY --k K [--init ...] [--restarts R] [--threads T] "
    "[--seed S] [-o FIT.json]",
    "Fit a mixture of experts by least squares: argmin sum_i (y_i - f(x_i))^2 over k-atom models in the box "
    "Theta.",
    "Projected Levenberg-Marquardt with geodesic acceleration on the normal equations, analytic Jacobians, "
    "bounds by projection, and (softmax) the sum-to-zero gauge of the gate parameters. The report gives the "
    "objective, the stop reason and gradient, whether the fit converged, the restarts, parameters on a bound "
    "and standard errors when J'J is well conditioned. A fit that ends unconverged is still written, flagged "
    "\"converged\": false. The report goes to stdout when -o names a file, to stderr otherwise.",
    opts, run};
