/*
 * reproduce.c — `moelab reproduce`: every preset, then one report with the
 * measured rate table beside the theory's, the figures and the paper's
 * two-panel figure (sigmoid vs softmax under the same data).
 */
#include "commands.h"
#include "study_util.h"

#include <dirent.h>
#include <math.h>
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
