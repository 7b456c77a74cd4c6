/*
 * predict.c — `moelab predict`: evaluate a model on a data file.
 */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"model", 'm', "FILE", NULL, "The model (JSON; '-' reads stdin). Required."},
    {"output", 'o', "FILE", "-", "Output CSV: the input columns, y when present, and yhat. Written atomically."},
    {"x", 0, "COLS", "x1..xd", "Comma-separated names of the input columns."},
    {"y", 0, "COL", "y", "Name of the output column (optional in the data)."},
    {"threads", 't', "T", "0 (all cores)", "OpenMP threads; the output does not depend on it."},
    {NULL, 0, NULL, NULL, NULL}};

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
    cli_msg(C, "expected one data file, got %zu", a.npos);
    return EXIT_USAGE;
  }
  const char *dpath = a.npos ? a.pos[0] : "-";
  long threads = 0;
  if ((rc = cli_get_int(C, &a, "threads", 0, 4096, &threads))) return rc;
  cli_colspec cs;
  if ((rc = cli_colspec_init(C, &a, &cs))) {
    cli_colspec_free(&cs);
    return rc;
  }
  moelab_model *m = NULL;
  moelab_data *D = NULL;
  moelab_outfile *out = NULL;
  double *yhat = NULL;
  moelab_error err;
  moelab_error_clear(&err);
  if (strcmp(mpath, "-") == 0 && strcmp(dpath, "-") == 0) {
    cli_msg(C, "the model and the data cannot both come from stdin");
    rc = EXIT_USAGE;
    goto done;
  }
  if ((rc = cli_read_model(C, mpath, &m))) goto done;
  cs.spec.expect_d = m->d;
  if ((rc = cli_read_data(C, dpath, &cs.spec, &D))) goto done;
  yhat = malloc(D->n * sizeof(double));
  if (!yhat) {
    cli_msg(C, "out of memory");
    rc = EXIT_RUNTIME;
    goto done;
  }
  if (moelab_model_predict(m, D->X, D->n, yhat, (int)threads, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  const char *opath = cli_get(&a, "output");
  if (!opath) opath = "-";
  if (moelab_outfile_new(opath, &out, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  moelab_data_view v = moelab_data_as_view(D);
  const char *en[1] = {"yhat"};
  const double *ev[1] = {yhat};
  if (moelab_csv_write(moelab_outfile_stream(out), &v, (const char *const *)D->names, 1, en, ev, &err) ||
      moelab_outfile_commit(out, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  rc = EXIT_OK;
done:
  moelab_outfile_free(out);
  free(yhat);
  moelab_data_free(D);
  moelab_model_free(m);
  cli_colspec_free(&cs);
  return rc;
}

const cli_command cmd_predict = {"predict", "moelab predict --model FILE [DATA.csv|-] [-o OUT.csv]",
                                 "Evaluate a model's regression function f(x) on a data file.",
                                 "Writes the data's columns with an added column yhat = f(x).", opts, run};
