/*
 * reference.c — `moelab reference`: the reference measure Gbar of a truth.
 */
#include "commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"truth", 't', "FILE", NULL, "The true model G* with its input law (JSON). Required."},
    {"k", 'k', "K", NULL, "Atoms of Gbar. Required."},
    {"gate", 'g', "GATE", "the truth's", "Gate of Gbar (softmax Gbar of a sigmoid truth: the same-data protocol)."},
    {"rule", 0, "RULE", "local",
     "local: from the study's start (the truth's atoms split, --restarts perturbed starts); global: also "
     "--restarts random and k-means starts."},
    {"restarts", 'r', "R", "8", "Starts of each kind."},
    {"perturb", 0, "S", "0.1", "Perturbation of the split start."},
    {"split", 0, "I,J,...", "the heaviest atom each time", "Atoms of the truth to split."},
    {"seed", 's', "S", "0", "Seed of the starts."},
    {"threads", 0, "T", "0 (all cores)", "OpenMP threads; the result does not depend on it."},
    {"box-beta0", 0, "LO,HI", "-10,10", "Bounds of the gate intercepts."},
    {"box-beta1", 0, "LO,HI", "-10,10", "Bounds of the gate slopes."},
    {"box-eta", 0, "LO,HI", "-10,10", "Bounds of the expert parameters."},
    {"output", 'o', "FILE", "-", "Gbar (JSON, with the report in its \"reference\" member). Written atomically."},
    {"quiet", 'q', NULL, NULL, "Do not print the report."},
    {NULL, 0, NULL, NULL, NULL}};

static int run(const cli_command *cmd, int argc, char **argv) {
  const char *C = cmd->name;
  cli_args a;
  int rc = cli_parse(cmd, argc, argv, &a);
  if (rc) return rc < 0 ? EXIT_OK : rc;
  if (a.npos) {
    cli_msg(C, "unexpected argument '%s'", a.pos[0]);
    return EXIT_USAGE;
  }
  const char *tp = cli_get(&a, "truth");
  if (!tp || !cli_get(&a, "k")) {
    cli_msg(C, "missing --%s", tp ? "k K" : "truth FILE");
    return EXIT_USAGE;
  }
  moelab_reference_options o;
  moelab_reference_options_init(&o);
  long threads = 0;
  size_t split[MOELAB_MAX_K];
  const char *v;
  if ((rc = cli_get_size(C, &a, "k", 1, MOELAB_MAX_K, &o.k)) ||
      (rc = cli_get_size(C, &a, "restarts", 1, 100000, &o.restarts)) ||
      (rc = cli_get_double(C, &a, "perturb", 0, 1e6, &o.perturb)) || (rc = cli_get_u64(C, &a, "seed", &o.seed)) ||
      (rc = cli_get_int(C, &a, "threads", 0, 4096, &threads)) ||
      (rc = cli_get_range(C, &a, "box-beta0", &o.box.beta0_lo, &o.box.beta0_hi)) ||
      (rc = cli_get_range(C, &a, "box-beta1", &o.box.beta1_lo, &o.box.beta1_hi)) ||
      (rc = cli_get_range(C, &a, "box-eta", &o.box.eta_lo, &o.box.eta_hi)))
    return rc;
  o.threads = (int)threads;
  if ((v = cli_get(&a, "gate")) && moelab_gate_parse(v, &o.gate)) {
    cli_msg(C, "option '--gate': unknown gate '%s'", v);
    return EXIT_USAGE;
  }
  if ((v = cli_get(&a, "rule"))) {
    if (strcmp(v, "local") == 0)
      o.rule = MOELAB_REF_LOCAL;
    else if (strcmp(v, "global") == 0)
      o.rule = MOELAB_REF_GLOBAL;
    else {
      cli_msg(C, "option '--rule': expected local or global, got '%s'", v);
      return EXIT_USAGE;
    }
  }
  if ((rc = cli_get_indices(C, &a, "split", split, MOELAB_MAX_K, &o.nsplit))) return rc;
  if (o.nsplit) o.split = split;
  moelab_model *truth = NULL, *gbar = NULL;
  moelab_reference_report *rep = NULL;
  moelab_error err;
  moelab_error_clear(&err);
  char *rj = NULL, *extra = NULL;
  if ((rc = cli_read_model(C, tp, &truth))) goto done;
  if (moelab_reference(truth, &o, &gbar, &rep, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  if (moelab_reference_report_json(rep, &rj, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  /* keep the fit member and add the reference report */
  size_t need = strlen(rj) + (gbar->extra ? strlen(gbar->extra) : 2) + 32;
  extra = malloc(need);
  if (!extra) {
    rc = EXIT_RUNTIME;
    goto done;
  }
  if (gbar->extra && strlen(gbar->extra) > 2)
    snprintf(extra, need, "%.*s, \"reference\": %s}", (int)(strlen(gbar->extra) - 1), gbar->extra, rj);
  else
    snprintf(extra, need, "{\"reference\": %s}", rj);
  if (moelab_model_set_extra(gbar, extra, &err)) {
    rc = cli_fail(C, &err, 0);
    goto done;
  }
  const char *opath = cli_get(&a, "output");
  if (!opath) opath = "-";
  FILE *rf = strcmp(opath, "-") == 0 ? stderr : stdout;
  if (!cli_flag(&a, "quiet")) {
    fprintf(rf, "Gbar: %s gate, %zu atoms, design of %zu points (fit %s)\n", moelab_gate_name(gbar->gate), gbar->k,
            rep->design_points, rep->converged ? "converged" : "NOT converged");
    fprintf(rf, "distance ||f_Gbar - f_G*|| = %.6g  (||f_G*|| = %.6g, relative %.3g)\n", rep->distance,
            rep->truth_norm, rep->truth_norm > 0 ? rep->distance / rep->truth_norm : NAN);
    fprintf(rf, "%-6s %14s %s\n", "atom", "||g_i h_i||", "");
    for (size_t i = 0; i < gbar->k; i++)
      fprintf(rf, "%-6zu %14.6g %s\n", i, rep->contribution[i],
              rep->contribution[i] <= 1e-3 * rep->truth_norm ? "switched off (its parameters are not identified)" : "");
    fprintf(rf, "parameters on the boundary of Theta: %zu\n", rep->n_at_bound);
    fprintf(rf, "smallest eigenvalues of J'J / largest:");
    for (size_t i = 0; i < rep->neig; i++) fprintf(rf, " %.3g", rep->eig[i]);
    fprintf(rf, "%s\n", rep->degenerate ? "  -> NON-ISOLATED minimum (degenerate)" : "");
  }
  if ((rc = cli_write_model(C, opath, gbar))) goto done;
  rc = EXIT_OK;
done:
  free(rj);
  free(extra);
  moelab_reference_report_free(rep);
  moelab_model_free(gbar);
  moelab_model_free(truth);
  return rc;
}

const cli_command cmd_reference = {
    "reference", "moelab reference --truth TRUTH.json --k K [--rule local|global] [-o GBAR.json]",
    "The reference measure Gbar: the k-atom model in Theta closest to the truth in L2(mu).",
    "Computed by the fitter on a fixed noiseless quadrature (d = 1) or Sobol (d > 1) design, deterministic. The "
    "report gives the distance to the truth, each atom's contribution ||g_i h_i|| (an atom switched off leaves its "
    "parameters unidentified), the parameters on Theta's boundary and the smallest eigenvalues of J'J (a value "
    "near 0 flags a non-isolated minimum).",
    opts, run};
