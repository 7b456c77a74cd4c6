/*
 * study.c — `moelab study`: run a study file or preset.
 */
#include "commands.h"
#include "study_util.h"

#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"out", 'o', "DIR", "results/NAME", "Output directory: results.csv, summary.csv, summary.md, figures/."},
    {"threads", 't', "T", "0 (all cores)",
     "Fits run in parallel; the results do not depend on it. Under mpirun: fits each worker rank runs at once "
     "(default 1)."},
    {"quick", 0, NULL, NULL, "Apply the study's \"quick\" overrides (a smaller grid)."},
    {"resume", 0, NULL, NULL, "Keep the results already in DIR and run only the missing fits."},
    {"shard", 0, "I/N|auto", NULL,
     "Run only part I of N (0-based) of the fits, balanced by cost; auto reads SLURM_ARRAY_TASK_ID and "
     "SLURM_ARRAY_TASK_COUNT. Merge the parts with moelab merge."},
    {"no-figures", 0, NULL, NULL, "Do not run gnuplot (the scripts are still written)."},
    {"list", 0, NULL, NULL, "List the presets and exit."},
    {NULL, 0, NULL, NULL, NULL}};

int cli_parse_shard(const char *C, const char *v, size_t *index, size_t *count);
int cli_parse_shard(const char *C, const char *v, size_t *index, size_t *count) {
  if (strcmp(v, "auto") == 0) {
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *cnt = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *mn = getenv("SLURM_ARRAY_TASK_MIN");
    if (!id || !cnt) {
      cli_msg(C, "--shard auto: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set");
      return EXIT_USAGE;
    }
    char *e1, *e2;
    unsigned long i = strtoul(id, &e1, 10), n = strtoul(cnt, &e2, 10), m = mn ? strtoul(mn, NULL, 10) : 0;
    if (*e1 || *e2 || n < 1 || i < m || i - m >= n) {
      cli_msg(C, "--shard auto: SLURM_ARRAY_TASK_ID=%s does not fit SLURM_ARRAY_TASK_COUNT=%s", id, cnt);
      return EXIT_USAGE;
    }
    *index = i - m;
    *count = n;
    return 0;
  }
  char *e1, *e2;
  unsigned long i = strtoul(v, &e1, 10);
  if (e1 == v || *e1 != '/') goto bad;
  unsigned long n = strtoul(e1 + 1, &e2, 10);
  if (e2 == e1 + 1 || *e2 || n < 1 || i >= n) goto bad;
  *index = i;
  *count = n;
  return 0;
bad:
  cli_msg(C, "option '--shard': expected I/N with 0 <= I < N, or auto; got '%s'", v);
  return EXIT_USAGE;
}

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  if (cli_flag(&a, "list")) {
    char c[4300];
    snprintf(c, sizeof c, "ls -1 '%s' 2>/dev/null | sed -n 's/\\.json$//p'", cli_studies_dir());
    return system(c) == 0 ? EXIT_OK : EXIT_RUNTIME;
  }
  if (a.npos != 1) {
    cli_msg(C, "expected one study file or preset name (see 'moelab study --list')");
    return EXIT_USAGE;
  }
  long threads = 0;
  if ((rc = cli_get_int(C, &a, "threads", 0, 4096, &threads))) return rc;
  size_t si = 0, sc = 0;
  const char *v;
  if ((v = cli_get(&a, "shard")) && (rc = cli_parse_shard(C, v, &si, &sc))) return rc;
  char path[4096];
  if ((rc = cli_resolve_study(C, a.pos[0], path, sizeof path))) return rc;
  char out[4200];
  if ((v = cli_get(&a, "out")))
    snprintf(out, sizeof out, "%s", v);
  else {
    moelab_study *s = NULL;
    moelab_error err;
    if (moelab_study_read_file(path, 0, &s, &err)) return cli_fail(C, &err, 1);
    snprintf(out, sizeof out, "results/%s%s", moelab_study_name(s), cli_flag(&a, "quick") ? "-quick" : "");
    moelab_study_free(s);
  }
#ifndef MOELAB_HAVE_MPI
  long np = cli_mpi_launch_size();
  if (np > 1) {
    cli_msg(C, "started by an MPI launcher with %ld processes, but this moelab was built without MPI "
               "(cmake -DMOELAB_MPI=ON): every process would run the whole study into %s",
            np, out);
    return EXIT_USAGE;
  }
#endif
  cli_catch_signals();
  rc = cli_run_study(C, path, out, cli_flag(&a, "quick"), (int)threads, cli_flag(&a, "resume"), si, sc,
                     !cli_flag(&a, "no-figures"));
  if (cli_study_rank() != 0) return rc; /* MPI: rank 0 reports */
  if (rc == EXIT_OK && sc > 1)
    printf("moelab study: shard %zu/%zu in %s/ (results.csv); merge the shards with: moelab merge DIR... --out DIR\n", si,
           sc, out);
  else if (rc == EXIT_OK)
    printf("moelab study: results in %s/ (summary.md, summary.csv, results.csv, figures/)\n", out);
  return rc;
}

const cli_command cmd_study = {
    "study", "moelab study FILE|PRESET [--threads T] [--out DIR] [--quick] [--resume] [--shard I/N]",
    "Run a convergence-rate study: simulate, fit both gates over a grid of n with replicates, measure losses "
    "and expert rates, and summarise the empirical rates against the theory.",
    "Every fit has its own random keys, so results are identical for any thread count, shard layout or number "
    "of MPI ranks; rows are flushed one by one, and --resume completes a study that was stopped or killed. SIGINT "
    "stops after the fits in flight. Built with -DMOELAB_MPI=ON, 'mpirun -np N moelab study FILE' runs the fits "
    "on ranks 1..N-1, handed out one at a time by rank 0, which writes the results. See docs/studies.md for the "
    "study file format and distributed studies.",
    opts, run};
