/*
 * commands.h — the subcommands of moelab (one file each in cli/).
 */
#ifndef MOELAB_CLI_COMMANDS_H
#define MOELAB_CLI_COMMANDS_H

#include "common.h"

extern const cli_command cmd_simulate;
extern const cli_command cmd_predict;
extern const cli_command cmd_eval;
extern const cli_command cmd_fit;
extern const cli_command cmd_loss;
extern const cli_command cmd_reference;
extern const cli_command cmd_rate;
extern const cli_command cmd_study;
extern const cli_command cmd_merge;
extern const cli_command cmd_reproduce;

#endif
