/*
 * json.c — model files (JSON): reading with precise error locations, and
 * writing in a stable, readable layout whose doubles read back bit for bit.
 *
 * cJSON parses; a small scanner of our own (json_locate) maps a JSON path
 * such as "atoms[1].eta" back to its line, so that every complaint about a
 * field names the line where it stands.
 */
#include "internal.h"
#include "json_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ the locator */

typedef struct jscan {
  const char *s;
  size_t len, pos;
} jscan;

static void js_ws(jscan *j) {
  while (j->pos < j->len &&
         (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
    j->pos++;
}

/* Skips a string starting at '"'; returns 0 on success. */
static int js_string(jscan *j, size_t *start, size_t *end) {
  if (j->pos >= j->len || j->s[j->pos] != '"') return -1;
  j->pos++;
  if (start) *start = j->pos;
  while (j->pos < j->len && j->s[j->pos] != '"') {
    if (j->s[j->pos] == '\\') j->pos++;
    j->pos++;
  }
  if (j->pos >= j->len) return -1;
  if (end) *end = j->pos;
  j->pos++;
  return 0;
}

static int js_value(jscan *j, int depth) {
  js_ws(j);
  if (j->pos >= j->len || depth > 200) return -1;
  char c = j->s[j->pos];
  if (c == '"') return js_string(j, NULL, NULL);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->pos++;
    js_ws(j);
    if (j->pos < j->len && j->s[j->pos] == close) {
      j->pos++;
      return 0;
    }
    for (;;) {
      if (c == '{') {
        js_ws(j);
        if (js_string(j, NULL, NULL)) return -1;
        js_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != ':') return -1;
        j->pos++;
      }
      if (js_value(j, depth + 1)) return -1;
      js_ws(j);
      if (j->pos >= j->len) return -1;
      if (j->s[j->pos] == ',') {
        j->pos++;
        continue;
      }
      if (j->s[j->pos] == close) {
        j->pos++;
        return 0;
      }
      return -1;
    }
  }
  while (j->pos < j->len && !strchr(",]} \t\r\n", j->s[j->pos])) j->pos++;
  return 0;
}

static long line_at(const char *s, size_t pos) {
  long line = 1;
  for (size_t i = 0; i < pos; i++)
    if (s[i] == '\n') line++;
  return line;
}

/*
 * The line of the value at `path` ("key", "key[3]", "a.b[1].c") in text; if
 * the path does not exist, the line of the deepest part that does.
 */
long json_locate(const char *text, size_t len, const char *path) {
  jscan j = {text, len, 0};
  js_ws(&j);
  size_t found = j.pos;
  const char *p = path;
  while (*p) {
    js_ws(&j);
    if (j.pos >= len) break;
    if (*p == '[') {
      char *endp;
      unsigned long idx = strtoul(p + 1, &endp, 10);
      p = *endp == ']' ? endp + 1 : endp;
      if (j.s[j.pos] != '[') break;
      j.pos++;
      int ok = 1;
      for (unsigned long i = 0; i < idx && ok; i++) {
        if (js_value(&j, 0)) ok = 0;
        js_ws(&j);
        if (ok && j.pos < len && j.s[j.pos] == ',')
          j.pos++;
        else
          ok = 0;
      }
      if (!ok) break;
      js_ws(&j);
      found = j.pos;
    } else {
      if (*p == '.') p++;
      size_t klen = strcspn(p, ".[");
      if (j.s[j.pos] != '{') break;
      j.pos++;
      int hit = 0;
      for (;;) {
        js_ws(&j);
        size_t ks, ke;
        size_t keypos = j.pos;
        if (js_string(&j, &ks, &ke)) break;
        js_ws(&j);
        if (j.pos >= len || j.s[j.pos] != ':') break;
        j.pos++;
        if (ke - ks == klen && memcmp(j.s + ks, p, klen) == 0) {
          js_ws(&j);
          found = keypos;
          hit = 1;
          break;
        }
        if (js_value(&j, 0)) break;
        js_ws(&j);
        if (j.pos < len && j.s[j.pos] == ',') {
          j.pos++;
          continue;
        }
        break;
      }
      if (!hit) break;
      p += klen;
    }
  }
  return line_at(text, found);
}

/* ------------------------------------------------------------- the reader */

/* The compact JSON text of `item` with every number written exactly (writer
 * below); NULL when out of memory. */

int ml_jfail(const ml_jctx *c, int status, const char *path, const char *fmt, ...) {
  char full[256];
  const char *p = path;
  if (c->prefix && c->prefix[0]) {
    if (path && path[0])
      snprintf(full, sizeof full, "%s%s%s", c->prefix, path[0] == '[' ? "" : ".", path);
    else
      snprintf(full, sizeof full, "%s", c->prefix);
    p = full;
  }
  long line = p ? json_locate(c->text, c->len, p) : 0;
  va_list ap;
  va_start(ap, fmt);
  ml_vfail(c->err, status, c->name, line, p, fmt, ap);
  va_end(ap);
  return status;
}

int ml_j_get_number(const ml_jctx *c, const cJSON *item, const char *path, double *out) {
  if (!cJSON_IsNumber(item)) return ml_jfail(c, MOELAB_EPARSE, path, "expected a number");
  if (!isfinite(item->valuedouble)) return ml_jfail(c, MOELAB_EPARSE, path, "number is not finite");
  *out = item->valuedouble;
  return MOELAB_OK;
}

/* A whole number in [lo, hi]. */
int ml_j_get_int(const ml_jctx *c, const cJSON *item, const char *path, long lo, long hi, long *out) {
  double v = 0;
  int st = ml_j_get_number(c, item, path, &v);
  if (st) return st;
  if (v != floor(v)) return ml_jfail(c, MOELAB_EPARSE, path, "expected a whole number, got %g", v);
  if (v < (double)lo || v > (double)hi)
    return ml_jfail(c, v > (double)hi && hi >= 1000 ? MOELAB_ELIMIT : MOELAB_EINVAL, path,
                 "value %g is out of range [%ld, %ld]", v, lo, hi);
  *out = (long)v;
  return MOELAB_OK;
}

/* An array of exactly n numbers (or, when scalar_ok, a single number that is
 * broadcast to all n) into out. */
int ml_j_get_vector(const ml_jctx *c, const cJSON *item, const char *path, size_t n, int scalar_ok,
                      double *out) {
  if (scalar_ok && cJSON_IsNumber(item)) {
    double v = 0;
    int st = ml_j_get_number(c, item, path, &v);
    if (st) return st;
    for (size_t i = 0; i < n; i++) out[i] = v;
    return MOELAB_OK;
  }
  if (!cJSON_IsArray(item))
    return ml_jfail(c, MOELAB_EPARSE, path, "expected an array of %zu number%s", n, n == 1 ? "" : "s");
  size_t m = (size_t)cJSON_GetArraySize(item);
  if (m != n) return ml_jfail(c, MOELAB_EPARSE, path, "expected %zu number%s, found %zu", n, n == 1 ? "" : "s", m);
  size_t i = 0;
  for (const cJSON *e = item->child; e; e = e->next, i++) {
    char p[160];
    snprintf(p, sizeof p, "%s[%zu]", path, i);
    int st = ml_j_get_number(c, e, p, &out[i]);
    if (st) return st;
  }
  return MOELAB_OK;
}

int ml_j_get_string(const ml_jctx *c, const cJSON *obj, const char *key, const char *path, const char **out) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!item) return ml_jfail(c, MOELAB_EPARSE, path, "missing member \"%s\"", key);
  if (!cJSON_IsString(item)) return ml_jfail(c, MOELAB_EPARSE, path, "expected a string");
  *out = item->valuestring;
  return MOELAB_OK;
}

static const char *const known_members[] = {"format", "version", "gate", "expert", "degree", "d",
                                            "k",      "atoms",   "input", "noise"};

static int is_known(const char *key) {
  for (size_t i = 0; i < sizeof known_members / sizeof known_members[0]; i++)
    if (strcmp(key, known_members[i]) == 0) return 1;
  return 0;
}

int ml_j_check_duplicates(const ml_jctx *c, const cJSON *obj, const char *prefix) {
  for (const cJSON *a = obj->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (a->string && b->string && strcmp(a->string, b->string) == 0) {
        char p[200];
        snprintf(p, sizeof p, "%s%s%s", prefix, prefix[0] ? "." : "", a->string);
        return ml_jfail(c, MOELAB_EPARSE, p, "member \"%s\" appears twice", a->string);
      }
  return MOELAB_OK;
}

static int read_input(const ml_jctx *c, const cJSON *in, moelab_model *m) {
  if (!cJSON_IsObject(in)) return ml_jfail(c, MOELAB_EPARSE, "input", "expected an object");
  int st = ml_j_check_duplicates(c, in, "input");
  if (st) return st;
  const char *lawname = NULL;
  st = ml_j_get_string(c, in, "law", "input.law", &lawname);
  if (st) return st;
  moelab_law law;
  if (moelab_law_parse(lawname, &law))
    return ml_jfail(c, MOELAB_EPARSE, "input.law", "unknown law \"%.40s\" (expected uniform, normal or grid)",
                 lawname);
  const char *ka = law == MOELAB_LAW_NORMAL ? "mean" : "low";
  const char *kb = law == MOELAB_LAW_NORMAL ? "sd" : "high";
  for (const cJSON *e = in->child; e; e = e->next)
    if (strcmp(e->string, "law") && strcmp(e->string, ka) && strcmp(e->string, kb)) {
      char p[200];
      snprintf(p, sizeof p, "input.%s", e->string);
      return ml_jfail(c, MOELAB_EPARSE, p, "unknown member for the %s law (expected \"%s\" and \"%s\")", lawname, ka,
                   kb);
    }
  double *a = ml_alloc(m->d, sizeof(double)), *b = ml_alloc(m->d, sizeof(double));
  if (!a || !b) {
    free(a);
    free(b);
    return ml_nomem(c->err);
  }
  char pa[32], pb[32];
  snprintf(pa, sizeof pa, "input.%s", ka);
  snprintf(pb, sizeof pb, "input.%s", kb);
  const cJSON *ia = cJSON_GetObjectItemCaseSensitive(in, ka), *ib = cJSON_GetObjectItemCaseSensitive(in, kb);
  if (!ia)
    st = ml_jfail(c, MOELAB_EPARSE, "input", "missing member \"%s\"", ka);
  else if (!ib)
    st = ml_jfail(c, MOELAB_EPARSE, "input", "missing member \"%s\"", kb);
  if (!st) st = ml_j_get_vector(c, ia, pa, m->d, 1, a);
  if (!st) st = ml_j_get_vector(c, ib, pb, m->d, 1, b);
  if (!st) {
    moelab_error e2;
    moelab_input tmp = {law, a, b};
    if (ml_input_check(&tmp, m->d, NULL, "input", &e2))
      st = ml_jfail(c, MOELAB_EINVAL, law == MOELAB_LAW_GRID && m->d != 1 ? "input.law" : pb, "%s", e2.message);
  }
  if (!st) st = moelab_model_set_input(m, law, a, b, c->err);
  free(a);
  free(b);
  return st;
}

int ml_j_model(const ml_jctx *c, const cJSON *root, moelab_model **out) {
  if (!cJSON_IsObject(root)) return ml_jfail(c, MOELAB_EPARSE, "", "a model file must be a JSON object");
  int st = ml_j_check_duplicates(c, root, "");
  if (st) return st;
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (fmt && !(cJSON_IsString(fmt) && strcmp(fmt->valuestring, "moelab-model") == 0))
    return ml_jfail(c, MOELAB_EPARSE, "format", "expected \"moelab-model\"");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
  if (ver) {
    long v;
    st = ml_j_get_int(c, ver, "version", 1, 1000000, &v);
    if (st) return st;
    if (v != 1) return ml_jfail(c, MOELAB_EPARSE, "version", "unsupported model file version %ld (this is 1)", v);
  }
  const char *gname = NULL, *ename = NULL;
  st = ml_j_get_string(c, root, "gate", "gate", &gname);
  if (st) return st;
  moelab_gate gate;
  if (moelab_gate_parse(gname, &gate))
    return ml_jfail(c, MOELAB_EPARSE, "gate", "unknown gate \"%.40s\" (expected sigmoid or softmax)", gname);
  st = ml_j_get_string(c, root, "expert", "expert", &ename);
  if (st) return st;
  moelab_expert expert;
  if (moelab_expert_parse(ename, &expert))
    return ml_jfail(c, MOELAB_EPARSE, "expert",
                 "unknown expert family \"%.40s\" (expected relu, gelu, linear, poly, constant, sigmoid or tanh)",
                 ename);
  /* degree: only the poly family reads it; any other family ignores the member and has degree 1 */
  long degree = 1;
  const cJSON *deg = cJSON_GetObjectItemCaseSensitive(root, "degree");
  if (expert == MOELAB_EXPERT_POLY) {
    if (!deg) return ml_jfail(c, MOELAB_EPARSE, "expert", "the poly family needs a \"degree\" member");
    st = ml_j_get_int(c, deg, "degree", 1, MOELAB_MAX_DEGREE, &degree);
    if (st) return st;
  }
  const cJSON *atoms = cJSON_GetObjectItemCaseSensitive(root, "atoms");
  if (!atoms) return ml_jfail(c, MOELAB_EPARSE, "", "missing member \"atoms\"");
  if (!cJSON_IsArray(atoms)) return ml_jfail(c, MOELAB_EPARSE, "atoms", "expected an array of atoms");
  size_t k = (size_t)cJSON_GetArraySize(atoms);
  if (k < 1) return ml_jfail(c, MOELAB_EINVAL, "atoms", "a model needs k >= 1 atoms (the array is empty)");
  if (k > MOELAB_MAX_K) return ml_jfail(c, MOELAB_ELIMIT, "atoms", "k = %zu exceeds the limit %d", k, MOELAB_MAX_K);
  const cJSON *kk = cJSON_GetObjectItemCaseSensitive(root, "k");
  if (kk) {
    long kv;
    st = ml_j_get_int(c, kk, "k", 1, MOELAB_MAX_K, &kv);
    if (st) return st;
    if ((size_t)kv != k)
      return ml_jfail(c, MOELAB_EPARSE, "k", "k = %ld but \"atoms\" has %zu entr%s", kv, k, k == 1 ? "y" : "ies");
  }
  /* d: the member, else the length of the first atom's beta1 */
  long d = 0;
  const cJSON *dd = cJSON_GetObjectItemCaseSensitive(root, "d");
  if (dd) {
    st = ml_j_get_int(c, dd, "d", 1, MOELAB_MAX_D, &d);
    if (st) return st;
  } else {
    const cJSON *b1 = cJSON_IsObject(atoms->child) ? cJSON_GetObjectItemCaseSensitive(atoms->child, "beta1") : NULL;
    if (cJSON_IsArray(b1)) d = cJSON_GetArraySize(b1);
    if (d < 1) return ml_jfail(c, MOELAB_EPARSE, "", "missing member \"d\" (the input dimension)");
    if (d > MOELAB_MAX_D) return ml_jfail(c, MOELAB_ELIMIT, "atoms[0].beta1", "d exceeds the limit %d", MOELAB_MAX_D);
  }
  moelab_model *m = NULL;
  st = moelab_model_new(gate, expert, (int)degree, (size_t)d, k, &m, c->err);
  if (st) return st;
  size_t i = 0;
  for (const cJSON *a = atoms->child; a; a = a->next, i++) {
    char p[96];
    snprintf(p, sizeof p, "atoms[%zu]", i);
    if (!cJSON_IsObject(a)) {
      st = ml_jfail(c, MOELAB_EPARSE, p, "expected an object with beta0, beta1 and eta");
      goto fail;
    }
    st = ml_j_check_duplicates(c, a, p);
    if (st) goto fail;
    double *t = m->theta + i * m->stride;
    static const char *const keys[3] = {"beta0", "beta1", "eta"};
    for (const cJSON *e = a->child; e; e = e->next)
      if (strcmp(e->string, keys[0]) && strcmp(e->string, keys[1]) && strcmp(e->string, keys[2])) {
        char pp[200];
        snprintf(pp, sizeof pp, "%s.%s", p, e->string);
        st = ml_jfail(c, MOELAB_EPARSE, pp, "unknown atom member (expected beta0, beta1, eta)");
        goto fail;
      }
    for (int key = 0; key < 3; key++) {
      char pp[128];
      snprintf(pp, sizeof pp, "%s.%s", p, keys[key]);
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, keys[key]);
      if (!v) {
        st = ml_jfail(c, MOELAB_EPARSE, p, "missing member \"%s\"", keys[key]);
        goto fail;
      }
      if (key == 0)
        st = ml_j_get_number(c, v, pp, &t[0]);
      else if (key == 1)
        st = ml_j_get_vector(c, v, pp, m->d, 0, t + 1);
      else
        st = ml_j_get_vector(c, v, pp, m->q, 0, t + 1 + m->d);
      if (st) goto fail;
    }
  }
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
  if (in) {
    st = read_input(c, in, m);
    if (st) goto fail;
  }
  const cJSON *noise = cJSON_GetObjectItemCaseSensitive(root, "noise");
  if (noise) {
    double v = 0;
    st = ml_j_get_number(c, noise, "noise", &v);
    if (st) goto fail;
    if (v < 0) {
      st = ml_jfail(c, MOELAB_EINVAL, "noise", "the noise variance must be >= 0, got %g", v);
      goto fail;
    }
    m->noise = v;
    m->has_noise = 1;
  }
  /* unknown members are kept verbatim */
  cJSON *extra = NULL;
  for (const cJSON *e = root->child; e; e = e->next) {
    if (is_known(e->string)) continue;
    if (!extra && !(extra = cJSON_CreateObject())) {
      st = ml_nomem(c->err);
      goto fail;
    }
    cJSON *dup = cJSON_Duplicate(e, 1);
    if (!dup || !cJSON_AddItemToObject(extra, e->string, dup)) {
      cJSON_Delete(dup);
      cJSON_Delete(extra);
      st = ml_nomem(c->err);
      goto fail;
    }
  }
  if (extra) {
    /* not cJSON_Print: it writes a double with 15 digits whenever that reads back within DBL_EPSILON,
     * so 0.10000000000000002 became 0.1 and a model read and written again changed */
    m->extra = ml_json_exact_text(extra);
    cJSON_Delete(extra);
    if (!m->extra) {
      st = ml_nomem(c->err);
      goto fail;
    }
  }
  *out = m;
  return MOELAB_OK;
fail:
  moelab_model_free(m);
  return st;
}

int ml_j_parse(const char *text, size_t len, const char *name, cJSON **root_out, moelab_error *err) {
  if (len > MOELAB_MAX_JSON)
    return ml_fail(err, MOELAB_ELIMIT, name, 0, NULL, "file larger than %d bytes", MOELAB_MAX_JSON);
  size_t i = 0;
  while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) i++;
  if (i == len) return ml_fail(err, MOELAB_EPARSE, name, 0, NULL, "empty file: expected a JSON object");
  const char *nul = memchr(text, '\0', len);
  if (nul)
    return ml_fail(err, MOELAB_EPARSE, name, line_at(text, (size_t)(nul - text)), NULL, "NUL byte in a JSON file");
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root) {
    size_t pos = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
    /* cJSON points at most at the last byte, also when the text stops short: our scanner tells that case */
    jscan js = {text, len, 0};
    if (pos >= len || (js_value(&js, 0) != 0 && js.pos >= len))
      return ml_fail(err, MOELAB_EPARSE, name, line_at(text, len), NULL, "invalid JSON: the text ends too early");
    /* quote at most 20 bytes, up to the end of the line; the text need not be NUL-terminated */
    int quote = 0;
    while (quote < 20 && pos + (size_t)quote < len && text[pos + (size_t)quote] != '\n' &&
           text[pos + (size_t)quote] != '\r')
      quote++;
    return ml_fail(err, MOELAB_EPARSE, name, line_at(text, pos), NULL, "invalid JSON near '%.*s'", quote, text + pos);
  }
  /* trailing garbage after the object */
  size_t pos = (size_t)(end - text);
  while (pos < len && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' || text[pos] == '\t')) pos++;
  if (pos < len) {
    cJSON_Delete(root);
    return ml_fail(err, MOELAB_EPARSE, name, line_at(text, pos), NULL, "unexpected text after the JSON object");
  }
  *root_out = root;
  return MOELAB_OK;
}

int moelab_model_read_buffer(const char *text, size_t len, const char *name, moelab_model **model,
                             moelab_error *err) {
  if (!text || !model) return ml_fail(err, MOELAB_EINVAL, name, 0, NULL, "NULL argument");
  if (!name) name = "<model>";
  ml_jctx c = {text, len, name, err, NULL};
  cJSON *root = NULL;
  int st = ml_j_parse(text, len, name, &root, err);
  if (st) {
    if (err && strstr(err->message, "empty file")) snprintf(err->message, sizeof err->message, "empty file: expected a JSON model object");
    return st;
  }
  st = ml_j_model(&c, root, model);
  cJSON_Delete(root);
  return st;
}

int ml_read_text_file(const char *path, char **text, size_t *len, moelab_error *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
  struct stat sb;
  if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(fp);
    return ml_fail(err, MOELAB_EIO, path, 0, NULL, "is a directory");
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    fclose(fp);
    return ml_nomem(err);
  }
  for (;;) {
    if (n + 1 >= cap) {
      if (cap > MOELAB_MAX_JSON) {
        free(buf);
        fclose(fp);
        return ml_fail(err, MOELAB_ELIMIT, path, 0, NULL, "file larger than %d bytes", MOELAB_MAX_JSON);
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        fclose(fp);
        return ml_nomem(err);
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, fp);
    n += got;
    if (got == 0) break;
  }
  int bad = ferror(fp), e = errno;
  fclose(fp);
  if (bad) {
    free(buf);
    return ml_fail(err, MOELAB_EIO, path, 0, NULL, "read error: %s", strerror(e));
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return MOELAB_OK;
}

int moelab_model_read_file(const char *path, moelab_model **model, moelab_error *err) {
  if (!path || !model) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  char *text;
  size_t len;
  int st = ml_read_text_file(path, &text, &len, err);
  if (st) return st;
  st = moelab_model_read_buffer(text, len, path, model, err);
  free(text);
  return st;
}

/* ------------------------------------------------------------- the writer */

typedef struct sbuf {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 256;
    while (b->len + n + 1 > nc) nc *= 2;
    char *ns = realloc(b->s, nc);
    if (!ns) {
      b->oom = 1;
      return;
    }
    b->s = ns;
    b->cap = nc;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_num(sbuf *b, double v) {
  char buf[40];
  sb_str(b, moelab_format_double(v, buf));
}

static void sb_jstring(sbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    char esc[8];
    switch (*c) {
    case '"': sb_str(b, "\\\""); break;
    case '\\': sb_str(b, "\\\\"); break;
    case '\n': sb_str(b, "\\n"); break;
    case '\r': sb_str(b, "\\r"); break;
    case '\t': sb_str(b, "\\t"); break;
    default:
      if (*c < 0x20) {
        snprintf(esc, sizeof esc, "\\u%04x", *c);
        sb_str(b, esc);
      } else {
        sb_put(b, (const char *)c, 1);
      }
    }
  }
  sb_put(b, "\"", 1);
}

static void sb_vec(sbuf *b, const double *v, size_t n) {
  sb_str(b, "[");
  for (size_t i = 0; i < n; i++) {
    if (i) sb_str(b, ", ");
    sb_num(b, v[i]);
  }
  sb_str(b, "]");
}

static void sb_indent(sbuf *b, int level) {
  for (int i = 0; i < level; i++) sb_str(b, "  ");
}

static int all_scalars(const cJSON *item) {
  for (const cJSON *e = item->child; e; e = e->next)
    if (cJSON_IsArray(e) || cJSON_IsObject(e)) return 0;
  return 1;
}

/* Prints a cJSON value, numbers exactly: at level >= 0 pretty (objects one member a line, arrays of scalars on
 * one line, indented for `level`); at level < 0 compact, without any white space. */
static void sb_cjson(sbuf *b, const cJSON *item, int level) {
  int compact = level < 0, inner = compact ? -1 : level + 1;
  if (cJSON_IsObject(item)) {
    if (!item->child) {
      sb_str(b, "{}");
      return;
    }
    sb_str(b, compact ? "{" : "{\n");
    for (const cJSON *e = item->child; e; e = e->next) {
      sb_indent(b, inner);
      sb_jstring(b, e->string);
      sb_str(b, compact ? ":" : ": ");
      sb_cjson(b, e, inner);
      if (e->next)
        sb_str(b, compact ? "," : ",\n");
      else if (!compact)
        sb_str(b, "\n");
    }
    sb_indent(b, level);
    sb_str(b, "}");
  } else if (cJSON_IsArray(item)) {
    int flat = compact || all_scalars(item);
    sb_str(b, flat ? "[" : "[\n");
    for (const cJSON *e = item->child; e; e = e->next) {
      if (!flat) sb_indent(b, inner);
      sb_cjson(b, e, inner);
      if (e->next) sb_str(b, compact ? "," : flat ? ", " : ",\n");
    }
    if (!flat) {
      sb_str(b, "\n");
      sb_indent(b, level);
    }
    sb_str(b, "]");
  } else if (cJSON_IsNumber(item)) {
    if (isfinite(item->valuedouble))
      sb_num(b, item->valuedouble);
    else
      sb_str(b, "null");
  } else if (cJSON_IsString(item)) {
    sb_jstring(b, item->valuestring);
  } else if (cJSON_IsTrue(item)) {
    sb_str(b, "true");
  } else if (cJSON_IsFalse(item)) {
    sb_str(b, "false");
  } else {
    sb_str(b, "null");
  }
}

char *ml_json_exact_text(const cJSON *item) {
  sbuf b = {NULL, 0, 0, 0};
  sb_cjson(&b, item, -1);
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

int moelab_model_to_string(const moelab_model *m, char **text, moelab_error *err) {
  if (!m || !text) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  int st = moelab_model_validate(m, err);
  if (st) return st;
  sbuf b = {NULL, 0, 0, 0};
  char tmp[64];
  sb_str(&b, "{\n  \"format\": \"moelab-model\",\n  \"version\": 1,\n  \"gate\": ");
  sb_jstring(&b, moelab_gate_name(m->gate));
  sb_str(&b, ",\n  \"expert\": ");
  sb_jstring(&b, moelab_expert_name(m->expert));
  snprintf(tmp, sizeof tmp, ",\n  \"degree\": %d,\n  \"d\": %zu,\n  \"k\": %zu,\n", m->degree, m->d, m->k);
  sb_str(&b, tmp);
  sb_str(&b, "  \"atoms\": [\n");
  for (size_t i = 0; i < m->k; i++) {
    const double *t = m->theta + i * m->stride;
    sb_str(&b, "    {\"beta0\": ");
    sb_num(&b, t[0]);
    sb_str(&b, ", \"beta1\": ");
    sb_vec(&b, t + 1, m->d);
    sb_str(&b, ", \"eta\": ");
    sb_vec(&b, t + 1 + m->d, m->q);
    sb_str(&b, i + 1 < m->k ? "},\n" : "}\n");
  }
  sb_str(&b, "  ]");
  if (m->has_input) {
    int normal = m->input.law == MOELAB_LAW_NORMAL;
    sb_str(&b, ",\n  \"input\": {\"law\": ");
    sb_jstring(&b, moelab_law_name(m->input.law));
    sb_str(&b, normal ? ", \"mean\": " : ", \"low\": ");
    sb_vec(&b, m->input.a, m->d);
    sb_str(&b, normal ? ", \"sd\": " : ", \"high\": ");
    sb_vec(&b, m->input.b, m->d);
    sb_str(&b, "}");
  }
  if (m->has_noise) {
    sb_str(&b, ",\n  \"noise\": ");
    sb_num(&b, m->noise);
  }
  if (m->extra) {
    cJSON *extra = cJSON_Parse(m->extra);
    if (!extra) {
      free(b.s);
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "extra", "extra members are not valid JSON");
    }
    for (const cJSON *e = extra->child; e; e = e->next) {
      if (!e->string || is_known(e->string)) continue;
      sb_str(&b, ",\n  ");
      sb_jstring(&b, e->string);
      sb_str(&b, ": ");
      sb_cjson(&b, e, 1);
    }
    cJSON_Delete(extra);
  }
  sb_str(&b, "\n}\n");
  if (b.oom) {
    free(b.s);
    return ml_nomem(err);
  }
  *text = b.s;
  return MOELAB_OK;
}

int moelab_model_write(FILE *fp, const moelab_model *m, moelab_error *err) {
  if (!fp) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL stream");
  char *text = NULL;
  int st = moelab_model_to_string(m, &text, err);
  if (st) return st;
  size_t n = strlen(text);
  size_t w = fwrite(text, 1, n, fp);
  free(text);
  if (w != n) return ml_fail(err, MOELAB_EIO, NULL, 0, NULL, "write error: %s", strerror(errno));
  return MOELAB_OK;
}
