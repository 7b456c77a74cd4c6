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
/* Runs one study (read, run, summarise, figures) into out.  Returns an exit code. */
int cli_run_study(const char *cmd, const char *path, const char *out, int quick, int threads, int resume,
                  size_t shard_index, size_t shard_count, int figures);

#endif
