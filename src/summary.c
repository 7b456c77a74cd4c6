/*
 * summary.c — the summary of a study's results: empirical slopes with
 * bootstrap intervals, log-rate fits, the theoretical rates of
 * docs/theory.md §4 and verdicts, sample-size ratios, and the data and
 * gnuplot scripts of the figures.
 *
 * Verdict rule (docs/studies.md): a quantity whose theory is n^-1/2 or
 * n^-1/4 agrees when the theoretical slope lies in the 95% bootstrap interval
 * of the fitted slope; one whose theory is 1/log n agrees when the fit
 * C (log n)^-λ describes the means better than a power law, or when the
 * slope lies in [-0.15, 0].  Fits that failed (NaN) are left out of the
 * slopes and counted; unconverged fits are kept and counted.
 */
#include "study_internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const base_quantities[] = {"expert_rate", "expert_rate_exact", "expert_rate_over",
                                              "expert_rate_unweighted", "l2_truth", "l2_ref"};

typedef struct qfit {
  int ok;
  moelab_rate_result r;
  size_t used;
} qfit;

static int verdict(const char *theory, const moelab_rate_result *r) {
  if (!theory) return -1;
  if (strcmp(theory, "n^-1/2") == 0) return r->ci_low <= -0.5 && -0.5 <= r->ci_high;
  if (strcmp(theory, "n^-1/4") == 0) return r->ci_low <= -0.25 && -0.25 <= r->ci_high;
  return r->prefer_log || (r->slope >= -0.15 && r->slope <= 0.0);
}

/* Rate of column `col` over the rows of one curve. */
static int fit_column(const moelab_table *t, const size_t *rows, size_t nr, long ncol, long col, uint64_t seed,
                      qfit *q) {
  memset(q, 0, sizeof *q);
  double *x = malloc((nr + 1) * sizeof(double)), *y = malloc((nr + 1) * sizeof(double));
  if (!x || !y) {
    free(x);
    free(y);
    return MOELAB_ENOMEM;
  }
  size_t m = 0;
  for (size_t i = 0; i < nr; i++) {
    const char *sx = t->cells[rows[i] * t->ncol + (size_t)ncol], *sy = t->cells[rows[i] * t->ncol + (size_t)col];
    char *e1, *e2;
    double vx = strtod(sx, &e1), vy = strtod(sy, &e2);
    if (*e1 || *e2 || !isfinite(vy) || !(vy >= 0)) continue; /* exact zeros count towards the means */
    x[m] = vx;
    y[m] = vy;
    m++;
  }
  moelab_rate_options ro;
  moelab_rate_options_init(&ro);
  ro.seed = seed;
  q->used = m;
  q->ok = m >= 2 && moelab_rate_fit(x, y, m, &ro, &q->r, NULL) == MOELAB_OK;
  free(x);
  free(y);
  return MOELAB_OK;
}

/* A row's sort key: the order of a single-threaded run (decreasing n, then task id), so that the
 * bootstrap intervals do not depend on the order in which rows were written (threads, ranks, merges). */
typedef struct row_key {
  double n;
  const char *id;
  size_t row;
} row_key;

static int cmp_row_key(const void *a, const void *b) {
  const row_key *x = a, *y = b;
  if (x->n != y->n) return x->n < y->n ? 1 : -1;
  int c = strcmp(x->id, y->id);
  if (c) return c;
  return x->row < y->row ? -1 : x->row > y->row;
}

typedef struct curve_rows {
  int protocol;
  moelab_gate gate;
  size_t *rows, nr;
  size_t converged, failed;
} curve_rows;

/* %.3f, or "-" for a missing value. */
static void fmt(double v, char *b) {
  if (isfinite(v))
    snprintf(b, 32, "%.3f", v);
  else
    snprintf(b, 32, "-");
}

int moelab_study_summarise(const moelab_study *s, const char *out_dir, moelab_error *err) {
  if (!s || !out_dir) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  char path[4200];
  snprintf(path, sizeof path, "%s/results.csv", out_dir);
  moelab_table *t = NULL;
  int st = moelab_table_read_file(path, &t, err);
  if (st) return st;
  long c_proto = moelab_table_column(t, "protocol"), c_gate = moelab_table_column(t, "gate");
  long c_n = moelab_table_column(t, "n"), c_conv = moelab_table_column(t, "converged");
  long c_stop = moelab_table_column(t, "stop");
  if (c_proto < 0 || c_gate < 0 || c_n < 0 || c_conv < 0 || c_stop < 0) {
    moelab_table_free(t);
    return ml_fail(err, MOELAB_EPARSE, path, 1, NULL, "not a results file of a study");
  }
  /* quantities: the base ones and every loss column */
  const char *quant[32];
  size_t nq = 0;
  for (size_t i = 0; i < sizeof base_quantities / sizeof base_quantities[0]; i++) quant[nq++] = base_quantities[i];
  for (size_t j = 0; j < t->ncol && nq < 32; j++)
    if (strncmp(t->names[j], "loss_", 5) == 0) quant[nq++] = t->names[j];
  curve_rows cr[4];
  memset(cr, 0, sizeof cr);
  for (int i = 0; i < 4; i++) {
    cr[i].protocol = i < 2 ? PROTO_MATCHED : PROTO_SAME;
    cr[i].gate = i % 2 ? MOELAB_GATE_SOFTMAX : MOELAB_GATE_SIGMOID;
    cr[i].rows = malloc((t->nrow + 1) * sizeof(size_t));
    if (!cr[i].rows) {
      st = ml_nomem(err);
      goto out;
    }
  }
  for (size_t r = 0; r < t->nrow; r++) {
    const char *p = t->cells[r * t->ncol + (size_t)c_proto], *g = t->cells[r * t->ncol + (size_t)c_gate];
    int ci = (strcmp(p, "same-data") == 0 ? 2 : 0) + (strcmp(g, "softmax") == 0);
    cr[ci].rows[cr[ci].nr++] = r;
    if (strcmp(t->cells[r * t->ncol + (size_t)c_conv], "1") == 0) cr[ci].converged++;
    if (strcmp(t->cells[r * t->ncol + (size_t)c_stop], "failed") == 0) cr[ci].failed++;
  }
  long c_task = moelab_table_column(t, "task");
  if (c_task >= 0) {
    row_key *keys = malloc((t->nrow + 1) * sizeof *keys);
    if (!keys) {
      st = ml_nomem(err);
      goto out;
    }
    for (int ci = 0; ci < 4; ci++) {
      for (size_t i = 0; i < cr[ci].nr; i++) {
        size_t r = cr[ci].rows[i];
        keys[i].n = strtod(t->cells[r * t->ncol + (size_t)c_n], NULL);
        keys[i].id = t->cells[r * t->ncol + (size_t)c_task];
        keys[i].row = r;
      }
      qsort(keys, cr[ci].nr, sizeof *keys, cmp_row_key);
      for (size_t i = 0; i < cr[ci].nr; i++) cr[ci].rows[i] = keys[i].row;
    }
    free(keys);
  }
  char csvp[4200], mdp[4200], figdir[4200];
  snprintf(csvp, sizeof csvp, "%s/summary.csv", out_dir);
  snprintf(mdp, sizeof mdp, "%s/summary.md", out_dir);
  snprintf(figdir, sizeof figdir, "%s/figures", out_dir);
  moelab_outfile *csv = NULL, *md = NULL;
  if ((st = moelab_outfile_new(csvp, &csv, err)) || (st = moelab_outfile_new(mdp, &md, err))) {
    moelab_outfile_free(csv);
    goto out;
  }
  FILE *fc = moelab_outfile_stream(csv), *fm = moelab_outfile_stream(md);
  fprintf(fc, "preset,protocol,gate,regime,expert,class,quantity,slope,ci_low,ci_high,lambda,prefers,theory,verdict,"
              "fits,converged,failed,n_min,n_max\n");
  fprintf(fm, "# %s\n\n%s\n\n", s->name, s->description);
  fprintf(fm, "Truth: %s gate, %s experts, k* = %zu, fitted k = %zu, Regime %d (%s column), d = %zu, noise "
              "variance %g.  Grid: %zu sizes from %zu to %zu, %zu replicates%s.\n\n",
          moelab_gate_name(s->truth->gate), moelab_expert_name(s->truth->expert), s->truth->k, s->k, s->regime,
          study_class_name(s->cls), s->truth->d, s->truth->noise, s->nn, s->ns[0], s->ns[s->nn - 1], s->replicates,
          s->quick ? " (quick run)" : "");
  /* per curve fits, kept for the figures and the sample-size ratio */
  qfit fits[4][32];
  memset(fits, 0, sizeof fits);
  for (int ci = 0; ci < 4; ci++) {
    if (!cr[ci].nr) continue;
    const char *proto = study_protocol_name(cr[ci].protocol), *gate = moelab_gate_name(cr[ci].gate);
    fprintf(fm, "## %s gate, %s protocol\n\n", gate, proto);
    fprintf(fm, "%zu fits: %zu converged, %zu not converged, %zu failed (left out of the slopes).", cr[ci].nr,
            cr[ci].converged, cr[ci].nr - cr[ci].converged - cr[ci].failed, cr[ci].failed);
    {
      /* stop reasons and parameters on Θ's boundary */
      const char *names[12];
      size_t counts[12], nn = 0, at_bound = 0;
      long c_ab = moelab_table_column(t, "n_at_bound");
      for (size_t i = 0; i < cr[ci].nr; i++) {
        const char *stp = t->cells[cr[ci].rows[i] * t->ncol + (size_t)c_stop];
        size_t j = 0;
        while (j < nn && strcmp(names[j], stp)) j++;
        if (j == nn && nn < 12) {
          names[nn] = stp;
          counts[nn++] = 0;
        }
        if (j < nn) counts[j]++;
        if (c_ab >= 0 && atof(t->cells[cr[ci].rows[i] * t->ncol + (size_t)c_ab]) > 0) at_bound++;
      }
      fprintf(fm, "  Stop reasons:");
      for (size_t j = 0; j < nn; j++) fprintf(fm, "%s %s %zu", j ? "," : "", names[j], counts[j]);
      fprintf(fm, ".  Fits with a parameter on the boundary of Θ: %zu.\n\n", at_bound);
    }
    fprintf(fm, "| quantity | slope | 95%% interval | λ of C (log n)^-λ | preferred | theory | verdict |\n");
    fprintf(fm, "|---|---|---|---|---|---|---|\n");
    for (size_t qi = 0; qi < nq; qi++) {
      long col = moelab_table_column(t, quant[qi]);
      if (col < 0) continue;
      if ((st = fit_column(t, cr[ci].rows, cr[ci].nr, c_n, col, s->seed, &fits[ci][qi]))) {
        st = ml_nomem(err);
        moelab_outfile_free(csv);
        moelab_outfile_free(md);
        goto out;
      }
      qfit *q = &fits[ci][qi];
      if (!q->ok) continue;
      const char *th = study_theory(s, cr[ci].gate, cr[ci].protocol, quant[qi]);
      int v = verdict(th, &q->r);
      char b1[32], b2[32], b3[32], b4[32];
      fmt(q->r.slope, b1);
      fmt(q->r.ci_low, b2);
      fmt(q->r.ci_high, b3);
      fmt(q->r.lambda, b4);
      fprintf(fm, "| %s%s%s | %s | [%s, %s] | %s | %s | %s | %s |\n", strcmp(quant[qi], "expert_rate") == 0 ? "**" : "",
              quant[qi], strcmp(quant[qi], "expert_rate") == 0 ? "**" : "", b1, b2, b3, b4,
              q->r.prefer_log ? "C (log n)^-λ" : "power law", th ? th : "-", v < 0 ? "-" : v ? "agrees" : "DISAGREES");
      if (th)
        fprintf(fc, "%s,%s,%s,%d,%s,%s,%s,%.6g,%.6g,%.6g,%.6g,%s,%s,%s,%zu,%zu,%zu,%.0f,%.0f\n", s->name, proto, gate,
                s->regime, moelab_expert_name(s->truth->expert), study_class_name(s->cls), quant[qi], q->r.slope,
                q->r.ci_low, q->r.ci_high, q->r.lambda, q->r.prefer_log ? "log" : "power", th,
                v ? "agrees" : "disagrees", cr[ci].nr, cr[ci].converged, cr[ci].failed, q->r.n[0],
                q->r.n[q->r.groups - 1]);
    }
    fprintf(fm, "\n");
  }
  /* sample efficiency: the n each gate needs to reach the same expert rate */
  fprintf(fm, "## Sample efficiency\n\n");
  for (int proto = PROTO_MATCHED; proto <= PROTO_SAME; proto <<= 1) {
    /* same-data compares the data gate's matched curve with the other gate's same-data curve */
    int a = proto == PROTO_MATCHED ? 0 : (s->truth->gate == MOELAB_GATE_SIGMOID ? 0 : 2);
    int b = proto == PROTO_MATCHED ? 1 : (s->truth->gate == MOELAB_GATE_SIGMOID ? 3 : 1);
    if (proto == PROTO_SAME && !(s->protocols & PROTO_SAME)) continue;
    if (!fits[a][0].ok || !fits[b][0].ok) continue;
    const moelab_rate_result *ra = &fits[a][0].r, *rb = &fits[b][0].r;
    /* the target: the larger of the two fitted values at the largest n of the grid */
    double nmax = ra->n[ra->groups - 1];
    double va = ra->prefer_log ? exp(ra->log_c - ra->lambda * log(log(nmax))) : exp(ra->intercept + ra->slope * log(nmax));
    double vb = rb->prefer_log ? exp(rb->log_c - rb->lambda * log(log(nmax))) : exp(rb->intercept + rb->slope * log(nmax));
    double eps = va > vb ? va : vb;
    double na = moelab_rate_n_for(ra, eps, ra->prefer_log), nb = moelab_rate_n_for(rb, eps, rb->prefer_log);
    fprintf(fm, "%s protocol: to reach an expert rate of %.4g, the sigmoid gate needs n ≈ %.4g and the softmax gate "
                "n ≈ %.4g (from each curve's preferred fit): ratio softmax/sigmoid = %.3g.\n\n",
            study_protocol_name(proto), eps, na, nb, nb / na);
  }
  /* the reference measures Ḡ used by the curves */
  {
    char rdir[4300];
    snprintf(rdir, sizeof rdir, "%s/references", out_dir);
    DIR *d = opendir(rdir);
    if (d) {
      struct dirent *e;
      int header = 0;
      while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json")) continue;
        char rp[4600];
        snprintf(rp, sizeof rp, "%s/%s", rdir, e->d_name);
        moelab_model *g = NULL;
        if (moelab_model_read_file(rp, &g, NULL) || !g->extra) {
          moelab_model_free(g);
          continue;
        }
        cJSON *x = cJSON_Parse(g->extra);
        const cJSON *r = x ? cJSON_GetObjectItemCaseSensitive(x, "reference") : NULL;
        if (r) {
          if (!header) {
            fprintf(fm, "## Reference measures Ḡ\n\n| curve | gate | relative distance to f_G* | atoms switched off | "
                        "contributions ‖g_i h_i‖ | smallest eigenvalues of JᵀJ / largest | degenerate |\n|---|---|---|---|---|---|---|\n");
            header = 1;
          }
          const cJSON *rel = cJSON_GetObjectItemCaseSensitive(r, "relative_distance");
          const cJSON *off = cJSON_GetObjectItemCaseSensitive(r, "switched_off");
          const cJSON *con = cJSON_GetObjectItemCaseSensitive(r, "contributions");
          const cJSON *eig = cJSON_GetObjectItemCaseSensitive(r, "smallest_eigenvalues");
          const cJSON *deg = cJSON_GetObjectItemCaseSensitive(r, "degenerate");
          char tag[256];
          snprintf(tag, sizeof tag, "%.*s", (int)(strrchr(e->d_name, '-') ? strrchr(e->d_name, '-') - e->d_name : (long)l), e->d_name);
          fprintf(fm, "| %s | %s | %.3g | %d |", tag, moelab_gate_name(g->gate), cJSON_IsNumber(rel) ? rel->valuedouble : NAN,
                  cJSON_IsNumber(off) ? (int)off->valuedouble : -1);
          for (const cJSON *c2 = con ? con->child : NULL; c2; c2 = c2->next) fprintf(fm, " %.3g", c2->valuedouble);
          fprintf(fm, " |");
          for (const cJSON *c2 = eig ? eig->child : NULL; c2; c2 = c2->next) fprintf(fm, " %.2g", c2->valuedouble);
          fprintf(fm, " | %s |\n", cJSON_IsTrue(deg) ? "yes (non-isolated minimum)" : "no");
        }
        cJSON_Delete(x);
        moelab_model_free(g);
      }
      closedir(d);
      if (header) fprintf(fm, "\n");
    }
  }
  fprintf(fm, "Verdict rule: n^-1/2 and n^-1/4 agree when the theoretical slope lies in the 95%% bootstrap "
              "interval; 1/log n agrees when C (log n)^-λ fits the means better than a power law or the slope lies "
              "in [-0.15, 0].  Figures: figures/%s-*.svg.\n",
          s->name);
  /* figure data and scripts: the expert rate of each protocol, both gates */
  {
    moelab_error e2;
    char dpath[4300];
    snprintf(dpath, sizeof dpath, "%s", figdir);
    if (mkdir(dpath, 0777) != 0 && access(dpath, F_OK) != 0) {
      st = ml_fail(err, MOELAB_EIO, dpath, 0, NULL, "cannot create the directory");
      moelab_outfile_free(csv);
      moelab_outfile_free(md);
      goto out;
    }
    for (int proto = PROTO_MATCHED; proto <= PROTO_SAME; proto <<= 1) {
      int sig = proto == PROTO_MATCHED ? 0 : (s->truth->gate == MOELAB_GATE_SIGMOID ? 0 : 2);
      int smx = proto == PROTO_MATCHED ? 1 : (s->truth->gate == MOELAB_GATE_SIGMOID ? 3 : 1);
      if (proto == PROTO_SAME && !(s->protocols & PROTO_SAME)) continue;
      if (!fits[sig][0].ok && !fits[smx][0].ok) continue;
      char base[256], dat[4600], gp[4600];
      snprintf(base, sizeof base, "%s-%s", s->name, study_protocol_name(proto));
      snprintf(dat, sizeof dat, "%s/%s.dat", figdir, base);
      snprintf(gp, sizeof gp, "%s/%s.gp", figdir, base);
      moelab_outfile *od = NULL, *og = NULL;
      if (moelab_outfile_new(dat, &od, &e2) || moelab_outfile_new(gp, &og, &e2)) {
        moelab_outfile_free(od);
        continue;
      }
      FILE *fd = moelab_outfile_stream(od), *fg = moelab_outfile_stream(og);
      int idx[2] = {sig, smx};
      for (int g = 0; g < 2; g++) {
        fprintf(fd, "# %s gate: n mean lower upper (mean ± 1.96 sd/sqrt(replicates))\n", g ? "softmax" : "sigmoid");
        if (fits[idx[g]][0].ok) {
          const moelab_rate_result *r = &fits[idx[g]][0].r;
          for (size_t i = 0; i < r->groups; i++) {
            double h = 1.96 * r->sd[i] / sqrt((double)r->count[i]);
            double lo = r->mean[i] - h > r->mean[i] * 0.05 ? r->mean[i] - h : r->mean[i] * 0.05;
            fprintf(fd, "%.10g %.10g %.10g %.10g\n", r->n[i], r->mean[i], lo, r->mean[i] + h);
          }
        } else {
          fprintf(fd, "nan nan nan nan\n");
        }
        fprintf(fd, "\n\n");
      }
      fprintf(fg, "# %s: expert rate against n, %s protocol.  Edit and run: gnuplot %s.gp\n", s->name,
              study_protocol_name(proto), base);
      fprintf(fg, "set logscale xy\nset xlabel 'n'\nset ylabel 'expert rate (mean over replicates)'\n");
      fprintf(fg, "set title '%s (%s protocol)' noenhanced\nset key top right\nset grid\n", s->name,
              study_protocol_name(proto));
      fprintf(fg, "set style line 1 lc rgb '#1f5fbf' pt 7 ps 0.8 lw 1.5\nset style line 2 lc rgb '#2ca02c' pt 5 ps 0.8 lw 1.5\n");
      fprintf(fg, "set style line 3 lc rgb '#d62728' dt 4 lw 2\n");
      char plot[2048] = "plot ";
      size_t pl = strlen(plot);
      for (int g = 0; g < 2; g++) {
        if (!fits[idx[g]][0].ok) continue;
        const moelab_rate_result *r = &fits[idx[g]][0].r;
        fprintf(fg, "f%d(x) = exp(%.10g) * x**(%.10g)\n", g, r->intercept, r->slope);
        pl += (size_t)snprintf(plot + pl, sizeof plot - pl,
                               "%s'%s.dat' index %d using 1:2:3:4 with yerrorbars ls %d title '%s', \\\n"
                               "     f%d(x) with lines ls 3 title '%s slope %.2f'",
                               pl > 5 ? ", \\\n     " : "", base, g, g + 1, g ? "softmax" : "sigmoid", g,
                               g ? "softmax" : "sigmoid", r->slope);
      }
      fprintf(fg, "set terminal svg size 720,520 dynamic font 'Helvetica,12'\nset output '%s.svg'\n%s\n", base, plot);
      fprintf(fg, "set terminal pngcairo size 720,520 font 'Helvetica,10'\nset output '%s.png'\nreplot\nunset output\n",
              base);
      if (moelab_outfile_commit(od, &e2) || moelab_outfile_commit(og, &e2)) { /* figures are optional */
      }
      moelab_outfile_free(od);
      moelab_outfile_free(og);
    }
  }
  if ((st = moelab_outfile_commit(csv, err)) || (st = moelab_outfile_commit(md, err))) {
    moelab_outfile_free(csv);
    moelab_outfile_free(md);
    goto out;
  }
  moelab_outfile_free(csv);
  moelab_outfile_free(md);
  for (int ci = 0; ci < 4; ci++)
    for (size_t qi = 0; qi < 32; qi++)
      if (fits[ci][qi].ok) moelab_rate_result_clear(&fits[ci][qi].r);
out:
  for (int i = 0; i < 4; i++) free(cr[i].rows);
  moelab_table_free(t);
  return st;
}
