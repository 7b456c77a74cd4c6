/*
 * merge.c — `moelab merge`: one results directory from the shards of a study.
 */
#include "commands.h"
#include "study_util.h"

#include <string.h>

static const cli_opt opts[] = {
    {"out", 'o', "DIR", NULL, "The merged results directory (required): results.csv, summary.md, summary.csv, figures/."},
    {"no-figures", 0, NULL, NULL, "Do not run gnuplot (the scripts are still written)."},
    {NULL, 0, NULL, NULL, NULL}};

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  const char *out = cli_get(&a, "out");
  if (!out) {
    cli_msg(C, "missing --out DIR (the merged results directory)");
    return EXIT_USAGE;
  }
  if (a.npos < 1) {
    cli_msg(C, "expected the results directories of the shards (moelab study --shard I/N --out DIR)");
    return EXIT_USAGE;
  }
  moelab_error err;
  moelab_error_clear(&err);
  if (moelab_study_merge(a.pos, a.npos, out, &err)) return cli_fail(C, &err, 1);
  if (!cli_flag(&a, "no-figures")) cli_study_figures(C, out);
  printf("moelab merge: %zu result director%s merged into %s/ (summary.md, summary.csv, results.csv, figures/)\n",
         a.npos, a.npos == 1 ? "y" : "ies", out);
  return EXIT_OK;
}

const cli_command cmd_merge = {
    "merge", "moelab merge DIR... --out DIR [--no-figures]",
    "Merge the results directories of a study's shards (moelab study --shard I/N) and summarise them.",
    "Every directory must come from the same study file and quick setting and the same number of shards N; "
    "every shard 0..N-1 must be given exactly once and every fit of the study must be in exactly one of them. "
    "Otherwise nothing is written and the message names the missing or duplicated shards and fits. The merged "
    "results.csv holds the shards' rows unchanged, so it equals a single run's after sorting; the summary and "
    "figures are those of moelab study.",
    opts, run};
