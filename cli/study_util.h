/*
 * study_util.h — helpers shared by `moelab study` and `moelab reproduce`.
 */
#ifndef MOELAB_CLI_STUDY_UTIL_H
#define MOELAB_CLI_STUDY_UTIL_H

#include "common.h"

/* The directory of the study presets: $MOELAB_STUDIES, else the source tree's (for the executable of the
 * build tree) or the installed one. */
const char *cli_studies_dir(void);
/* Resolves FILE or PRESET (a name in the presets directory) to a path in buf. */
int cli_resolve_study(const char *cmd, const char *arg, char *buf, size_t size);
/* Progress line on stderr (only when it is a terminal). */
void cli_study_progress(void *ctx, const moelab_study_progress *p);
/* Runs gnuplot on every .gp file in dir (in that directory).  Returns the number that failed, or -1 if
 * gnuplot is missing. */
int cli_run_gnuplot(const char *dir);
/* Runs gnuplot on out/figures/ and reports a missing gnuplot or failed scripts (not fatal). */
void cli_study_figures(const char *cmd, const char *out);
/* The number of processes of the MPI job this process was started in, from the launcher's environment
 * (mpirun, srun): 0 when not started by one, -1 when the size is not known. */
long cli_mpi_launch_size(void);
/* 0, or this process's rank when the last cli_run_study ran under MPI (only rank 0 reports). */
int cli_study_rank(void);
/* Runs one study (read, run, summarise, figures) into out.  Returns an exit code.  Built with MPI and
 * started by an MPI launcher, it initialises MPI, runs the study over the ranks (moelab_study_run_mpi),
 * finalises MPI, then only rank 0 reports, summarises and draws. */
int cli_run_study(const char *cmd, const char *path, const char *out, int quick, int threads, int resume,
                  size_t shard_index, size_t shard_count, int figures);

#endif
