/*
 * eval.c — `moelab eval`: a model against data (MSE), or two models against
 * each other (L²(μ) distance of their regression functions).
 */
#include "commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"model", 'm', "FILE", NULL, "The model (JSON; '-' reads stdin). Required."},
    {"against", 'a', "FILE", NULL,
     "A second model: print the L2(mu) distance between the two regression functions under the input law of "
     "--model (or of the second model when the first has none). A positional argument ending in .json does the "
     "same."},
    {"x", 0, "COLS", "x1..xd", "Comma-separated names of the input columns."},
    {"y", 0, "COL", "y", "Name of the output column."},
    {"nodes", 0, "N", "64", "L2 distance, d = 1: Gauss nodes per piece."},
    {"qmc-points", 0, "N", "65536", "L2 distance, d > 1: quasi-Monte Carlo (Sobol) points."},
    {"threads", 't', "T", "0 (all cores)", "OpenMP threads for the predictions."},
    {"json", 0, NULL, NULL, "Print one JSON object instead of text."},
    {NULL, 0, NULL, NULL, NULL}};

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int eval_models(const char *C, const cli_args *a, const moelab_model *m, const char *bpath, int json) {
  moelab_model *b = NULL;
  int rc = cli_read_model(C, bpath, &b);
  if (rc) return rc;
  moelab_l2_options o = {0, 0};
  if ((rc = cli_get_size(C, a, "nodes", 2, 100000, &o.nodes)) ||
      (rc = cli_get_size(C, a, "qmc-points", 2, 1000000000, &o.qmc_points))) {
    moelab_model_free(b);
    return rc;
  }
  if (b->d != m->d) {
    cli_msg(C, "%s: d = %zu but the first model has d = %zu", bpath, b->d, m->d);
    moelab_model_free(b);
    return EXIT_USAGE;
  }
  const moelab_input *mu = m->has_input ? &m->input : b->has_input ? &b->input : NULL;
  if (!mu) {
    cli_msg(C, "neither model has an \"input\" law: the L2(mu) distance needs one");
    moelab_model_free(b);
    return EXIT_USAGE;
  }
  moelab_error err;
  moelab_error_clear(&err);
  double dist = 0, aerr = 0;
  if (moelab_l2_distance(m, b, mu, &o, &dist, &aerr, &err)) {
    rc = cli_fail(C, &err, 0);
    moelab_model_free(b);
    return rc;
  }
  const char *method = m->d > 1 ? "sobol" : mu->law == MOELAB_LAW_NORMAL ? "gauss" : "gauss-legendre";
  char b1[40], b2[40];
  if (json)
    printf("{\"l2\": %s, \"abs_err\": %s, \"law\": \"%s\", \"method\": \"%s\"}\n", moelab_format_double(dist, b1),
           moelab_format_double(aerr, b2), moelab_law_name(mu->law), method);
  else
    printf("l2_distance %s\nabs_err_estimate %s\nlaw %s\nmethod %s\n", moelab_format_double(dist, b1),
           moelab_format_double(aerr, b2), moelab_law_name(mu->law), method);
  moelab_model_free(b);
  return EXIT_OK;
}

static int eval_data(const char *C, const cli_args *a, const moelab_model *m, const char *dpath, int json) {
  long threads = 0;
  int rc;
  if ((rc = cli_get_int(C, a, "threads", 0, 4096, &threads))) return rc;
  cli_colspec cs;
  if ((rc = cli_colspec_init(C, a, &cs))) {
    cli_colspec_free(&cs);
    return rc;
  }
  cs.spec.expect_d = m->d;
  cs.spec.require_y = 1;
  moelab_data *D = NULL;
  double *yhat = NULL;
  if ((rc = cli_read_data(C, dpath, &cs.spec, &D))) goto done;
  yhat = malloc(D->n * sizeof(double));
  if (!yhat) {
    rc = EXIT_RUNTIME;
    goto done;
  }
  moelab_error err;
  moelab_error_clear(&err);
  if (moelab_model_predict(m, D->X, D->n, yhat, (int)threads, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  /* two passes: mean of y, then the sums of squares */
  double mean = 0;
  for (size_t r = 0; r < D->n; r++) mean += (D->y[r] - mean) / (double)(r + 1);
  double sse = 0, sst = 0;
  for (size_t r = 0; r < D->n; r++) {
    double e = D->y[r] - yhat[r], c = D->y[r] - mean;
    sse += e * e;
    sst += c * c;
  }
  double mse = sse / (double)D->n;
  double r2 = sst > 0 ? 1.0 - sse / sst : NAN;
  char b1[40], b2[40], b3[40];
  if (json) {
    printf("{\"n\": %zu, \"mse\": %s, \"rmse\": %s, \"r2\": %s", D->n, moelab_format_double(mse, b1),
           moelab_format_double(sqrt(mse), b2), isfinite(r2) ? moelab_format_double(r2, b3) : "null");
    if (m->has_noise) printf(", \"noise\": %s", moelab_format_double(m->noise, b1));
    printf("}\n");
  } else {
    printf("n %zu\nmse %s\nrmse %s\nr2 %s\n", D->n, moelab_format_double(mse, b1),
           moelab_format_double(sqrt(mse), b2), isfinite(r2) ? moelab_format_double(r2, b3) : "nan");
    if (m->has_noise) {
      printf("noise %s\n", moelab_format_double(m->noise, b1));
      if (m->noise > 0) printf("mse_over_noise %s\n", moelab_format_double(mse / m->noise, b2));
    }
  }
  rc = EXIT_OK;
done:
  free(yhat);
  moelab_data_free(D);
  cli_colspec_free(&cs);
  return rc;
}

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  const char *mpath = cli_get(&a, "model");
  if (!mpath) {
    cli_msg(C, "missing --model FILE");
    return EXIT_USAGE;
  }
  if (a.npos > 1) {
    cli_msg(C, "expected one data file or model, got %zu arguments", a.npos);
    return EXIT_USAGE;
  }
  const char *against = cli_get(&a, "against");
  const char *target = a.npos ? a.pos[0] : NULL;
  if (against && target) {
    cli_msg(C, "give either a data file or --against, not both");
    return EXIT_USAGE;
  }
  if (!against && target && ends_with(target, ".json")) {
    against = target;
    target = NULL;
  }
  if (!against && !target) target = "-";
  if (strcmp(mpath, "-") == 0 && ((target && strcmp(target, "-") == 0) || (against && strcmp(against, "-") == 0))) {
    cli_msg(C, "only one input can come from stdin");
    return EXIT_USAGE;
  }
  moelab_model *m = NULL;
  if ((rc = cli_read_model(C, mpath, &m))) return rc;
  int json = cli_flag(&a, "json");
  rc = against ? eval_models(C, &a, m, against, json) : eval_data(C, &a, m, target, json);
  moelab_model_free(m);
  if (rc == EXIT_OK && fflush(stdout) != 0) {
    cli_msg(C, "cannot write to stdout");
    rc = EXIT_RUNTIME;
  }
  return rc;
}

const cli_command cmd_eval = {
    "eval", "moelab eval --model FILE [DATA.csv|-]   |   moelab eval --model A.json --against B.json",
    "Score a model on data (MSE, RMSE, R^2) or measure the L2(mu) distance between two models.",
    "With data: the mean squared error of the model's predictions, its root and R^2; when the model records its "
    "noise variance, also MSE / noise. With two models: sqrt(E_mu (f_A(X) - f_B(X))^2) by quadrature (d = 1) or a "
    "Sobol sample (d > 1), with an error estimate.",
    opts, run};
