/*
 * reproduce.c — `moelab reproduce`: every preset, then one report with the
 * measured rate table beside the theory's, the figures and the paper's
 * two-panel figure (sigmoid vs softmax under the same data).
 */
#include "commands.h"
#include "study_util.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const cli_opt opts[] = {
    {"out", 'o', "DIR", "results", "Output directory: one subdirectory per preset, report.md, report.html."},
    {"quick", 0, NULL, NULL, "The quick grid of every preset (a few minutes)."},
    {"threads", 't', "T", "0 (all cores)", "Fits run in parallel; the results do not depend on it."},
    {"only", 0, "NAMES", "all", "Comma-separated presets to run (the report covers those found in DIR)."},
    {"no-figures", 0, NULL, NULL, "Do not run gnuplot."},
    {NULL, 0, NULL, NULL, NULL}};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One summary row. */
typedef struct srow {
  char preset[80], protocol[16], gate[16], quantity[48], theory[16], verdict[16];
  int regime;
  char cls[24], expert[16];
  double slope, lo, hi, lambda;
  char prefers[8];
  long fits, converged, failed;
} srow;

static size_t read_summary(const char *path, srow *rows, size_t max) {
  moelab_table *t = NULL;
  if (moelab_table_read_file(path, &t, NULL)) return 0;
  size_t m = 0;
  long c[16];
  const char *names[16] = {"preset", "protocol", "gate", "regime", "expert", "class", "quantity", "slope",
                           "ci_low", "ci_high", "lambda", "prefers", "theory", "verdict", "fits", "converged"};
  for (int i = 0; i < 16; i++) c[i] = moelab_table_column(t, names[i]);
  long cf = moelab_table_column(t, "failed");
  for (size_t r = 0; r < t->nrow && m < max; r++) {
    int ok = 1;
    for (int i = 0; i < 16; i++) ok &= c[i] >= 0;
    if (!ok) break;
    srow *s = &rows[m++];
    const char **cell = (const char **)(t->cells + r * t->ncol);
    snprintf(s->preset, sizeof s->preset, "%s", cell[c[0]]);
    snprintf(s->protocol, sizeof s->protocol, "%s", cell[c[1]]);
    snprintf(s->gate, sizeof s->gate, "%s", cell[c[2]]);
    s->regime = atoi(cell[c[3]]);
    snprintf(s->expert, sizeof s->expert, "%s", cell[c[4]]);
    snprintf(s->cls, sizeof s->cls, "%s", cell[c[5]]);
    snprintf(s->quantity, sizeof s->quantity, "%s", cell[c[6]]);
    s->slope = strtod(cell[c[7]], NULL);
    s->lo = strtod(cell[c[8]], NULL);
    s->hi = strtod(cell[c[9]], NULL);
    s->lambda = strtod(cell[c[10]], NULL);
    snprintf(s->prefers, sizeof s->prefers, "%s", cell[c[11]]);
    snprintf(s->theory, sizeof s->theory, "%s", cell[c[12]]);
    snprintf(s->verdict, sizeof s->verdict, "%s", cell[c[13]]);
    s->fits = atol(cell[c[14]]);
    s->converged = atol(cell[c[15]]);
    s->failed = cf >= 0 ? atol(cell[cf]) : 0;
  }
  moelab_table_free(t);
  return m;
}

static const srow *find(const srow *rows, size_t n, const char *preset, const char *protocol, const char *gate,
                        const char *quantity) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(rows[i].preset, preset) && !strcmp(rows[i].protocol, protocol) && !strcmp(rows[i].gate, gate) &&
        !strcmp(rows[i].quantity, quantity))
      return &rows[i];
  return NULL;
}

static void cell_text(const srow *r, char *b, size_t n) {
  if (!r)
    snprintf(b, n, "not run");
  else
    snprintf(b, n, "%.2f [%.2f, %.2f]%s %s", r->slope, r->lo, r->hi, r->prefers[0] == 'l' ? " (log fit)" : "",
             strcmp(r->verdict, "agrees") == 0 ? "✓" : "✗ disagrees");
}

/* ---- diagnostics of the curves that disagree (docs/studies.md, "Diagnostics") ---- */

/* Thresholds of the causes named in the report. */
#define DIAG_UNCONVERGED 0.05 /* fraction of fits not converged */
#define DIAG_AT_BOUND 0.10    /* fraction of fits with a parameter on Θ's boundary */
#define DIAG_BEND 0.15        /* difference of the slopes of the two halves of the grid */
#define DIAG_CANONICAL 0.10   /* canonical loss steeper than the raw loss by this much */

/* The number after "key": in a JSON text, or NAN; *flag = 1 when the value is true. */
static double json_value(const char *text, const char *key, int *flag) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = text ? strstr(text, pat) : NULL;
  if (flag) *flag = 0;
  if (!p) return NAN;
  p += strlen(pat);
  while (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t') p++;
  if (flag && strncmp(p, "true", 4) == 0) *flag = 1;
  char *end;
  double v = strtod(p, &end);
  return end == p ? NAN : v;
}

/* Slope (OLS of the log means) of the values v against n for nlo <= n <= nhi; NAN if fewer than 2 sizes. */
static double slope_of(const double *n, const double *v, size_t m, double nlo, double nhi) {
  double *a = malloc((m + 1) * sizeof *a), *b = malloc((m + 1) * sizeof *b);
  size_t k = 0;
  for (size_t i = 0; a && b && i < m; i++)
    if (n[i] >= nlo && n[i] <= nhi && v[i] > 0 && isfinite(v[i])) {
      a[k] = n[i];
      b[k++] = v[i];
    }
  double s = NAN;
  moelab_rate_options o;
  moelab_rate_options_init(&o);
  o.bootstrap = 0;
  moelab_rate_result r;
  if (a && b && k >= 2 && moelab_rate_fit(a, b, k, &o, &r, NULL) == 0) {
    if (r.groups >= 2) s = r.slope;
    moelab_rate_result_clear(&r);
  }
  free(a);
  free(b);
  return s;
}

/* Appends to buf (capacity cap, current length *len), truncating at the capacity. */
__attribute__((format(printf, 4, 5))) static void cat_fmt(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
  if (*len + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (w > 0) *len = *len + (size_t)w < cap ? *len + (size_t)w : cap - 1;
}

static void fmt_slope(double s, char *b, size_t m) {
  if (isnan(s))
    snprintf(b, m, "-");
  else
    snprintf(b, m, "%.2f", s);
}

/* One bullet (markdown) and one list item (HTML) for a disagreeing expert-rate row. */
static void diagnose(FILE *fm, FILE *fh, const char *out, const srow *r) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s/results.csv", out, r->preset);
  moelab_table *t = NULL;
  if (moelab_table_read_file(path, &t, NULL)) {
    fprintf(fm, "- **%s, %s (%s)**: %s not readable.\n", r->preset, r->gate, r->protocol, path);
    return;
  }
  long cp = moelab_table_column(t, "protocol"), cg = moelab_table_column(t, "gate"),
       cn = moelab_table_column(t, "n"), cc = moelab_table_column(t, "converged"), cs = moelab_table_column(t, "stop"),
       cb = moelab_table_column(t, "n_at_bound"), ce = moelab_table_column(t, "expert_rate"),
       cd = moelab_table_column(t, "loss_D1"), cdc = moelab_table_column(t, "loss_D1_canonical");
  if (cp < 0 || cg < 0 || cn < 0 || cc < 0 || cs < 0 || ce < 0) {
    moelab_table_free(t);
    return;
  }
  size_t m = 0, conv = 0, failed = 0, bound = 0;
  double *n = malloc((t->nrow + 1) * sizeof *n), *v = malloc((t->nrow + 1) * sizeof *v),
         *d1 = malloc((t->nrow + 1) * sizeof *d1), *d1c = malloc((t->nrow + 1) * sizeof *d1c);
  int *atb = malloc((t->nrow + 1) * sizeof *atb);
  const char *stops[12];
  size_t nstop = 0, scount[12];
  for (size_t i = 0; n && v && d1 && d1c && atb && i < t->nrow; i++) {
    char **c = t->cells + i * t->ncol;
    if (strcmp(c[cp], r->protocol) || strcmp(c[cg], r->gate)) continue;
    n[m] = strtod(c[cn], NULL);
    v[m] = strtod(c[ce], NULL);
    d1[m] = cd >= 0 ? strtod(c[cd], NULL) : NAN;
    d1c[m] = cdc >= 0 ? strtod(c[cdc], NULL) : NAN;
    atb[m] = cb >= 0 && strtod(c[cb], NULL) > 0;
    conv += strcmp(c[cc], "1") == 0;
    failed += strcmp(c[cs], "failed") == 0;
    bound += (size_t)atb[m];
    size_t j = 0;
    while (j < nstop && strcmp(stops[j], c[cs])) j++;
    if (j == nstop && nstop < 12) {
      stops[nstop] = c[cs];
      scount[nstop++] = 0;
    }
    if (j < nstop) scount[j]++;
    m++;
  }
  /* the sizes of the grid, and the two halves */
  double sizes[64];
  size_t ns = 0;
  for (size_t i = 0; i < m; i++) {
    size_t j = 0;
    while (j < ns && sizes[j] != n[i]) j++;
    if (j == ns && ns < 64) sizes[ns++] = n[i];
  }
  for (size_t i = 1; i < ns; i++)
    for (size_t j = i; j > 0 && sizes[j - 1] > sizes[j]; j--) {
      double x = sizes[j];
      sizes[j] = sizes[j - 1];
      sizes[j - 1] = x;
    }
  double s_lo = NAN, s_hi = NAN, s_d1 = NAN, s_d1c = NAN;
  if (ns >= 4) {
    s_lo = slope_of(n, v, m, sizes[0], sizes[(ns - 1) / 2]);
    s_hi = slope_of(n, v, m, sizes[ns / 2], sizes[ns - 1]);
  }
  if (cdc >= 0 && ns >= 2) {
    s_d1 = slope_of(n, d1, m, sizes[0], sizes[ns - 1]);
    s_d1c = slope_of(n, d1c, m, sizes[0], sizes[ns - 1]);
  }
  /* the reference measure of the curve, when it has one */
  double rel = NAN, off = NAN;
  int degenerate = 0, have_ref = 0;
  {
    char rdir[4400], prefix[64];
    snprintf(rdir, sizeof rdir, "%s/%s/references", out, r->preset);
    snprintf(prefix, sizeof prefix, "%s-%s-", r->protocol, r->gate);
    DIR *dd = opendir(rdir);
    struct dirent *e;
    while (dd && (e = readdir(dd)))
      if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
        char rp[4800];
        snprintf(rp, sizeof rp, "%s/%s", rdir, e->d_name);
        moelab_model *g = NULL;
        if (moelab_model_read_file(rp, &g, NULL) == 0 && g->extra) {
          rel = json_value(g->extra, "relative_distance", NULL);
          off = json_value(g->extra, "switched_off", NULL);
          json_value(g->extra, "degenerate", &degenerate);
          have_ref = 1;
        }
        moelab_model_free(g);
        break;
      }
    if (dd) closedir(dd);
  }
  /* the facts */
  char facts[2400], b1[16], b2[16];
  size_t fl = 0;
  double th = !strcmp(r->theory, "n^-1/2") ? -0.5 : !strcmp(r->theory, "n^-1/4") ? -0.25 : NAN;
  const char *dir = "";
  if (!isnan(th))
    dir = r->hi < th ? " (faster than the theory)" : r->lo > th ? " (slower than the theory)" : "";
  else
    dir = r->hi < -0.15 ? " (faster than 1/log n allows)" : r->lo > 0 ? " (increasing)" : "";
  cat_fmt(facts, sizeof facts, &fl, "slope %.2f [%.2f, %.2f] against %s%s. ", r->slope, r->lo,
                         r->hi, r->theory, dir);
  fmt_slope(s_lo, b1, sizeof b1);
  fmt_slope(s_hi, b2, sizeof b2);
  if (ns >= 4)
    cat_fmt(facts, sizeof facts, &fl, "Local slopes: %s for n = %.0f..%.0f, %s for n = %.0f..%.0f. ",
                           b1, sizes[0], sizes[(ns - 1) / 2], b2, sizes[ns / 2], sizes[ns - 1]);
  cat_fmt(facts, sizeof facts, &fl, "Fits: %zu of %zu converged, %zu failed; stop reasons", conv, m,
                         failed);
  for (size_t j = 0; j < nstop; j++)
    cat_fmt(facts, sizeof facts, &fl, "%s %s %zu", j ? "," : "", stops[j], scount[j]);
  cat_fmt(facts, sizeof facts, &fl, ". With a parameter on Θ's boundary: %zu", bound);
  if (bound && ns) {
    cat_fmt(facts, sizeof facts, &fl, " (per size:");
    for (size_t j = 0; j < ns; j++) {
      size_t c = 0;
      for (size_t i = 0; i < m; i++) c += n[i] == sizes[j] && atb[i];
      cat_fmt(facts, sizeof facts, &fl, " %zu", c);
    }
    cat_fmt(facts, sizeof facts, &fl, ")");
  }
  cat_fmt(facts, sizeof facts, &fl, ". ");
  if (!isnan(s_d1) && !isnan(s_d1c))
    cat_fmt(facts, sizeof facts, &fl, "D1 slope %.2f, canonical D1 (identified products) %.2f. ",
                           s_d1, s_d1c);
  if (have_ref)
    cat_fmt(facts, sizeof facts, &fl,
                           "Reference Ḡ: relative distance to f_G* %.2g, %.0f atom%s switched off, %s. ", rel, off,
                           off == 1 ? "" : "s",
                           !degenerate ? "not degenerate"
                           : off > 0   ? "JᵀJ singular through its switched-off atoms (the expert rate is then L̄ against G*)"
                                       : "degenerate (JᵀJ singular: a non-isolated minimum)");
  /* the causes */
  char causes[600] = "";
  size_t cl = 0;
#define CAUSE(...) cat_fmt(causes, sizeof causes, &cl, "%s", cl ? "; " : ""), cat_fmt(causes, sizeof causes, &cl, __VA_ARGS__)
  if (m && (double)(m - conv - failed) > DIAG_UNCONVERGED * (double)m) CAUSE("non-converged fits");
  if (!strcmp(r->expert, "relu")) CAUSE("positive homogeneity of ReLU experts (docs/theory.md §8)");
  if (!isnan(s_d1) && !isnan(s_d1c) && s_d1c < s_d1 - DIAG_CANONICAL)
    CAUSE("the identified products converge faster than the atoms (homogeneity)");
  if (m && (double)bound > DIAG_AT_BOUND * (double)m) CAUSE("fits ending on Θ's boundary (atoms switched off or escaping)");
  if (have_ref && degenerate && !(off > 0)) CAUSE("Ḡ degenerate (a non-isolated minimum)");
  if (!isnan(s_lo) && !isnan(s_hi) && fabs(s_lo - s_hi) > DIAG_BEND) CAUSE("the curve bends over the grid (pre-asymptotic)");
  if (!isnan(th) && r->hi < th) CAUSE("faster than the theory's rate over this grid");
  if (isnan(th) && r->hi < -0.15) CAUSE("faster than 1/log n over this grid (1/log n bounds the rate from above)");
  if (!cl) CAUSE("none of the diagnostics applies");
#undef CAUSE
  fprintf(fm, "- **%s, %s gate, %s protocol**: %sLikely causes: %s.\n", r->preset, r->gate, r->protocol, facts, causes);
  fprintf(fh, "<li><b>%s, %s gate, %s protocol</b>: %sLikely causes: %s.</li>\n", r->preset, r->gate, r->protocol,
          facts, causes);
  free(n);
  free(v);
  free(d1);
  free(d1c);
  free(atb);
  moelab_table_free(t);
}

/* The paper's figure: the same-data expert rates of the ReLU and linear presets side by side. */
static void paper_figure(FILE *fg, const char *out) {
  const char *panels[2] = {"relu-regime2", "linear-regime2"};
  fprintf(fg, "# Sigmoid vs softmax gating under the same data: ReLU experts (left), linear experts (right).\n");
  fprintf(fg, "set terminal svg size 1200,480 dynamic font 'Helvetica,12'\nset output 'figure-same-data.svg'\n");
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1)
      fprintf(fg, "set terminal pngcairo size 1200,480 font 'Helvetica,10'\nset output 'figure-same-data.png'\n");
    fprintf(fg, "set multiplot layout 1,2\nset logscale xy\nset grid\nset xlabel 'n'\n");
    for (int p = 0; p < 2; p++) {
      char dat[4400];
      snprintf(dat, sizeof dat, "%s/%s/figures/%s-same-data.dat", out, panels[p], panels[p]);
      fprintf(fg, "set title '%s experts (same data)'\nset ylabel 'expert rate'\n", p ? "linear" : "ReLU");
      fprintf(fg, "plot '%s' index 0 using 1:2:3:4 with yerrorbars lc rgb '#1f5fbf' pt 7 title 'sigmoid', \\\n"
                  "     '%s' index 1 using 1:2:3:4 with yerrorbars lc rgb '#2ca02c' pt 5 title 'softmax'\n",
              dat, dat);
    }
    fprintf(fg, "unset multiplot\n");
  }
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
  long threads = 0;
  if ((rc = cli_get_int(C, &a, "threads", 0, 4096, &threads))) return rc;
  if (cli_mpi_launch_size() > 1) {
    cli_msg(C, "runs in one process: under mpirun, run each preset with moelab study (docs/studies.md)");
    return EXIT_USAGE;
  }
  const char *out = cli_get(&a, "out") ? cli_get(&a, "out") : "results";
  int quick = cli_flag(&a, "quick"), figures = !cli_flag(&a, "no-figures");
  const char *only = cli_get(&a, "only");
  const char *dir = cli_studies_dir();
  DIR *d = opendir(dir);
  if (!d) {
    cli_msg(C, "%s: cannot open the presets directory", dir);
    return EXIT_RUNTIME;
  }
  char *names[256];
  size_t nn = 0;
  struct dirent *e;
  while ((e = readdir(d)) && nn < 256) {
    size_t l = strlen(e->d_name);
    if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
      names[nn] = strndup(e->d_name, l - 5);
      if (names[nn]) nn++;
    }
  }
  closedir(d);
  qsort(names, nn, sizeof names[0], cmp_str);
  struct stat sb;
  if (stat(out, &sb) != 0 && mkdir(out, 0777) != 0) {
    cli_msg(C, "%s: cannot create the output directory", out);
    rc = EXIT_RUNTIME;
    goto done;
  }
  cli_catch_signals();
  time_t t0 = time(NULL);
  for (size_t i = 0; i < nn; i++) {
    if (only) {
      char pat[200];
      snprintf(pat, sizeof pat, ",%s,", names[i]);
      char list[4200];
      snprintf(list, sizeof list, ",%s,", only);
      if (!strstr(list, pat)) continue;
    }
    char path[4400], sub[4400];
    snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
    snprintf(sub, sizeof sub, "%s/%s", out, names[i]);
    /* an earlier run of the same preset is resumed (the results carry the study's hash) */
    rc = cli_run_study(C, path, sub, quick, (int)threads, 1, 0, 0, figures);
    if (rc) goto done;
  }
  /* the report */
  {
    srow *rows = calloc(4096, sizeof *rows);
    size_t nr = 0;
    if (!rows) {
      rc = EXIT_RUNTIME;
      goto done;
    }
    for (size_t i = 0; i < nn; i++) {
      char p[4400];
      snprintf(p, sizeof p, "%s/%s/summary.csv", out, names[i]);
      nr += read_summary(p, rows + nr, 4096 - nr);
    }
    char rp[4400], hp[4400], gp[4400];
    snprintf(rp, sizeof rp, "%s/report.md", out);
    snprintf(hp, sizeof hp, "%s/report.html", out);
    snprintf(gp, sizeof gp, "%s/figure-same-data.gp", out);
    moelab_outfile *om = NULL, *oh = NULL, *og = NULL;
    moelab_error err;
    if (moelab_outfile_new(rp, &om, &err) || moelab_outfile_new(hp, &oh, &err) || moelab_outfile_new(gp, &og, &err)) {
      moelab_outfile_free(om);
      moelab_outfile_free(oh);
      free(rows);
      rc = cli_fail(C, &err, 0);
      goto done;
    }
    FILE *fm = moelab_outfile_stream(om), *fh = moelab_outfile_stream(oh);
    paper_figure(moelab_outfile_stream(og), "..");
    fprintf(fm, "# moelab reproduce%s\n\n", quick ? " --quick" : "");
    fprintf(fm, "Sigmoid vs softmax gating in mixture-of-experts regression: expert estimation rates, measured by "
                "moelab %s (%ld s).  Each cell: the empirical slope of the expert rate (max_j e_j, or the loss Lbar "
                "for sigmoid in Regime 2) against n with its 95%% bootstrap interval, and the verdict against the "
                "theory (docs/theory.md §4).\n\n",
            moelab_version(), (long)(time(NULL) - t0));
    fprintf(fh, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>moelab reproduce</title>"
                "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
                "td,th{border:1px solid #999;padding:4px 8px}.bad{color:#b00}</style></head><body>\n"
                "<h1>moelab reproduce%s</h1>\n<h2>Rate table</h2>\n<table><tr><th></th><th>ReLU, GELU</th>"
                "<th>polynomial</th><th>input-independent</th></tr>\n",
            quick ? " --quick" : "");
    fprintf(fm, "## Rate table: theory | measured\n\n| | ReLU, GELU (GELU) | polynomial (linear) | input-independent (constant) |\n|---|---|---|---|\n");
    const char *cols[3] = {"gelu", "linear", "constant"};
    int agree = 0, cells = 0;
    for (int regime = 1; regime <= 2; regime++)
      for (int g = 0; g < 2; g++) {
        const char *gate = g ? "softmax" : "sigmoid";
        fprintf(fm, "| Regime %d, %s |", regime, gate);
        fprintf(fh, "<tr><th>Regime %d, %s</th>", regime, gate);
        for (int c = 0; c < 3; c++) {
          char preset[64], txt[160];
          snprintf(preset, sizeof preset, "%s-regime%d", cols[c], regime);
          const srow *r = find(rows, nr, preset, "matched", gate, "expert_rate");
          cell_text(r, txt, sizeof txt);
          const char *th = r ? r->theory : "?";
          fprintf(fm, " %s \\| %s |", th, txt);
          fprintf(fh, "<td%s>%s<br>%s</td>", r && strcmp(r->verdict, "agrees") ? " class='bad'" : "", th, txt);
          if (r) {
            cells++;
            agree += strcmp(r->verdict, "agrees") == 0;
          }
        }
        fprintf(fm, "\n");
        fprintf(fh, "</tr>\n");
      }
    fprintf(fm, "\n%d of %d cells agree with the theory.\n\n", agree, cells);
    fprintf(fh, "</table><p>%d of %d cells agree with the theory.</p>\n", agree, cells);
    /* the headline: in Regime 2, sigmoid's expert rate falls faster than softmax's, with disjoint
     * intervals, where the theory says so: GELU and tanh (strongly identifiable), linear (polynomial) */
    {
      const char *fam[3] = {"gelu", "tanh", "linear"};
      int header = 0;
      for (int c = 0; c < 3; c++) {
        char preset[64];
        snprintf(preset, sizeof preset, "%s-regime2", fam[c]);
        const srow *sg = find(rows, nr, preset, "matched", "sigmoid", "expert_rate");
        const srow *sm = find(rows, nr, preset, "matched", "softmax", "expert_rate");
        if (!sg || !sm) continue;
        if (!header) {
          fprintf(fm, "Regime 2, sigmoid faster than softmax (expert-rate slope below, 95%% intervals disjoint):\n\n");
          fprintf(fh, "<p>Regime 2, sigmoid faster than softmax (expert-rate slope below, 95%% intervals disjoint):</p><ul>\n");
          header = 1;
        }
        int yes = sg->hi < sm->lo;
        const char *word = yes ? "yes" : sg->slope < sm->slope ? "below, intervals overlap" : "no";
        fprintf(fm, "- %s: sigmoid %.2f [%.2f, %.2f], softmax %.2f [%.2f, %.2f]: %s\n", preset, sg->slope, sg->lo, sg->hi,
                sm->slope, sm->lo, sm->hi, word);
        fprintf(fh, "<li%s>%s: sigmoid %.2f [%.2f, %.2f], softmax %.2f [%.2f, %.2f]: %s</li>\n", yes ? "" : " class='bad'",
                preset, sg->slope, sg->lo, sg->hi, sm->slope, sm->lo, sm->hi, word);
      }
      if (header) {
        fprintf(fm, "\n");
        fprintf(fh, "</ul>\n");
      }
    }
    /* the other strongly identifiable families, and convergence counts */
    fprintf(fm, "## Every preset\n\n| preset | gate | protocol | expert rate slope | theory | verdict | fits | converged | failed | regression error slope |\n|---|---|---|---|---|---|---|---|---|---|\n");
    fprintf(fh, "<h2>Every preset</h2><table><tr><th>preset</th><th>gate</th><th>protocol</th><th>expert rate slope</th>"
                "<th>theory</th><th>verdict</th><th>fits</th><th>converged</th><th>failed</th><th>regression error slope</th></tr>\n");
    for (size_t i = 0; i < nr; i++) {
      const srow *r = &rows[i];
      if (strcmp(r->quantity, "expert_rate")) continue;
      const srow *l2 = find(rows, nr, r->preset, r->protocol, r->gate, "l2_ref");
      char l2t[80] = "-";
      if (l2) snprintf(l2t, sizeof l2t, "%.2f [%.2f, %.2f]", l2->slope, l2->lo, l2->hi);
      fprintf(fm, "| %s | %s | %s | %.3f [%.3f, %.3f] | %s | %s | %ld | %ld | %ld | %s |\n", r->preset, r->gate,
              r->protocol, r->slope, r->lo, r->hi, r->theory, r->verdict, r->fits, r->converged, r->failed, l2t);
      fprintf(fh, "<tr><td><a href='%s/summary.md'>%s</a></td><td>%s</td><td>%s</td><td>%.3f [%.3f, %.3f]</td><td>%s</td>"
                  "<td%s>%s</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%s</td></tr>\n",
              r->preset, r->preset, r->gate, r->protocol, r->slope, r->lo, r->hi, r->theory,
              strcmp(r->verdict, "agrees") ? " class='bad'" : "", r->verdict, r->fits, r->converged, r->failed, l2t);
    }
    fprintf(fh, "</table>\n");
    fprintf(fm, "\nThe details of each preset (every quantity, stop reasons, Gbar, sample-size ratios) are in "
                "`<preset>/summary.md`; the rows of every fit in `<preset>/results.csv`.\n\n");
    /* the diagnostics of every curve that disagrees */
    {
      int any = 0;
      for (size_t i = 0; i < nr; i++) {
        const srow *r = &rows[i];
        if (strcmp(r->quantity, "expert_rate") || !strcmp(r->verdict, "agrees")) continue;
        if (!any) {
          fprintf(fm, "## Diagnostics of the curves that disagree\n\n");
          fprintf(fh, "<h2>Diagnostics of the curves that disagree</h2><ul>\n");
          any = 1;
        }
        diagnose(fm, fh, out, r);
      }
      if (any) {
        fprintf(fm, "\nCauses are named by fixed rules (docs/studies.md, \"Diagnostics\"): more than %g%% of the fits "
                    "not converged, or on Θ's boundary more than %g%%; local slopes of the two halves of the grid "
                    "differing by more than %g; a canonical D1 steeper than the raw D1 by more than %g.\n\n",
                100 * DIAG_UNCONVERGED, 100 * DIAG_AT_BOUND, DIAG_BEND, DIAG_CANONICAL);
        fprintf(fh, "</ul>\n");
      }
    }
    fprintf(fm, "## Figures\n\n![same data](figure-same-data.svg)\n\n");
    fprintf(fh, "<h2>Figures</h2><p><img src='figure-same-data.svg' width='1100'></p>\n");
    for (size_t i = 0; i < nn; i++) {
      char f[4400];
      snprintf(f, sizeof f, "%s/%s/figures/%s-matched.svg", out, names[i], names[i]);
      if (stat(f, &sb) != 0) continue;
      fprintf(fm, "![%s](%s/figures/%s-matched.svg)\n", names[i], names[i], names[i]);
      fprintf(fh, "<p><img src='%s/figures/%s-matched.svg' width='720'></p>\n", names[i], names[i]);
    }
    fprintf(fh, "</body></html>\n");
    int bad = moelab_outfile_commit(om, &err) || moelab_outfile_commit(oh, &err) || moelab_outfile_commit(og, &err);
    moelab_outfile_free(om);
    moelab_outfile_free(oh);
    moelab_outfile_free(og);
    free(rows);
    if (bad) {
      rc = cli_fail(C, &err, 0);
      goto done;
    }
    if (figures) {
      /* the paper's figure script refers to ../PRESET/figures: run it from a subdirectory */
      char sub[4400], cmdline[9000];
      snprintf(sub, sizeof sub, "%s/figures", out);
      mkdir(sub, 0777);
      snprintf(cmdline, sizeof cmdline,
               "cd '%s' && command -v gnuplot >/dev/null 2>&1 && gnuplot ../figure-same-data.gp 2>/dev/null && "
               "mv figure-same-data.svg figure-same-data.png .. 2>/dev/null",
               sub);
      if (system(cmdline) != 0) cli_msg(C, "the same-data figure was not drawn (gnuplot missing, or a panel not run)");
    }
    printf("moelab reproduce: %d of %d rate-table cells agree; report in %s/report.md and %s/report.html\n", agree,
           cells, out, out);
  }
  rc = EXIT_OK;
done:
  for (size_t i = 0; i < nn; i++) free(names[i]);
  return rc;
}

const cli_command cmd_reproduce = {
    "reproduce", "moelab reproduce [--quick] [--out DIR] [--threads T]",
    "Run every study preset and write one report: the measured rate table beside the theory's, every preset's "
    "slopes and convergence, and the figures.",
    "Presets come from the studies directory ($MOELAB_STUDIES, or the installed one). A preset already run into "
    "DIR is resumed, so an interrupted reproduction continues where it stopped.",
    opts, run};
