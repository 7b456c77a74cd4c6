/*
 * main.c — `moelab <command> [options]`: dispatch, help and version.
 */
#include "commands.h"

#include <gsl/gsl_errno.h>
#include <string.h>

const cli_command *const cli_commands[] = {&cmd_simulate, &cmd_fit, &cmd_predict, &cmd_eval, &cmd_loss, &cmd_reference, &cmd_rate, &cmd_study, &cmd_merge, &cmd_reproduce, NULL};

static void usage(FILE *fp) {
  fprintf(fp,
          "Usage: moelab <command> [options]\n\n"
          "Mixture-of-experts regression with sigmoid and softmax gating.\n\nCommands:\n");
  for (size_t i = 0; cli_commands[i]; i++)
    fprintf(fp, "  %-10s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
  fprintf(fp, "  %-10s %s\n", "help", "Show help for a command: moelab help <command>");
  fprintf(fp,
          "\nOptions:\n  -h, --help     Show this help and exit.\n"
          "      --version  Show the version and exit.\n\n"
          "Exit status: 0 success, 1 runtime failure, 2 misuse or bad input, 130 interrupted.\n");
}

static const cli_command *find(const char *name) {
  for (size_t i = 0; cli_commands[i]; i++)
    if (strcmp(cli_commands[i]->name, name) == 0) return cli_commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();

  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *c = argv[1];
  if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(c, "--version") == 0) {
    printf("moelab %s\n", moelab_version());
    return EXIT_OK;
  }
  if (strcmp(c, "help") == 0) {
    if (argc < 3) {
      usage(stdout);
      return EXIT_OK;
    }
    const cli_command *cmd = find(argv[2]);
    if (!cmd) {
      fprintf(stderr, "moelab help: unknown command '%s' (see 'moelab --help')\n", argv[2]);
      return EXIT_USAGE;
    }
    cli_help(cmd, stdout);
    return EXIT_OK;
  }
  const cli_command *cmd = find(c);
  if (!cmd) {
    fprintf(stderr, "moelab: unknown command '%s' (see 'moelab --help')\n", c);
    return EXIT_USAGE;
  }
  return cmd->run(cmd, argc - 1, argv + 1);
}
