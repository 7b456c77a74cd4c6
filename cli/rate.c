/*
 * rate.c — `moelab rate`: empirical rates from a results table.
 */
#include "commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"x", 0, "COL", "n", "The sample-size column."},
    {"y", 0, "COL", "value", "The column whose rate is estimated (values >= 0; the mean at each n must be > 0)."},
    {"by", 0, "COLS", "none", "Comma-separated columns whose distinct values define separate curves."},
    {"bootstrap", 'b', "B", "2000", "Bootstrap resamples for the interval of the slope."},
    {"seed", 's', "S", "0", "Seed of the bootstrap."},
    {"target", 0, "EPS", NULL,
     "Also print the n each curve needs to reach EPS (from its preferred fit) and the ratio to the first curve."},
    {"json", 0, NULL, NULL, "Print one JSON object per line, one per curve."},
    {NULL, 0, NULL, NULL, NULL}};

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  if (a.npos != 1) {
    cli_msg(C, "expected one results file (CSV), got %zu", a.npos);
    return EXIT_USAGE;
  }
  moelab_rate_options ro;
  moelab_rate_options_init(&ro);
  double target = NAN;
  if ((rc = cli_get_size(C, &a, "bootstrap", 0, 10000000, &ro.bootstrap)) ||
      (rc = cli_get_u64(C, &a, "seed", &ro.seed)) || (rc = cli_get_double(C, &a, "target", 1e-300, 1e300, &target)))
    return rc;
  const char *xc = cli_get(&a, "x") ? cli_get(&a, "x") : "n";
  const char *yc = cli_get(&a, "y") ? cli_get(&a, "y") : "value";
  moelab_table *t = NULL;
  moelab_error err;
  moelab_error_clear(&err);
  const char *path = a.pos[0];
  int st = strcmp(path, "-") == 0 ? moelab_table_read(stdin, "<stdin>", &t, &err) : moelab_table_read_file(path, &t, &err);
  if (st) return cli_fail(C, &err, 1);
  long xi = moelab_table_column(t, xc), yi = moelab_table_column(t, yc);
  long by[16];
  size_t nby = 0;
  char *bycopy = NULL;
  double *xs = NULL, *ys = NULL;
  size_t *gid = NULL;
  if (xi < 0 || yi < 0) {
    cli_msg(C, "%s: no column '%s' in the header", path, xi < 0 ? xc : yc);
    rc = EXIT_USAGE;
    goto done;
  }
  if (cli_get(&a, "by")) {
    bycopy = strdup(cli_get(&a, "by"));
    char *save = NULL;
    for (char *tok = strtok_r(bycopy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      long c = moelab_table_column(t, tok);
      if (c < 0 || nby >= 16) {
        cli_msg(C, "%s: no column '%s' in the header", path, tok);
        rc = EXIT_USAGE;
        goto done;
      }
      by[nby++] = c;
    }
  }
  xs = malloc((t->nrow + 1) * sizeof(double));
  ys = malloc((t->nrow + 1) * sizeof(double));
  gid = malloc((t->nrow + 1) * sizeof(size_t));
  if (!xs || !ys || !gid) {
    rc = EXIT_RUNTIME;
    goto done;
  }
  /* group ids in order of first appearance */
  size_t ngroups = 0;
  for (size_t r = 0; r < t->nrow; r++) {
    size_t g = ngroups;
    for (size_t q = 0; q < r && g == ngroups; q++) {
      int same = 1;
      for (size_t b = 0; b < nby && same; b++)
        same = strcmp(t->cells[q * t->ncol + (size_t)by[b]], t->cells[r * t->ncol + (size_t)by[b]]) == 0;
      if (same) g = gid[q];
    }
    gid[r] = g;
    if (g == ngroups) ngroups++;
  }
  double first_n = NAN;
  int json = cli_flag(&a, "json");
  if (!json)
    printf("%-32s %6s %10s %22s %8s %20s %10s%s\n", "curve", "rows", "slope", "95% interval", "lambda",
           "lambda interval", "prefers", isfinite(target) ? "      n for target   ratio" : "");
  for (size_t g = 0; g < ngroups; g++) {
    size_t m = 0;
    char label[256] = "";
    size_t ll = 0;
    for (size_t r = 0; r < t->nrow; r++) {
      if (gid[r] != g) continue;
      if (m == 0)
        for (size_t b = 0; b < nby; b++)
          ll += (size_t)snprintf(label + ll, ll < sizeof label ? sizeof label - ll : 0, "%s%s=%s", b ? "," : "",
                                 t->names[by[b]], t->cells[r * t->ncol + (size_t)by[b]]);
      const char *sx = t->cells[r * t->ncol + (size_t)xi], *sy = t->cells[r * t->ncol + (size_t)yi];
      char *e1, *e2;
      double x = strtod(sx, &e1), y = strtod(sy, &e2);
      if (*sx == '\0' || *e1 || *sy == '\0' || *e2) {
        cli_msg(C, "%s:%ld: field '%s': not a number", path, t->lines[r], *e1 || *sx == '\0' ? xc : yc);
        rc = EXIT_USAGE;
        goto done;
      }
      if (!isfinite(y)) continue; /* failed fits carry NaN: skipped, and counted by the study's summary */
      xs[m] = x;
      ys[m] = y;
      m++;
    }
    if (nby == 0) snprintf(label, sizeof label, "all");
    moelab_rate_result res;
    if (moelab_rate_fit(xs, ys, m, &ro, &res, &err)) {
      cli_msg(C, "curve %s: %s", label, err.message);
      rc = EXIT_USAGE;
      goto done;
    }
    double nt = NAN;
    if (isfinite(target)) {
      nt = moelab_rate_n_for(&res, target, res.prefer_log);
      if (g == 0) first_n = nt;
    }
    if (json) {
      printf("{\"curve\": \"%s\", \"rows\": %zu, \"slope\": %.10g, \"ci_low\": %.10g, \"ci_high\": %.10g, "
             "\"intercept\": %.10g, \"lambda\": %.10g, \"lambda_ci_low\": %.10g, \"lambda_ci_high\": %.10g, "
             "\"rss_power\": %.10g, \"rss_log\": %.10g, \"prefers\": \"%s\"",
             label, m, res.slope, res.ci_low, res.ci_high, res.intercept, res.lambda, res.lambda_ci_low,
             res.lambda_ci_high, res.rss_power, res.rss_log, res.prefer_log ? "log" : "power");
      if (isfinite(target)) printf(", \"n_for_target\": %.10g", nt);
      printf("}\n");
    } else {
      char ci[64], li[64];
      snprintf(ci, sizeof ci, "[%.3f, %.3f]", res.ci_low, res.ci_high);
      snprintf(li, sizeof li, "[%.3f, %.3f]", res.lambda_ci_low, res.lambda_ci_high);
      printf("%-32s %6zu %10.4f %22s %8.3f %20s %10s", label, m, res.slope, ci, res.lambda, li,
             res.prefer_log ? "C/log^l n" : "n^slope");
      if (isfinite(target)) printf(" %18.6g %7.3g", nt, nt / first_n);
      printf("\n");
    }
    moelab_rate_result_clear(&res);
  }
  rc = EXIT_OK;
done:
  free(bycopy);
  free(xs);
  free(ys);
  free(gid);
  moelab_table_free(t);
  return rc;
}

const cli_command cmd_rate = {
    "rate", "moelab rate RESULTS.csv [--x n] [--y COLUMN] [--by COLS] [--target EPS]",
    "Empirical convergence rates: the slope of log(mean) on log n with a bootstrap interval, and the fit "
    "C (log n)^(-lambda).",
    "Rows sharing an n are replicates. Rows whose value is not a number (NaN: failed fits) are skipped. The "
    "preferred description is the fit with the smaller residual sum of squares.",
    opts, run};
