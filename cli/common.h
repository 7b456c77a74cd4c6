/*
 * common.h — what every moelab subcommand shares: option parsing, messages,
 * exit codes, input and output files.
 */
#ifndef MOELAB_CLI_COMMON_H
#define MOELAB_CLI_COMMON_H

#include "moelab.h"

#include <signal.h>
#include <stdio.h>

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_RUNTIME 1 /* a failure while running (numerics, writing, memory) */
#define EXIT_USAGE 2   /* misuse or bad input */
#define EXIT_SIGINT 130

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* One option of a command.  `arg` is the metavariable ("FILE", "N"), NULL for
 * a flag; `def` is the default shown in --help (NULL: none). */
typedef struct cli_opt {
  const char *name; /* long name without "--" */
  char shortname;   /* 0 or a letter usable as -x */
  const char *arg;
  const char *def;
  const char *help;
} cli_opt;

#define CLI_MAX_OPTS 64
#define CLI_MAX_POS 4096 /* moelab merge takes one directory per shard */

typedef struct cli_args {
  const cli_opt *opts;
  size_t nopts;
  const char *value[CLI_MAX_OPTS]; /* NULL when not given (flags: "1") */
  const char *pos[CLI_MAX_POS];
  size_t npos;
} cli_args;

/* A command: name, synopsis, description and its options. */
typedef struct cli_command {
  const char *name;
  const char *synopsis;    /* "moelab simulate --model FILE --n N [options]" */
  const char *summary;     /* one line */
  const char *description; /* paragraphs, may be NULL */
  const cli_opt *opts;     /* terminated by a {NULL} entry */
  int (*run)(const struct cli_command *cmd, int argc, char **argv);
} cli_command;

/* The table of all commands (main.c). */
extern const cli_command *const cli_commands[];

/*
 * Parses argv[1..] (argv[0] is the command name) against cmd->opts.
 * Accepts --key value, --key=value, -k value, flags, "--" and positionals.
 * Returns 0 on success, EXIT_USAGE after printing a message on misuse, or -1
 * after printing the help to stdout when --help/-h was given.
 */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out);

/* Prints the full help of a command to `fp`. */
void cli_help(const cli_command *cmd, FILE *fp);

/* The value of option `name` or NULL. */
const char *cli_get(const cli_args *a, const char *name);
int cli_flag(const cli_args *a, const char *name);

/* Typed option values; on a bad value print a message and return EXIT_USAGE.
 * When the option is absent, *out keeps its value (the caller's default). */
int cli_get_size(const char *cmd, const cli_args *a, const char *name, size_t min, size_t max, size_t *out);
int cli_get_u64(const char *cmd, const cli_args *a, const char *name, uint64_t *out);
int cli_get_int(const char *cmd, const cli_args *a, const char *name, long min, long max, long *out);
int cli_get_double(const char *cmd, const cli_args *a, const char *name, double min, double max, double *out);
/* A comma-separated list of doubles of length 1 (broadcast to n) or n. */
int cli_get_doubles(const char *cmd, const cli_args *a, const char *name, size_t n, double *out);

/* "moelab CMD: message" on stderr. */
void cli_msg(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Prints an error from the library and returns the exit code for it:
 * bad input (EPARSE, EINVAL, ELIMIT, ENOTFOUND, and EIO when `input_io`) -> 2,
 * EINTR -> 130, anything else -> 1. */
int cli_fail(const char *cmd, const moelab_error *err, int input_io);
/* The exit code cli_fail returns, without the message. */
int cli_exit_code(const moelab_error *err, int input_io);

/* Reads a model from a path or "-" (stdin). */
int cli_read_model(const char *cmd, const char *path, moelab_model **m);
/* Reads a CSV data file from a path or "-" (stdin). */
int cli_read_data(const char *cmd, const char *path, const moelab_csv_spec *spec, moelab_data **data);
/* Builds a CSV spec from --x/--y options (names kept in `store`). */
typedef struct cli_colspec {
  moelab_csv_spec spec;
  char *buf;
  const char *names[MOELAB_MAX_D];
} cli_colspec;
int cli_colspec_init(const char *cmd, const cli_args *a, cli_colspec *cs);
void cli_colspec_free(cli_colspec *cs);

/* 1 if stderr is a terminal (progress bars go there only then). */
int cli_stderr_is_tty(void);

/* SIGINT/SIGTERM handling for long commands: after cli_catch_signals(), the
 * flag becomes 1 on the first signal; a second signal ends the process. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_signals(void);

/* Comma-separated indices (at most max) of option `name` into out; *n receives their count.  A bad value prints
 * a message and returns EXIT_USAGE; an absent option leaves *n = 0. */
int cli_get_indices(const char *cmd, const cli_args *a, const char *name, size_t *out, size_t max, size_t *n);
/* Writes a model to path ("-": stdout) atomically; on failure prints the error and returns its exit code. */
int cli_write_model(const char *cmd, const char *path, const moelab_model *m);

/* Parses "A,B" into two finite numbers with A < B. */
int cli_get_range(const char *cmd, const cli_args *a, const char *name, double *lo, double *hi);

#endif
