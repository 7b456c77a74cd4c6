/*
 * study.c — study files, their task lists and the parallel, resumable runner.
 *
 * A task is one fit: (protocol, gate, n, replicate).  Its data come from the
 * random streams keyed by (seed, data stream of (n, replicate)), the same for
 * every gate (the common random numbers of the matched protocol), and its
 * restarts from (seed, fit stream of (protocol, gate, n, replicate) + r).
 * Rows are appended to results.csv and flushed one by one; a resumed run
 * drops a partial last line and skips the tasks already there.
 */
#include "json_internal.h"
#include "study_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- names */

const char *study_class_name(study_class c) {
  switch (c) {
  case CLASS_STRONG: return "relu-gelu";
  case CLASS_POLY: return "polynomial";
  case CLASS_CONST: return "input-independent";
  }
  return "?";
}

const char *study_protocol_name(int protocol) { return protocol == PROTO_SAME ? "same-data" : "matched"; }

void study_loss_column(const moelab_loss_spec *spec, char *buf, size_t size) {
  char name[40];
  moelab_loss_name(spec, name);
  for (char *c = name; *c; c++)
    if (*c == ':') *c = '_';
  snprintf(buf, size, "loss_%s", name);
}

const char *study_theory(const moelab_study *s, moelab_gate gate, int protocol, const char *q) {
  const char *expert;
  if (s->k == s->truth->k) /* exactly specified: every atom at the parametric rate */
    expert = "n^-1/2";
  else if (gate == MOELAB_GATE_SIGMOID && s->regime == 2)
    expert = s->cls == CLASS_CONST ? "1/log n" : "n^-1/2";
  else
    expert = s->cls == CLASS_STRONG ? "n^-1/4" : "1/log n";
  if (strcmp(q, "expert_rate") == 0) return expert;
  if (strcmp(q, "l2_ref") == 0) return "n^-1/2";
  if (strcmp(q, "l2_truth") == 0) {
    /* the regression function converges to f_G* when the reference is G* itself */
    int ref_is_truth = protocol == PROTO_MATCHED ? !(gate == MOELAB_GATE_SIGMOID && s->regime == 2)
                                                  : gate == s->truth->gate && !(gate == MOELAB_GATE_SIGMOID && s->regime == 2);
    return ref_is_truth ? "n^-1/2" : NULL;
  }
  if (strncmp(q, "loss_", 5) != 0 || strstr(q, "canonical") || strncmp(q, "loss_D2", 7) == 0) return NULL;
  /* D3 scores every cell at power 1: the atoms' own rate, even in a cell of several atoms */
  if (strcmp(q, "loss_D3") == 0) return expert;
  /* L̄ is defined against G* plus switched-off atoms: exact fits and sigmoid Regime 2 only (with
   * split atoms, as in Regime 1 or for softmax, the weakest atoms are not switched off and L̄ does
   * not tend to 0) */
  if (strcmp(q, "loss_Lbar") == 0)
    return s->k == s->truth->k || (gate == MOELAB_GATE_SIGMOID && s->regime == 2) ? expert : NULL;
  /* D1 (r = 2): over-specified atoms at power 2, n^-1/2 when the experts are strongly identifiable */
  return strcmp(expert, "1/log n") == 0 ? "1/log n" : "n^-1/2";
}

/* ------------------------------------------------------------ reading */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static int read_grid(const ml_jctx *c, const cJSON *item, const char *path, moelab_study *s) {
  if (cJSON_IsArray(item)) {
    size_t m = (size_t)cJSON_GetArraySize(item);
    if (m < 2 || m > STUDY_MAX_N)
      return ml_jfail(c, MOELAB_EINVAL, path, "the n grid needs 2 to %d sizes, found %zu", STUDY_MAX_N, m);
    size_t i = 0;
    for (const cJSON *e = item->child; e; e = e->next, i++) {
      char p[96];
      snprintf(p, sizeof p, "%s[%zu]", path, i);
      long v;
      int st = ml_j_get_int(c, e, p, 2, MOELAB_MAX_ROWS, &v);
      if (st) return st;
      s->ns[i] = (size_t)v;
      if (i > 0 && s->ns[i] <= s->ns[i - 1]) return ml_jfail(c, MOELAB_EINVAL, p, "sizes must increase");
    }
    s->nn = m;
    return MOELAB_OK;
  }
  if (!cJSON_IsObject(item))
    return ml_jfail(c, MOELAB_EPARSE, path, "expected a list of sizes or {\"from\", \"to\", \"count\"}");
  long from, to, count;
  char p[96];
  snprintf(p, sizeof p, "%s.from", path);
  int st = ml_j_get_int(c, cJSON_GetObjectItemCaseSensitive(item, "from"), p, 2, MOELAB_MAX_ROWS, &from);
  if (st) return st;
  snprintf(p, sizeof p, "%s.to", path);
  if ((st = ml_j_get_int(c, cJSON_GetObjectItemCaseSensitive(item, "to"), p, 2, MOELAB_MAX_ROWS, &to))) return st;
  snprintf(p, sizeof p, "%s.count", path);
  if ((st = ml_j_get_int(c, cJSON_GetObjectItemCaseSensitive(item, "count"), p, 2, STUDY_MAX_N, &count))) return st;
  if (to <= from) return ml_jfail(c, MOELAB_EINVAL, path, "\"to\" must exceed \"from\"");
  /* log-spaced, rounded to 3 significant digits */
  size_t m = 0;
  for (long i = 0; i < count; i++) {
    double v = (double)from * pow((double)to / (double)from, (double)i / (double)(count - 1));
    double mag = pow(10.0, floor(log10(v)) - 2);
    size_t n = (size_t)(round(v / mag) * mag);
    if (m == 0 || n > s->ns[m - 1]) s->ns[m++] = n;
  }
  if (m < 2) return ml_jfail(c, MOELAB_EINVAL, path, "the grid has fewer than 2 distinct sizes");
  s->nn = m;
  return MOELAB_OK;
}

static int read_box(const ml_jctx *c, const cJSON *item, moelab_box *b) {
  if (!cJSON_IsObject(item)) return ml_jfail(c, MOELAB_EPARSE, "box", "expected {\"beta0\": [lo, hi], ...}");
  const char *keys[3] = {"beta0", "beta1", "eta"};
  double *lo[3] = {&b->beta0_lo, &b->beta1_lo, &b->eta_lo}, *hi[3] = {&b->beta0_hi, &b->beta1_hi, &b->eta_hi};
  for (const cJSON *e = item->child; e; e = e->next)
    if (strcmp(e->string, "beta0") && strcmp(e->string, "beta1") && strcmp(e->string, "eta")) {
      char p[160];
      snprintf(p, sizeof p, "box.%s", e->string);
      return ml_jfail(c, MOELAB_EPARSE, p, "unknown member (expected beta0, beta1, eta)");
    }
  for (int i = 0; i < 3; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, keys[i]);
    if (!v) continue;
    char p[32];
    snprintf(p, sizeof p, "box.%s", keys[i]);
    double t[2];
    int st = ml_j_get_vector(c, v, p, 2, 0, t);
    if (st) return st;
    if (!(t[0] < t[1])) return ml_jfail(c, MOELAB_EINVAL, p, "expected [lo, hi] with lo < hi");
    *lo[i] = t[0];
    *hi[i] = t[1];
  }
  return MOELAB_OK;
}

static const char *const study_members[] = {"format", "version", "name", "description", "truth", "regime",
                                            "gates", "protocols", "k", "n", "replicates", "init", "restarts",
                                            "max_iter", "stat_tol", "kink_tol", "box", "losses", "reference", "seed", "quick"};

static int known_member(const char *key) {
  for (size_t i = 0; i < sizeof study_members / sizeof study_members[0]; i++)
    if (strcmp(key, study_members[i]) == 0) return 1;
  return 0;
}

/* The overridable members, read from `obj` (the study or its "quick" part). */
static int read_overrides(const ml_jctx *c, const cJSON *obj, moelab_study *s) {
  const cJSON *v;
  long x;
  int st;
  if ((v = cJSON_GetObjectItemCaseSensitive(obj, "n")) && (st = read_grid(c, v, "n", s))) return st;
  if ((v = cJSON_GetObjectItemCaseSensitive(obj, "replicates"))) {
    if ((st = ml_j_get_int(c, v, "replicates", 1, 100000, &x))) return st;
    s->replicates = (size_t)x;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(obj, "restarts"))) {
    if ((st = ml_j_get_int(c, v, "restarts", 1, 10000, &x))) return st;
    s->restarts = (size_t)x;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(obj, "max_iter"))) {
    if ((st = ml_j_get_int(c, v, "max_iter", 1, 100000000, &x))) return st;
    s->max_iter = (size_t)x;
  }
  return MOELAB_OK;
}

static int study_from_json(const ml_jctx *c, const cJSON *root, moelab_study *s) {
  if (!cJSON_IsObject(root)) return ml_jfail(c, MOELAB_EPARSE, "", "a study file must be a JSON object");
  int st = ml_j_check_duplicates(c, root, "");
  if (st) return st;
  for (const cJSON *e = root->child; e; e = e->next)
    if (!known_member(e->string)) return ml_jfail(c, MOELAB_EPARSE, e->string, "unknown study member");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (v && !(cJSON_IsString(v) && strcmp(v->valuestring, "moelab-study") == 0))
    return ml_jfail(c, MOELAB_EPARSE, "format", "expected \"moelab-study\"");
  long x;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "version"))) {
    if ((st = ml_j_get_int(c, v, "version", 1, 1000, &x))) return st;
    if (x != 1) return ml_jfail(c, MOELAB_EPARSE, "version", "unsupported study file version %ld (this is 1)", x);
  }
  const char *str;
  if ((st = ml_j_get_string(c, root, "name", "name", &str))) return st;
  if (!*str || strlen(str) > 64 || strspn(str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(str))
    return ml_jfail(c, MOELAB_EINVAL, "name", "the name must be 1 to 64 letters, digits, '-', '_' or '.'");
  if (!(s->name = ml_strdup(str))) return ml_nomem(c->err);
  v = cJSON_GetObjectItemCaseSensitive(root, "description");
  if (v && !cJSON_IsString(v)) return ml_jfail(c, MOELAB_EPARSE, "description", "expected a string");
  if (!(s->description = ml_strdup(v ? v->valuestring : ""))) return ml_nomem(c->err);
  /* the truth */
  v = cJSON_GetObjectItemCaseSensitive(root, "truth");
  if (!v) return ml_jfail(c, MOELAB_EPARSE, "", "missing member \"truth\" (a model object)");
  ml_jctx tc = *c;
  tc.prefix = "truth";
  if ((st = ml_j_model(&tc, v, &s->truth))) return st;
  if (!s->truth->has_input)
    return ml_jfail(c, MOELAB_EINVAL, "truth", "the truth needs an \"input\" law (data are simulated from it)");
  if (!s->truth->has_noise) s->truth->has_noise = 1; /* noise 0 */
  switch (s->truth->expert) {
  case MOELAB_EXPERT_LINEAR:
  case MOELAB_EXPERT_POLY: s->cls = CLASS_POLY; break;
  case MOELAB_EXPERT_CONSTANT: s->cls = CLASS_CONST; break;
  default: s->cls = CLASS_STRONG;
  }
  /* gates and protocols */
  s->gates[0] = MOELAB_GATE_SIGMOID;
  s->gates[1] = MOELAB_GATE_SOFTMAX;
  s->ngates = 2;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "gates"))) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > 2)
      return ml_jfail(c, MOELAB_EPARSE, "gates", "expected [\"sigmoid\"], [\"softmax\"] or both");
    s->ngates = 0;
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
      char p[32];
      snprintf(p, sizeof p, "gates[%zu]", i);
      moelab_gate g;
      if (!cJSON_IsString(e) || moelab_gate_parse(e->valuestring, &g))
        return ml_jfail(c, MOELAB_EPARSE, p, "expected \"sigmoid\" or \"softmax\"");
      if (s->ngates == 1 && s->gates[0] == g) return ml_jfail(c, MOELAB_EINVAL, p, "gate listed twice");
      s->gates[s->ngates++] = g;
    }
  }
  s->protocols = PROTO_MATCHED;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "protocols"))) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
      return ml_jfail(c, MOELAB_EPARSE, "protocols", "expected [\"matched\"], [\"same-data\"] or both");
    s->protocols = 0;
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
      char p[32];
      snprintf(p, sizeof p, "protocols[%zu]", i);
      if (cJSON_IsString(e) && strcmp(e->valuestring, "matched") == 0)
        s->protocols |= PROTO_MATCHED;
      else if (cJSON_IsString(e) && strcmp(e->valuestring, "same-data") == 0)
        s->protocols |= PROTO_SAME;
      else
        return ml_jfail(c, MOELAB_EPARSE, p, "expected \"matched\" or \"same-data\"");
    }
  }
  if ((st = ml_j_get_int(c, cJSON_GetObjectItemCaseSensitive(root, "k"), "k", 1, MOELAB_MAX_K, &x))) return st;
  s->k = (size_t)x;
  if (s->k < s->truth->k)
    return ml_jfail(c, MOELAB_EINVAL, "k", "k = %zu is smaller than the truth's %zu atoms", s->k, s->truth->k);
  if ((st = ml_j_get_int(c, cJSON_GetObjectItemCaseSensitive(root, "regime"), "regime", 1, 2, &x))) return st;
  s->regime = (int)x;
  /* defaults, then the members, then (quick) the overrides */
  s->replicates = 40;
  s->restarts = 1;
  s->max_iter = 2000;
  s->stat_tol = 1e-3;
  s->kink_tol = 1e-10;
  s->init = MOELAB_INIT_MODEL;
  s->perturb = 0.1;
  s->split_fraction = 0.5;
  s->box.beta0_lo = s->box.beta1_lo = s->box.eta_lo = -10;
  s->box.beta0_hi = s->box.beta1_hi = s->box.eta_hi = 10;
  s->ref_rule = MOELAB_REF_LOCAL;
  s->ref_restarts = 8;
  if (!cJSON_GetObjectItemCaseSensitive(root, "n")) return ml_jfail(c, MOELAB_EPARSE, "", "missing member \"n\"");
  if ((st = read_overrides(c, root, s))) return st;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "init"))) {
    if (!cJSON_IsObject(v)) return ml_jfail(c, MOELAB_EPARSE, "init", "expected {\"rule\": ..., \"perturb\": ..., \"split\": [...]}");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, "rule");
    if (r) {
      if (cJSON_IsString(r) && strcmp(r->valuestring, "model") == 0)
        s->init = MOELAB_INIT_MODEL;
      else if (cJSON_IsString(r) && strcmp(r->valuestring, "random") == 0)
        s->init = MOELAB_INIT_RANDOM;
      else if (cJSON_IsString(r) && strcmp(r->valuestring, "kmeans") == 0)
        s->init = MOELAB_INIT_KMEANS;
      else
        return ml_jfail(c, MOELAB_EPARSE, "init.rule", "expected \"model\" (the truth, split), \"random\" or \"kmeans\"");
    }
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(v, "perturb");
    if (pp && ((st = ml_j_get_number(c, pp, "init.perturb", &s->perturb)) || s->perturb < 0))
      return st ? st : ml_jfail(c, MOELAB_EINVAL, "init.perturb", "must be >= 0");
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(v, "split_fraction");
    if (sf && ((st = ml_j_get_number(c, sf, "init.split_fraction", &s->split_fraction)) ||
               !(s->split_fraction > 0 && s->split_fraction < 1)))
      return st ? st : ml_jfail(c, MOELAB_EINVAL, "init.split_fraction", "must be in (0, 1)");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(v, "split");
    if (sp) {
      if (!cJSON_IsArray(sp)) return ml_jfail(c, MOELAB_EPARSE, "init.split", "expected a list of atom indices");
      size_t i = 0;
      for (const cJSON *e = sp->child; e; e = e->next, i++) {
        char p[40];
        snprintf(p, sizeof p, "init.split[%zu]", i);
        if (i >= s->k - s->truth->k) return ml_jfail(c, MOELAB_EINVAL, p, "more splits than k - k* = %zu", s->k - s->truth->k);
        if ((st = ml_j_get_int(c, e, p, 0, (long)(s->truth->k + i) - 1, &x))) return st;
        s->split[s->nsplit++] = (size_t)x;
      }
    }
    for (const cJSON *e = v->child; e; e = e->next)
      if (strcmp(e->string, "rule") && strcmp(e->string, "perturb") && strcmp(e->string, "split") &&
          strcmp(e->string, "split_fraction")) {
        char p[96];
        snprintf(p, sizeof p, "init.%s", e->string);
        return ml_jfail(c, MOELAB_EPARSE, p, "unknown member (expected rule, perturb, split, split_fraction)");
      }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "box")) && (st = read_box(c, v, &s->box))) return st;
  s->nlosses = 0;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "losses"))) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > STUDY_MAX_LOSSES)
      return ml_jfail(c, MOELAB_EPARSE, "losses", "expected a list of 1 to %d losses", STUDY_MAX_LOSSES);
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
      char p[32];
      snprintf(p, sizeof p, "losses[%zu]", i);
      moelab_error e2;
      if (!cJSON_IsString(e) || moelab_loss_parse(e->valuestring, &s->losses[s->nlosses], &e2))
        return ml_jfail(c, MOELAB_EPARSE, p, "expected D1, D2:r, D3 or Lbar");
      s->nlosses++;
    }
  } else {
    const char *def[3] = {"D1", "D3", "Lbar"};
    for (int i = 0; i < 3; i++) moelab_loss_parse(def[i], &s->losses[s->nlosses++], NULL);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "reference"))) {
    if (!cJSON_IsObject(v)) return ml_jfail(c, MOELAB_EPARSE, "reference", "expected {\"rule\": ..., \"restarts\": ...}");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, "rule");
    if (r) {
      if (cJSON_IsString(r) && strcmp(r->valuestring, "local") == 0)
        s->ref_rule = MOELAB_REF_LOCAL;
      else if (cJSON_IsString(r) && strcmp(r->valuestring, "global") == 0)
        s->ref_rule = MOELAB_REF_GLOBAL;
      else
        return ml_jfail(c, MOELAB_EPARSE, "reference.rule", "expected \"local\" or \"global\"");
    }
    const cJSON *rr = cJSON_GetObjectItemCaseSensitive(v, "restarts");
    if (rr) {
      if ((st = ml_j_get_int(c, rr, "reference.restarts", 1, 10000, &x))) return st;
      s->ref_restarts = (size_t)x;
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "stat_tol"))) {
    if ((st = ml_j_get_number(c, v, "stat_tol", &s->stat_tol))) return st;
    if (s->stat_tol < 0) return ml_jfail(c, MOELAB_EINVAL, "stat_tol", "must be >= 0 (0: strict stationarity only)");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "kink_tol"))) {
    if ((st = ml_j_get_number(c, v, "kink_tol", &s->kink_tol))) return st;
    if (!(s->kink_tol >= 0 && s->kink_tol <= 1))
      return ml_jfail(c, MOELAB_EINVAL, "kink_tol", "must be in [0, 1] (0: off)");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "seed"))) {
    if ((st = ml_j_get_int(c, v, "seed", 0, 4503599627370496L, &x))) return st;
    s->seed = (uint64_t)x;
  }
  if (s->quick && (v = cJSON_GetObjectItemCaseSensitive(root, "quick"))) {
    if (!cJSON_IsObject(v)) return ml_jfail(c, MOELAB_EPARSE, "quick", "expected an object of overrides");
    for (const cJSON *e = v->child; e; e = e->next)
      if (strcmp(e->string, "n") && strcmp(e->string, "replicates") && strcmp(e->string, "restarts") &&
          strcmp(e->string, "max_iter")) {
        char p[96];
        snprintf(p, sizeof p, "quick.%s", e->string);
        return ml_jfail(c, MOELAB_EPARSE, p, "unknown override (expected n, replicates, restarts, max_iter)");
      }
    ml_jctx qc = *c;
    qc.prefix = "quick";
    if ((st = read_overrides(&qc, v, s))) return st;
  }
  /* a documented limit on the task list (docs/limits.md) */
  double tasks = 2.0 * (double)s->ngates * (double)s->nn * (double)s->replicates;
  if (tasks > STUDY_MAX_TASKS)
    return ml_jfail(c, MOELAB_ELIMIT, "replicates", "the study would have up to %.0f fits (limit %d)", tasks,
                    STUDY_MAX_TASKS);
  return MOELAB_OK;
}

void moelab_study_free(moelab_study *s) {
  if (!s) return;
  free(s->name);
  free(s->description);
  free(s->text);
  moelab_model_free(s->truth);
  free(s);
}

int moelab_study_read_buffer(const char *text, size_t len, const char *name, int quick, moelab_study **study,
                             moelab_error *err) {
  if (!text || !study) return ml_fail(err, MOELAB_EINVAL, name, 0, NULL, "NULL argument");
  if (!name) name = "<study>";
  cJSON *root = NULL;
  int st = ml_j_parse(text, len, name, &root, err);
  if (st) return st;
  moelab_study *s = ml_zalloc(1, sizeof *s);
  if (!s) {
    cJSON_Delete(root);
    return ml_nomem(err);
  }
  s->quick = quick;
  ml_jctx c = {text, len, name, err, NULL};
  st = study_from_json(&c, root, s);
  cJSON_Delete(root);
  if (!st) {
    s->text = ml_alloc(len + 1, 1);
    if (!s->text)
      st = ml_nomem(err);
    else {
      memcpy(s->text, text, len);
      s->text[len] = '\0';
      s->text_len = len;
      s->hash = fnv1a(text, len, 0xcbf29ce484222325ULL);
      s->hash = fnv1a(quick ? "quick" : "full", quick ? 5 : 4, s->hash);
    }
  }
  if (st) {
    moelab_study_free(s);
    return st;
  }
  *study = s;
  return MOELAB_OK;
}

int moelab_study_read_file(const char *path, int quick, moelab_study **study, moelab_error *err) {
  if (!path) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL path");
  char *text;
  size_t len;
  int st = ml_read_text_file(path, &text, &len, err);
  if (st) return st;
  st = moelab_study_read_buffer(text, len, path, quick, study, err);
  free(text);
  return st;
}

const char *moelab_study_name(const moelab_study *s) { return s ? s->name : NULL; }
const char *moelab_study_description(const moelab_study *s) { return s ? s->description : NULL; }

char *moelab_study_hash(const moelab_study *s, char *buf) {
  snprintf(buf, 17, "%016llx", (unsigned long long)(s ? s->hash : 0));
  return buf;
}

/* -------------------------------------------------------------- tasks */

int study_tasks(const moelab_study *s, study_task **tasks, size_t *ntasks) {
  size_t cap = 2 * s->ngates * s->nn * s->replicates + 1, m = 0;
  study_task *t = ml_alloc(cap, sizeof(study_task));
  if (!t) return MOELAB_ENOMEM;
  for (int proto = PROTO_MATCHED; proto <= PROTO_SAME; proto <<= 1) {
    if (!(s->protocols & proto)) continue;
    for (size_t g = 0; g < s->ngates; g++) {
      moelab_gate gate = s->gates[g];
      /* same-data fits of the data's own gate are the matched ones */
      if (proto == PROTO_SAME && gate == s->truth->gate && (s->protocols & PROTO_MATCHED)) continue;
      for (size_t ni = 0; ni < s->nn; ni++)
        for (size_t r = 0; r < s->replicates; r++) {
          study_task *k = &t[m++];
          k->protocol = proto;
          k->gate = gate;
          k->ni = ni;
          k->rep = r;
          k->cost = (double)s->ns[ni];
          snprintf(k->id, sizeof k->id, "%s/%s/%zu/%zu", study_protocol_name(proto), moelab_gate_name(gate),
                   s->ns[ni], r);
        }
    }
  }
  *tasks = t;
  *ntasks = m;
  return MOELAB_OK;
}

size_t moelab_study_ntasks(const moelab_study *s) {
  study_task *t = NULL;
  size_t n = 0;
  if (!s || study_tasks(s, &t, &n)) return 0;
  free(t);
  return n;
}

/* ------------------------------------------------------------- curves */

void study_curve_free(study_curve *c) {
  if (!c) return;
  if (c->data != c->truth) moelab_model_free(c->data);
  moelab_model_free(c->truth);
  moelab_model_free(c->gbar);
  memset(c, 0, sizeof *c);
}

static moelab_model *with_gate(const moelab_model *m, moelab_gate g, moelab_error *err) {
  moelab_model *c = NULL;
  if (moelab_model_copy(m, &c, err)) return NULL;
  c->gate = g;
  free(c->extra);
  c->extra = NULL;
  return c;
}

int study_mkdir_p(const char *path, moelab_error *err) {
  char buf[4096];
  size_t n = strlen(path);
  if (n >= sizeof buf) return ml_fail(err, MOELAB_EIO, path, 0, NULL, "path too long");
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return ml_fail(err, MOELAB_EIO, buf, 0, NULL, "cannot create the directory: %s", strerror(errno));
    buf[i] = c;
  }
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return ml_fail(err, MOELAB_EIO, path, 0, NULL, "not a directory");
  return MOELAB_OK;
}

/* Ḡ for (gate) of the study's data model, cached in out/references/. */
static int study_gbar(const moelab_study *s, const moelab_model *truth_g, moelab_gate gate, const char *out_dir,
                      const char *tag, int threads, study_curve *c, moelab_error *err) {
  moelab_reference_options ro;
  moelab_reference_options_init(&ro);
  ro.k = s->k;
  ro.gate = gate;
  ro.box = s->box;
  ro.rule = s->ref_rule;
  ro.perturb = s->perturb;
  ro.split_fraction = s->split_fraction;
  ro.split = s->nsplit ? s->split : NULL;
  ro.nsplit = s->nsplit;
  ro.restarts = s->ref_restarts;
  ro.seed = s->seed;
  ro.threads = threads;
  /* the cache key: the truth's text and every option */
  char *tt = NULL;
  int st = moelab_model_to_string(truth_g, &tt, err);
  if (st) return st;
  char opts[512];
  snprintf(opts, sizeof opts, "%zu|%d|%.17g,%.17g,%.17g,%.17g,%.17g,%.17g|%d|%.17g|%.17g|%zu|%llu", ro.k, (int)gate,
           ro.box.beta0_lo, ro.box.beta0_hi, ro.box.beta1_lo, ro.box.beta1_hi, ro.box.eta_lo, ro.box.eta_hi,
           (int)ro.rule, ro.perturb, ro.split_fraction, ro.restarts, (unsigned long long)ro.seed);
  uint64_t h = fnv1a(tt, strlen(tt), 0xcbf29ce484222325ULL);
  h = fnv1a(opts, strlen(opts), h);
  for (size_t i = 0; i < s->nsplit; i++) h = fnv1a((const char *)&s->split[i], sizeof s->split[i], h);
  free(tt);
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/references", out_dir);
  if ((st = study_mkdir_p(dir, err))) return st;
  snprintf(path, sizeof path, "%s/%s-%016llx.json", dir, tag, (unsigned long long)h);
  moelab_model *g = NULL;
  if (access(path, R_OK) == 0 && moelab_model_read_file(path, &g, NULL) == MOELAB_OK && g->extra) {
    cJSON *x = cJSON_Parse(g->extra);
    const cJSON *r = x ? cJSON_GetObjectItemCaseSensitive(x, "reference") : NULL;
    const cJSON *d = r ? cJSON_GetObjectItemCaseSensitive(r, "distance") : NULL;
    const cJSON *rel = r ? cJSON_GetObjectItemCaseSensitive(r, "relative_distance") : NULL;
    const cJSON *off = r ? cJSON_GetObjectItemCaseSensitive(r, "switched_off") : NULL;
    if (cJSON_IsNumber(d) && cJSON_IsNumber(rel) && cJSON_IsNumber(off)) {
      c->gbar = g;
      c->gbar_distance = d->valuedouble;
      c->gbar_rel = rel->valuedouble;
      c->gbar_off = (size_t)off->valuedouble;
      cJSON_Delete(x);
      return MOELAB_OK;
    }
    cJSON_Delete(x);
    moelab_model_free(g);
    g = NULL;
  }
  moelab_reference_report *rep = NULL;
  if ((st = moelab_reference(truth_g, &ro, &g, &rep, err))) return st;
  char *rj = NULL;
  if ((st = moelab_reference_report_json(rep, &rj, err))) goto fail;
  {
    size_t need = strlen(rj) + (g->extra ? strlen(g->extra) : 0) + 32;
    char *ex = malloc(need);
    if (!ex) {
      st = ml_nomem(err);
      goto fail;
    }
    if (g->extra && strlen(g->extra) > 2)
      snprintf(ex, need, "%.*s, \"reference\": %s}", (int)(strlen(g->extra) - 1), g->extra, rj);
    else
      snprintf(ex, need, "{\"reference\": %s}", rj);
    st = moelab_model_set_extra(g, ex, err);
    free(ex);
    if (st) goto fail;
  }
  moelab_outfile *of = NULL;
  if ((st = moelab_outfile_new(path, &of, err)) || (st = moelab_model_write(moelab_outfile_stream(of), g, err)) ||
      (st = moelab_outfile_commit(of, err))) {
    moelab_outfile_free(of);
    goto fail;
  }
  moelab_outfile_free(of);
  c->gbar = g;
  c->gbar_distance = rep->distance;
  c->gbar_rel = rep->truth_norm > 0 ? rep->distance / rep->truth_norm : rep->distance;
  c->gbar_off = rep->switched_off;
  free(rj);
  moelab_reference_report_free(rep);
  return MOELAB_OK;
fail:
  free(rj);
  moelab_reference_report_free(rep);
  moelab_model_free(g);
  return st;
}

int study_curve_setup(const moelab_study *s, int protocol, moelab_gate gate, const char *out_dir, int threads,
                       study_curve *c, moelab_error *err) {
  memset(c, 0, sizeof *c);
  c->protocol = protocol;
  c->gate = gate;
  int st;
  char tag[64];
  snprintf(tag, sizeof tag, "%s-%s", study_protocol_name(protocol), moelab_gate_name(gate));
  int own = protocol == PROTO_MATCHED || gate == s->truth->gate;
  if (own) {
    if (!(c->truth = with_gate(s->truth, gate, err))) return err ? err->status : MOELAB_ENOMEM;
    c->data = c->truth;
    c->start = c->truth;
    c->ref = c->truth;
    if (gate == MOELAB_GATE_SIGMOID && s->regime == 2) {
      if ((st = study_gbar(s, c->truth, gate, out_dir, tag, threads, c, err))) return st;
      c->ref = c->gbar;
      /* Ḡ = G* plus switched-off atoms: the expert rate is L̄ against G* (docs/theory.md §5, §8) */
      c->lbar_rate = c->gbar_rel <= 1e-3 && c->gbar_off + s->truth->k >= s->k;
    }
  } else {
    /* same-data, the other gate: its own population best fit Ḡ_gate, which is also the start */
    if (!(c->data = with_gate(s->truth, s->truth->gate, err))) return err ? err->status : MOELAB_ENOMEM;
    if ((st = study_gbar(s, s->truth, gate, out_dir, tag, threads, c, err))) return st;
    c->ref = c->gbar;
    c->start = c->gbar;
  }
  return MOELAB_OK;
}

/* ------------------------------------------------------------ results */

#define ROW_MAX 8192

static void append(char *row, size_t *len, const char *s) {
  size_t n = strlen(s);
  if (*len + n + 1 < ROW_MAX) {
    memcpy(row + *len, s, n + 1);
    *len += n;
  }
}

static void append_num(char *row, size_t *len, double v) {
  char b[40];
  append(row, len, ",");
  append(row, len, moelab_format_double(v, b));
}

static int has_canonical(const moelab_study *s) {
  return ml_expert_homogeneous(s->truth->expert, s->truth->degree);
}

void study_results_header(const moelab_study *s, char *row) {
  size_t len = 0;
  row[0] = '\0';
  append(row, &len,
         "task,preset,protocol,gate,regime,class,expert,n,replicate,converged,stop,iterations,restarts_converged,"
         "restarts_failed,sse,mse,grad_norm,decrement,n_at_bound,l2_truth,l2_ref,expert_rate,expert_rate_exact,"
         "expert_rate_over,expert_rate_unweighted");
  for (size_t i = 0; i < s->nlosses; i++) {
    char col[64];
    study_loss_column(&s->losses[i], col, sizeof col);
    append(row, &len, ",");
    append(row, &len, col);
    if (has_canonical(s) && s->losses[i].kind != MOELAB_LOSS_LBAR) {
      append(row, &len, ",");
      append(row, &len, col);
      append(row, &len, "_canonical");
    }
  }
  append(row, &len, ",error\n");
}

static uint64_t data_stream(size_t ni, size_t rep) { return ((uint64_t)ni << 24) | (uint64_t)rep; }

static uint64_t fit_stream(int protocol, moelab_gate gate, size_t ni, size_t rep) {
  return ((uint64_t)1 << 62) | ((uint64_t)protocol << 58) | ((uint64_t)gate << 56) | ((uint64_t)ni << 44) |
         ((uint64_t)rep << 20);
}

/* Runs one task into `row` (with its newline).  Failures become a row of NaN with the reason. */
void study_run_task(const moelab_study *s, const study_curve *c, const study_task *t, char *row) {
  size_t len = 0;
  row[0] = '\0';
  moelab_error err;
  moelab_error_clear(&err);
  moelab_data *D = NULL;
  moelab_model *fit = NULL;
  moelab_fit_report *rep = NULL;
  size_t n = s->ns[t->ni];
  int st = moelab_simulate(c->data, NULL, n, s->seed, data_stream(t->ni, t->rep), &D, &err);
  if (!st) {
    moelab_fit_options o;
    moelab_fit_options_init(&o);
    o.gate = c->gate;
    o.expert = s->truth->expert;
    o.degree = s->truth->degree;
    o.k = s->k;
    o.init = s->init;
    o.init_model = s->init == MOELAB_INIT_MODEL ? c->start : NULL;
    o.perturb = s->perturb;
    o.split_fraction = s->split_fraction;
    if (c->start && c->start->k < s->k && s->nsplit) {
      o.split = s->split;
      o.nsplit = s->nsplit;
    }
    o.restarts = s->restarts;
    o.threads = 1;
    o.seed = s->seed;
    o.stream_base = fit_stream(t->protocol, c->gate, t->ni, t->rep);
    o.max_iter = s->max_iter;
    o.stat_tol = s->stat_tol;
    o.kink_tol = s->kink_tol;
    o.box = s->box;
    o.compute_se = 0;
    moelab_data_view v = moelab_data_as_view(D);
    st = moelab_fit(&v, &o, &fit, &rep, &err);
  }
  char b[64];
  append(row, &len, t->id);
  append(row, &len, ",");
  append(row, &len, s->name);
  append(row, &len, ",");
  append(row, &len, study_protocol_name(t->protocol));
  append(row, &len, ",");
  append(row, &len, moelab_gate_name(c->gate));
  snprintf(b, sizeof b, ",%d,%s,%s,%zu,%zu", s->regime, study_class_name(s->cls), moelab_expert_name(s->truth->expert),
           n, t->rep);
  append(row, &len, b);
  double nanv = NAN;
  if (st) {
    append(row, &len, ",0,failed");
    for (int i = 0; i < 17; i++) append_num(row, &len, nanv);
    for (size_t i = 0; i < s->nlosses; i++) {
      append_num(row, &len, nanv);
      if (has_canonical(s) && s->losses[i].kind != MOELAB_LOSS_LBAR) append_num(row, &len, nanv);
    }
    char msg[600];
    moelab_error_format(&err, msg, sizeof msg);
    for (char *p = msg; *p; p++)
      if (*p == ',' || *p == '\n' || *p == '\r' || *p == '"') *p = ';';
    append(row, &len, ",");
    append(row, &len, msg[0] ? msg : "failed");
    append(row, &len, "\n");
    moelab_data_free(D);
    return;
  }
  snprintf(b, sizeof b, ",%d,%s,%zu,%zu,%zu", rep->converged, moelab_stop_name(rep->stop), rep->iterations,
           rep->restarts_converged, rep->restarts_failed);
  append(row, &len, b);
  append_num(row, &len, rep->sse);
  append_num(row, &len, rep->mse);
  append_num(row, &len, rep->grad_norm);
  append_num(row, &len, rep->decrement);
  snprintf(b, sizeof b, ",%zu", rep->n_at_bound);
  append(row, &len, b);
  double l2t = NAN, l2r = NAN;
  moelab_l2_distance(fit, c->data, &c->data->input, NULL, &l2t, NULL, NULL);
  if (c->ref->gate == fit->gate) moelab_l2_distance(fit, c->ref, &c->data->input, NULL, &l2r, NULL, NULL);
  /* losses, and the expert-rate measures (against the reference, or L̄) */
  double lv[STUDY_MAX_LOSSES], lc[STUDY_MAX_LOSSES];
  moelab_loss_result *rate_res = NULL;
  for (size_t i = 0; i < s->nlosses; i++) {
    lv[i] = lc[i] = NAN;
    const moelab_model *ref = s->losses[i].kind == MOELAB_LOSS_LBAR ? c->truth : c->ref;
    if (!ref || ref->gate != fit->gate) continue;
    moelab_loss_spec spec = s->losses[i];
    spec.mu = &c->data->input;
    moelab_loss_result *lr = NULL;
    if (moelab_loss(fit, ref, &spec, &lr, NULL)) continue;
    lv[i] = lr->value;
    lc[i] = lr->canonical;
    /* the expert-rate measures come from D1's result (for softmax: at the translation minimising
     * D1), whatever the order of the losses in the study file */
    int is_rate = c->lbar_rate ? spec.kind == MOELAB_LOSS_LBAR : spec.kind == MOELAB_LOSS_D1;
    if (is_rate && !rate_res) {
      rate_res = lr;
      continue;
    }
    moelab_loss_result_free(lr);
  }
  if (!rate_res) { /* no suitable loss in the list: D1 against the reference (or L̄) */
    moelab_loss_spec spec;
    moelab_loss_parse(c->lbar_rate ? "Lbar" : "D1", &spec, NULL);
    spec.mu = &c->data->input;
    const moelab_model *ref = c->lbar_rate ? c->truth : c->ref;
    if (ref && ref->gate == fit->gate) moelab_loss(fit, ref, &spec, &rate_res, NULL);
  }
  append_num(row, &len, l2t);
  append_num(row, &len, l2r);
  if (rate_res) {
    append_num(row, &len, c->lbar_rate ? rate_res->value : rate_res->rate_all);
    append_num(row, &len, rate_res->rate_exact);
    append_num(row, &len, rate_res->rate_over);
    append_num(row, &len, rate_res->rate_all_unweighted);
  } else {
    for (int i = 0; i < 4; i++) append_num(row, &len, nanv);
  }
  moelab_loss_result_free(rate_res);
  for (size_t i = 0; i < s->nlosses; i++) {
    append_num(row, &len, lv[i]);
    if (has_canonical(s) && s->losses[i].kind != MOELAB_LOSS_LBAR) append_num(row, &len, lc[i]);
  }
  append(row, &len, ",\n");
  moelab_fit_report_free(rep);
  moelab_model_free(fit);
  moelab_data_free(D);
}

/* ------------------------------------------------------------- runner */

void moelab_study_options_init(moelab_study_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->out_dir = "results";
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int study_cmp_cost_desc(const void *a, const void *b) {
  const study_task *x = *(const study_task *const *)a, *y = *(const study_task *const *)b;
  if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
  return strcmp(x->id, y->id);
}

/*
 * Reads the done task ids of an existing results file (dropping a partial
 * last line first).  *done receives a 0/1 flag per task.
 */
int study_read_done(const char *path, const char *header, const study_task *tasks, size_t ntasks,
                    unsigned char *done, size_t *ndone, moelab_error *err) {
  *ndone = 0;
  int fd = open(path, O_RDWR);
  if (fd < 0) {
    if (errno == ENOENT) return MOELAB_OK;
    return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
  }
  off_t size = lseek(fd, 0, SEEK_END);
  if (size > 0) {
    /* find the last newline; what follows it is a row cut short by a kill */
    char buf[4096];
    off_t pos = size, keep = 0;
    while (pos > 0 && !keep) {
      off_t chunk = pos > (off_t)sizeof buf ? (off_t)sizeof buf : pos;
      pos -= chunk;
      if (pread(fd, buf, (size_t)chunk, pos) != (ssize_t)chunk) break;
      for (off_t i = chunk - 1; i >= 0; i--)
        if (buf[i] == '\n') {
          keep = pos + i + 1;
          break;
        }
    }
    if (keep < size && ftruncate(fd, keep) != 0) {
      close(fd);
      return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot drop the partial last row: %s", strerror(errno));
    }
  }
  close(fd);
  moelab_table *t = NULL;
  int st = moelab_table_read_file(path, &t, err);
  if (st == MOELAB_EPARSE && err && strstr(err->message, "empty file")) return MOELAB_OK;
  if (st) return st;
  /* the header must be the one this study writes */
  char want[ROW_MAX];
  snprintf(want, sizeof want, "%s", header);
  want[strcspn(want, "\n")] = '\0';
  size_t len = 0;
  char got[ROW_MAX] = "";
  for (size_t j = 0; j < t->ncol; j++) append(got, &len, j ? "," : ""), append(got, &len, t->names[j]);
  if (strcmp(got, want) != 0) {
    moelab_table_free(t);
    return ml_fail(err, MOELAB_EINVAL, path, 1, NULL, "the results file has other columns than this study writes");
  }
  long tc = moelab_table_column(t, "task");
  for (size_t r = 0; r < t->nrow; r++) {
    const char *id = t->cells[r * t->ncol + (size_t)tc];
    for (size_t i = 0; i < ntasks; i++)
      if (!done[i] && strcmp(tasks[i].id, id) == 0) {
        done[i] = 1;
        (*ndone)++;
        break;
      }
  }
  moelab_table_free(t);
  return MOELAB_OK;
}

int study_write_manifest(const moelab_study *s, const char *out_dir, size_t ntasks, const moelab_study_options *o,
                         moelab_error *err) {
  char path[4200], hash[20];
  snprintf(path, sizeof path, "%s/manifest.json", out_dir);
  moelab_outfile *of = NULL;
  int st = moelab_outfile_new(path, &of, err);
  if (st) return st;
  fprintf(moelab_outfile_stream(of),
          "{\"format\": \"moelab-results\", \"version\": 1, \"study\": \"%s\", \"hash\": \"%s\", \"quick\": %s, "
          "\"tasks\": %zu, \"shard\": [%zu, %zu], \"moelab\": \"%s\"}\n",
          s->name, moelab_study_hash(s, hash), s->quick ? "true" : "false", ntasks, o->shard_index,
          o->shard_count ? o->shard_count : 1, moelab_version());
  st = moelab_outfile_commit(of, err);
  moelab_outfile_free(of);
  if (st) return st;
  /* the study file itself, so that shards can be merged and summarised without it */
  snprintf(path, sizeof path, "%s/study.json", out_dir);
  if ((st = moelab_outfile_new(path, &of, err))) return st;
  fwrite(s->text, 1, s->text_len, moelab_outfile_stream(of));
  st = moelab_outfile_commit(of, err);
  moelab_outfile_free(of);
  return st;
}

/* An existing manifest must carry this study's hash and shard. */
int study_check_manifest(const moelab_study *s, const char *out_dir, const moelab_study_options *o, int *exists,
                         moelab_error *err) {
  char path[4200], hash[20];
  snprintf(path, sizeof path, "%s/manifest.json", out_dir);
  *exists = 0;
  if (access(path, F_OK) != 0) return MOELAB_OK;
  *exists = 1;
  char *text;
  size_t len;
  int st = ml_read_text_file(path, &text, &len, err);
  if (st) return st;
  cJSON *m = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *h = m ? cJSON_GetObjectItemCaseSensitive(m, "hash") : NULL;
  const cJSON *sh = m ? cJSON_GetObjectItemCaseSensitive(m, "shard") : NULL;
  int ok = cJSON_IsString(h) && strcmp(h->valuestring, moelab_study_hash(s, hash)) == 0;
  if (ok && cJSON_IsArray(sh) && cJSON_GetArraySize(sh) == 2) {
    size_t si = (size_t)cJSON_GetArrayItem(sh, 0)->valuedouble, sc = (size_t)cJSON_GetArrayItem(sh, 1)->valuedouble;
    ok = si == o->shard_index && sc == (o->shard_count ? o->shard_count : 1);
  }
  cJSON_Delete(m);
  if (!ok)
    return ml_fail(err, MOELAB_EINVAL, path, 0, "hash",
                   "these results belong to another study, quick setting or shard: choose another output directory");
  return MOELAB_OK;
}

/* Cost-balanced shards: tasks by decreasing cost, each to the lightest shard
 * (ties: the lowest index).  A function of the task list only. */
void study_shard_mask(const study_task *tasks, size_t ntasks, size_t shard, size_t nshards, unsigned char *mine) {
  const study_task **order = malloc(ntasks * sizeof *order);
  double *load = calloc(nshards, sizeof(double));
  if (!order || !load) { /* round robin */
    for (size_t i = 0; i < ntasks; i++) mine[i] = i % nshards == shard;
    free(order);
    free(load);
    return;
  }
  for (size_t i = 0; i < ntasks; i++) order[i] = &tasks[i];
  qsort(order, ntasks, sizeof *order, study_cmp_cost_desc);
  for (size_t i = 0; i < ntasks; i++) {
    size_t best = 0;
    for (size_t j = 1; j < nshards; j++)
      if (load[j] < load[best]) best = j;
    load[best] += order[i]->cost;
    mine[order[i] - tasks] = best == shard;
  }
  free(order);
  free(load);
}

int moelab_study_run(moelab_study *s, const moelab_study_options *o, moelab_study_progress *stats,
                     moelab_error *err) {
  if (!s || !o || !o->out_dir) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (o->shard_count > 1 && o->shard_index >= o->shard_count)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "shard", "shard %zu of %zu does not exist", o->shard_index, o->shard_count);
  int st = study_mkdir_p(o->out_dir, err);
  if (st) return st;
  int exists = 0;
  if ((st = study_check_manifest(s, o->out_dir, o, &exists, err))) return st;
  char rpath[4200], tpath[4200];
  snprintf(rpath, sizeof rpath, "%s/results.csv", o->out_dir);
  snprintf(tpath, sizeof tpath, "%s/timings.csv", o->out_dir);
  if (!o->resume && access(rpath, F_OK) == 0)
    return ml_fail(err, MOELAB_EINVAL, rpath, 0, NULL, "results already exist: resume them (--resume) or choose another output directory");
  study_task *tasks = NULL;
  size_t ntasks = 0;
  if (study_tasks(s, &tasks, &ntasks)) return ml_nomem(err);
  unsigned char *done = ml_zalloc(ntasks, 1), *mine = ml_alloc(ntasks, 1);
  const study_task **todo = ml_alloc(ntasks, sizeof *todo);
  study_curve curves[4];
  memset(curves, 0, sizeof curves);
  FILE *rf = NULL, *tf = NULL;
  char header[ROW_MAX];
  study_results_header(s, header);
  if (!done || !mine || !todo) {
    st = ml_nomem(err);
    goto out;
  }
  if (o->shard_count > 1)
    study_shard_mask(tasks, ntasks, o->shard_index, o->shard_count, mine);
  else
    memset(mine, 1, ntasks);
  size_t ndone = 0;
  if (o->resume && (st = study_read_done(rpath, header, tasks, ntasks, done, &ndone, err))) goto out;
  if ((st = study_write_manifest(s, o->out_dir, ntasks, o, err))) goto out;
  /* the curves (references are computed here, once) */
  int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
  for (size_t i = 0; i < ntasks; i++) {
    int ci = (tasks[i].protocol == PROTO_SAME ? 2 : 0) + (tasks[i].gate == MOELAB_GATE_SOFTMAX);
    if (curves[ci].data || !mine[i] || done[i]) continue;
    if ((st = study_curve_setup(s, tasks[i].protocol, tasks[i].gate, o->out_dir, threads, &curves[ci], err))) goto out;
  }
  size_t ntodo = 0, skipped = 0;
  double cost_todo = 0;
  for (size_t i = 0; i < ntasks; i++) {
    if (!mine[i]) continue;
    if (done[i]) {
      skipped++;
      continue;
    }
    todo[ntodo++] = &tasks[i];
    cost_todo += tasks[i].cost;
  }
  qsort(todo, ntodo, sizeof *todo, study_cmp_cost_desc);
  int fresh = access(rpath, F_OK) != 0;
  rf = fopen(rpath, "a");
  tf = fopen(tpath, "a");
  if (!rf || !tf) {
    st = ml_fail(err, MOELAB_EIO, rpath, 0, NULL, "cannot open for appending: %s", strerror(errno));
    goto out;
  }
  if (fresh || ftell(rf) == 0) {
    fputs(header, rf);
    fflush(rf);
  }
  moelab_study_progress pg;
  memset(&pg, 0, sizeof pg);
  pg.todo = ntodo;
  pg.skipped = skipped;
  pg.cost_todo = cost_todo;
  double t0 = now_s(), last_sync = t0;
  int io_failed = 0, stopped = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t i = 0; i < ntodo; i++) {
    if (io_failed || (o->stop_flag && *o->stop_flag)) {
#pragma omp atomic write
      stopped = 1;
      continue;
    }
    const study_task *t = todo[i];
    int ci = (t->protocol == PROTO_SAME ? 2 : 0) + (t->gate == MOELAB_GATE_SOFTMAX);
    char *row = malloc(ROW_MAX);
    if (!row) {
#pragma omp atomic write
      io_failed = 1;
      continue;
    }
    double ts = now_s();
    study_run_task(s, &curves[ci], t, row);
    double secs = now_s() - ts;
#pragma omp critical(study_write)
    {
      if (fputs(row, rf) == EOF || fflush(rf) != 0) io_failed = 1;
      fprintf(tf, "%s,%.3f\n", t->id, secs);
      fflush(tf);
      double now = now_s();
      if (now - last_sync > 10.0) {
        (void)fsync(fileno(rf));
        last_sync = now;
      }
      pg.done++;
      if (strstr(row, ",failed,")) pg.failed++;
      pg.cost_done += t->cost;
      pg.seconds = now - t0;
      if (o->progress) o->progress(o->progress_ctx, &pg);
    }
    free(row);
  }
  if (fflush(rf) != 0 || fsync(fileno(rf)) != 0) io_failed = 1;
  if (stats) *stats = pg;
  if (io_failed) {
    st = ml_fail(err, MOELAB_EIO, rpath, 0, NULL, "write error: %s", strerror(errno));
    goto out;
  }
  if (stopped || (o->stop_flag && *o->stop_flag && pg.done < ntodo)) {
    st = ml_fail(err, MOELAB_EINTR, NULL, 0, NULL, "stopped after %zu of %zu tasks", pg.done, ntodo);
    goto out;
  }
  st = MOELAB_OK;
out:
  if (rf) fclose(rf);
  if (tf) fclose(tf);
  for (int i = 0; i < 4; i++) study_curve_free(&curves[i]);
  free(tasks);
  free(done);
  free(mine);
  free(todo);
  return st;
}
