/*
 * loss.c — `moelab loss`: Voronoi cells, the loss terms and the expert-rate
 * measures of a fitted model against a reference.
 */
#include "commands.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"fit", 'f', "FILE", NULL, "The fitted model (JSON). Required."},
    {"ref", 'r', "FILE", NULL, "The reference model: the truth G*, or Gbar (JSON). Required."},
    {"loss", 'l', "NAME", "D1", "D1 (r = 2), D2:r, D3 (power 1 in every cell) or Lbar (G* plus switched-off atoms)."},
    {"no-translate", 0, NULL, NULL, "Softmax: take the loss at the given gate parameters, not minimised over (t0, t1)."},
    {"json", 0, NULL, NULL, "Print one JSON object instead of the tables."},
    {NULL, 0, NULL, NULL, NULL}};

static void print_num(double v) {
  if (isfinite(v))
    printf(" %14.8g", v);
  else
    printf(" %14s", "-");
}

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  if (a.npos) {
    cli_msg(C, "unexpected argument '%s'", a.pos[0]);
    return EXIT_USAGE;
  }
  const char *fp = cli_get(&a, "fit"), *rp = cli_get(&a, "ref");
  if (!fp || !rp) {
    cli_msg(C, "missing --%s FILE", fp ? "ref" : "fit");
    return EXIT_USAGE;
  }
  moelab_error err;
  moelab_error_clear(&err);
  moelab_loss_spec spec;
  if (moelab_loss_parse(cli_get(&a, "loss") ? cli_get(&a, "loss") : "D1", &spec, &err)) {
    cli_msg(C, "option '--loss': %s", err.message);
    return EXIT_USAGE;
  }
  spec.translate = !cli_flag(&a, "no-translate");
  moelab_model *fit = NULL, *ref = NULL;
  moelab_loss_result *res = NULL;
  if ((rc = cli_read_model(C, fp, &fit)) || (rc = cli_read_model(C, rp, &ref))) goto done;
  if (moelab_loss(fit, ref, &spec, &res, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  if (cli_flag(&a, "json")) {
    char *text = NULL;
    if (moelab_loss_result_json(res, &text, &err)) {
      rc = cli_fail(C, &err, 0);
      goto done;
    }
    printf("%s\n", text);
    free(text);
  } else {
    char name[40];
    printf("loss %s = %.10g   (mass %.6g + exact %.6g + overspecified %.6g)\n", moelab_loss_name(&spec, name),
           res->value, res->mass, res->exact, res->over);
    if (isfinite(res->canonical)) printf("canonical (identified products w*eta in flat cells): %.10g\n", res->canonical);
    if (strcmp(res->minimiser, "none") != 0) {
      printf("softmax translation (%s): t0 = %.6g, t1 =", res->minimiser, res->t0);
      for (size_t c = 0; c < res->d; c++) printf(" %.6g", res->t1[c]);
      printf("\n");
    }
    printf("\n%-10s %-16s %14s %14s\n", "ref atom", "fitted atoms", "e_j", "e_max_j");
    for (size_t j = 0; j < res->k0; j++) {
      char list[256] = "";
      size_t len = 0;
      for (size_t i = 0; i < res->k; i++)
        if (res->cell[i] == j && len + 8 < sizeof list) len += (size_t)snprintf(list + len, sizeof list - len, "%s%zu", len ? "," : "", i);
      printf("%-10zu %-16s", j, len ? list : "(empty)");
      print_num(res->e[j]);
      print_num(res->e_max[j]);
      printf("\n");
    }
    if (res->contribution) {
      printf("\n%-10s %14s %s\n", "fit atom", "||g_i h_i||", "");
      for (size_t i = 0; i < res->k; i++)
        printf("%-10zu %14.8g %s\n", i, res->contribution[i], res->cell[i] == SIZE_MAX ? "switched off" : "matched");
    }
    printf("\nexpert rate (max_j e_j): all");
    print_num(res->rate_all);
    printf("  exact");
    print_num(res->rate_exact);
    printf("  over");
    print_num(res->rate_over);
    printf("  unweighted");
    print_num(res->rate_all_unweighted);
    printf("\n");
  }
  rc = EXIT_OK;
done:
  moelab_loss_result_free(res);
  moelab_model_free(fit);
  moelab_model_free(ref);
  return rc;
}

const cli_command cmd_loss = {
    "loss", "moelab loss --fit FIT.json --ref REF.json [--loss D1|D2:r|D3|Lbar] [--json]",
    "Voronoi loss of a fitted mixing measure against a reference (G* or Gbar), its terms and the direct "
    "expert-rate measures.",
    "Cells use theta = (beta1, eta), Euclidean, ties to the smallest reference atom. Weights are sigma(beta0) "
    "(sigmoid) or exp(beta0) (softmax); softmax losses are minimised over a common translation of the fitted gate "
    "parameters. See docs/theory.md section 5.",
    opts, run};
