/*
 * fuzz_cli.c — libFuzzer target for the command-line parser (cli/common.c).
 *
 * The input is split at NUL bytes into arguments.  The first one names the
 * command whose option table is used (simulate, predict, eval; any other word
 * picks one by its length), the rest are argv[1..].  cli_parse must return 0,
 * -1 (help) or EXIT_USAGE; after a successful parse every value must point
 * into the arguments, and the typed getters (whole numbers, seeds, doubles,
 * lists, column specs) must accept or refuse each given value cleanly.
 * The parser's messages and help text go to /dev/null (see
 * LLVMFuzzerInitialize); sanitizer reports and libFuzzer's own output are not
 * affected.
 */
#include "commands.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 512

static FILE *report; /* the real stderr, for invariant violations */

static void require(int cond, const char *what) {
  if (cond) return;
  fprintf(report ? report : stderr, "fuzz_cli: invariant violated: %s\n", what);
  abort();
}

/* Millions of usage messages would drown the fuzzer's log: the standard
 * streams the parser prints to become /dev/null (with glibc, stdout and stderr
 * are assignable variables; the file descriptors 1 and 2 stay open, so
 * sanitizer reports still appear). */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  report = stderr;
  FILE *null = fopen("/dev/null", "w");
  if (null) {
    stdout = null;
    stderr = null;
  }
  return 0;
}

static const cli_command *const commands[] = {&cmd_simulate, &cmd_fit, &cmd_predict, &cmd_eval, &cmd_loss,
                                              &cmd_reference, &cmd_rate, &cmd_study, &cmd_reproduce};

/* 1 if p points into one of the argument strings. */
static int in_args(const char *p, char **argv, int argc) {
  for (int i = 0; i < argc; i++) {
    size_t n = strlen(argv[i]);
    if (p >= argv[i] && p <= argv[i] + n) return 1;
  }
  return 0;
}

static void check_getters(const cli_command *cmd, const cli_args *a) {
  const char *C = cmd->name;
  for (size_t i = 0; i < a->nopts; i++) {
    const char *name = a->opts[i].name;
    if (!a->value[i] || !a->opts[i].arg) continue;
    size_t sz = 7;
    uint64_t u = 7;
    long l = 7;
    double x = 7, v[3];
    int rc = cli_get_size(C, a, name, 1, MOELAB_MAX_ROWS, &sz);
    require(rc == 0 ? sz >= 1 && sz <= MOELAB_MAX_ROWS : rc == EXIT_USAGE && sz == 7, "cli_get_size");
    rc = cli_get_u64(C, a, name, &u);
    require(rc == 0 || (rc == EXIT_USAGE && u == 7), "cli_get_u64");
    rc = cli_get_int(C, a, name, 0, 4096, &l);
    require(rc == 0 ? l >= 0 && l <= 4096 : rc == EXIT_USAGE && l == 7, "cli_get_int");
    rc = cli_get_double(C, a, name, 0.0, 1e300, &x);
    require(rc == 0 ? x >= 0.0 && x <= 1e300 : rc == EXIT_USAGE && x == 7, "cli_get_double");
    rc = cli_get_doubles(C, a, name, 3, v);
    require(rc == 0 || rc == EXIT_USAGE, "cli_get_doubles");
  }
  cli_colspec cs;
  int rc = cli_colspec_init(C, a, &cs);
  require(rc == 0 || rc == EXIT_USAGE, "cli_colspec_init");
  if (rc == 0 && cs.spec.x_names) {
    require(cs.spec.nx >= 1 && cs.spec.nx <= MOELAB_MAX_D, "1 <= nx <= MOELAB_MAX_D");
    for (size_t j = 0; j < cs.spec.nx; j++) require(cs.spec.x_names[j][0] != '\0', "non-empty column names");
  }
  cli_colspec_free(&cs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  char *argv[MAX_ARGS + 1];
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  int argc = 0;
  for (size_t pos = 0; pos <= size && argc < MAX_ARGS;) {
    argv[argc++] = buf + pos;
    pos += strlen(buf + pos) + 1;
  }
  argv[argc] = NULL;
  const cli_command *cmd = NULL;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(argv[0], commands[i]->name) == 0) cmd = commands[i];
  if (!cmd) cmd = commands[strlen(argv[0]) % 3];
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  require(rc == 0 || rc == -1 || rc == EXIT_USAGE, "cli_parse returns 0, -1 or EXIT_USAGE");
  if (rc == 0) {
    require(a.npos <= CLI_MAX_POS, "npos <= CLI_MAX_POS");
    for (size_t i = 0; i < a.npos; i++) require(in_args(a.pos[i], argv, argc), "positionals point into argv");
    for (size_t i = 0; i < a.nopts; i++) {
      if (!a.value[i]) continue;
      if (a.opts[i].arg)
        require(in_args(a.value[i], argv, argc), "option values point into argv");
      else
        require(strcmp(a.value[i], "1") == 0, "flags are \"1\"");
    }
    check_getters(cmd, &a);
  }
  free(buf);
  return 0;
}
