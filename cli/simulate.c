/*
 * simulate.c — `moelab simulate`: draw a data set from a model.
 */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"model", 'm', "FILE", NULL, "The model to simulate from (JSON; '-' reads stdin). Required."},
    {"n", 'n', "N", NULL, "Number of samples (>= 1). Required."},
    {"seed", 's', "S", "0", "Seed of the random streams."},
    {"stream", 0, "T", "0",
     "Simulation stream id: inputs use the random stream (seed, 2T), noise (seed, 2T+1)."},
    {"noise", 0, "V", "the model's \"noise\", else 0", "Noise variance ν of the Gaussian noise."},
    {"law", 0, "LAW", "the model's \"input\"", "Input law: uniform, normal or grid (grid: d = 1)."},
    {"low", 0, "A[,A...]", NULL, "Lower corner of the box (uniform, grid); one value or d values."},
    {"high", 0, "B[,B...]", NULL, "Upper corner of the box (uniform, grid)."},
    {"mean", 0, "M[,M...]", NULL, "Means (normal law)."},
    {"sd", 0, "S[,S...]", NULL, "Standard deviations (normal law)."},
    {"output", 'o', "FILE", "-", "Output CSV (x1..xd,y); '-' is stdout. Written atomically."},
    {NULL, 0, NULL, NULL, NULL}};

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  if (a.npos) {
    cli_msg(C, "unexpected argument '%s' (see 'moelab simulate --help')", a.pos[0]);
    return EXIT_USAGE;
  }
  const char *mpath = cli_get(&a, "model");
  if (!mpath) {
    cli_msg(C, "missing --model FILE");
    return EXIT_USAGE;
  }
  if (!cli_get(&a, "n")) {
    cli_msg(C, "missing --n N (the number of samples)");
    return EXIT_USAGE;
  }
  size_t n = 0;
  uint64_t seed = 0, stream = 0;
  if ((rc = cli_get_size(C, &a, "n", 1, MOELAB_MAX_ROWS, &n))) return rc;
  if ((rc = cli_get_u64(C, &a, "seed", &seed))) return rc;
  if ((rc = cli_get_u64(C, &a, "stream", &stream))) return rc;
  moelab_model *m = NULL;
  if ((rc = cli_read_model(C, mpath, &m))) return rc;
  moelab_error err;
  moelab_error_clear(&err);
  moelab_data *D = NULL;
  moelab_outfile *out = NULL;
  double *la = calloc(m->d, sizeof(double)), *lb = calloc(m->d, sizeof(double));
  if (!la || !lb) {
    rc = EXIT_RUNTIME;
    goto done;
  }
  double noise = m->has_noise ? m->noise : 0.0;
  if ((rc = cli_get_double(C, &a, "noise", 0.0, 1e300, &noise))) goto done;
  if (moelab_model_set_noise(m, noise, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  /* input law: the model's, overridden by the options */
  const char *lawname = cli_get(&a, "law");
  int any = lawname || cli_get(&a, "low") || cli_get(&a, "high") || cli_get(&a, "mean") || cli_get(&a, "sd");
  if (any) {
    moelab_law law = m->has_input ? m->input.law : MOELAB_LAW_UNIFORM;
    if (lawname && moelab_law_parse(lawname, &law)) {
      cli_msg(C, "option '--law': unknown law '%s' (expected uniform, normal or grid)", lawname);
      rc = EXIT_USAGE;
      goto done;
    }
    int normal = law == MOELAB_LAW_NORMAL;
    const char *ka = normal ? "mean" : "low", *kb = normal ? "sd" : "high";
    if (m->has_input && m->input.law == law) {
      memcpy(la, m->input.a, m->d * sizeof(double));
      memcpy(lb, m->input.b, m->d * sizeof(double));
    } else if (!cli_get(&a, ka) || !cli_get(&a, kb)) {
      cli_msg(C, "the %s law needs --%s and --%s", moelab_law_name(law), ka, kb);
      rc = EXIT_USAGE;
      goto done;
    }
    if ((rc = cli_get_doubles(C, &a, ka, m->d, la)) || (rc = cli_get_doubles(C, &a, kb, m->d, lb))) goto done;
    if (cli_get(&a, normal ? "low" : "mean") || cli_get(&a, normal ? "high" : "sd")) {
      cli_msg(C, "options --%s/--%s do not apply to the %s law", normal ? "low" : "mean", normal ? "high" : "sd",
              moelab_law_name(law));
      rc = EXIT_USAGE;
      goto done;
    }
    if (moelab_model_set_input(m, law, la, lb, &err)) {
      rc = cli_fail(C, &err, 0);
      goto done;
    }
  }
  if (!m->has_input) {
    cli_msg(C, "%s: the model has no \"input\" law; give one with --law and --low/--high or --mean/--sd", mpath);
    rc = EXIT_USAGE;
    goto done;
  }
  if (moelab_simulate(m, NULL, n, seed, stream, &D, &err)) {
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
  if (moelab_csv_write(moelab_outfile_stream(out), &v, NULL, 0, NULL, NULL, &err) ||
      moelab_outfile_commit(out, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  rc = EXIT_OK;
done:
  moelab_outfile_free(out);
  moelab_data_free(D);
  moelab_model_free(m);
  free(la);
  free(lb);
  return rc;
}

const cli_command cmd_simulate = {
    "simulate", "moelab simulate --model FILE --n N [--seed S] [options] [-o OUT.csv]",
    "Draw n samples (x, y) with y = f(x) + noise from a model.",
    "Inputs follow the model's \"input\" law (or --law ...); the noise is Gaussian with variance --noise (or the "
    "model's \"noise\"). The same seed and stream give the same data on every machine and thread count.",
    opts, run};
