/*
 * test_alloc.c — allocation failures.  Whichever allocation fails, every
 * library call that allocates must either succeed or return MOELAB_ENOMEM
 * (with err filled in), leave its outputs untouched on failure, and leak
 * nothing.
 *
 * The test is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc:
 * the library's (and this file's) calls go to the __wrap_ functions below,
 * which fail the N-th allocation of an operation.  Each operation is run with
 * N = 1, 2, 3, ... until it completes without reaching its N-th allocation.
 * Allocations made inside shared libraries (cJSON, GSL, libc, the OpenMP
 * runtime) are not wrapped.  Leaks are reported by LeakSanitizer in the
 * sanitizer build (make asan) and by valgrind (scripts/valgrind.sh).
 */
#include "check.h"
#include "moelab.h"

#include <gsl/gsl_errno.h>
#include <stdint.h>
#include <unistd.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static int armed;     /* count (and fail) allocations only while an operation runs */
static long count;    /* allocations since the operation started */
static long fail_at;  /* the allocation that fails (1-based) */

static int fail_now(void) { return armed && ++count == fail_at; }

/* A file that every operation must leave alone.  While an operation runs,
 * fresh malloc blocks start with its name, so that code which uses a buffer
 * before writing it (e.g. unlinks a name it never made) is caught. */
static char canary[64];

void *__wrap_malloc(size_t size) {
  if (fail_now()) return NULL;
  char *p = __real_malloc(size);
  size_t n = strlen(canary);
  if (p && armed && n && size > n) memcpy(p, canary, n + 1);
  return p;
}

void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }

/* A failing realloc leaves the block as it was, as the real one does. */
void *__wrap_realloc(void *ptr, size_t size) { return fail_now() ? NULL : __real_realloc(ptr, size); }

static void make_canary(void) {
  FILE *fp = fopen(canary, "w");
  if (fp) fclose(fp);
}

/* An operation: runs one library call on `ctx`, checks what it can, frees
 * what the call returned and gives back its status. */
typedef int (*op_fn)(void *ctx, moelab_error *err);

static void run_op(const char *name, op_fn op, void *ctx) {
  long n = 1;
  for (;; n++) {
    moelab_error err;
    moelab_error_clear(&err);
    count = 0;
    fail_at = n;
    armed = 1;
    int st = op(ctx, &err);
    armed = 0;
    if (count < n) {
      /* the n-th allocation never came: this run had no failure */
      CHECK_MSG(st == MOELAB_OK, "%s: status %d (%s) without a failed allocation: %s", name, st,
                moelab_status_str(st), err.message);
      break;
    }
    CHECK_MSG(st == MOELAB_OK || st == MOELAB_ENOMEM, "%s: allocation %ld of %ld failed: status %d (%s): %s", name,
              n, count, st, moelab_status_str(st), err.message);
    if (st != MOELAB_OK) CHECK_MSG(err.status == st, "%s: allocation %ld: err.status %d", name, n, err.status);
    if (canary[0] && access(canary, F_OK) != 0) {
      CHECK_MSG(0, "%s: allocation %ld failed: the file named by uninitialised memory was removed", name, n);
      make_canary();
    }
    if (n > 100000) {
      CHECK_MSG(0, "%s: more than 100000 allocations", name);
      break;
    }
  }
  CHECK_MSG(n > 1, "%s made no allocation", name);
  fprintf(stderr, "     %s: %ld allocation%s, each made to fail once\n", name, n - 1, n == 2 ? "" : "s");
}

/* ------------------------------------------------------------ the inputs */

static const char *model_text =
    "{\"format\": \"moelab-model\", \"version\": 1,\n"
    " \"gate\": \"softmax\", \"expert\": \"relu\", \"degree\": 1, \"d\": 2,\n"
    " \"atoms\": [{\"beta0\": 0.0, \"beta1\": [0.5, 0.0], \"eta\": [1.0, 0.5, 0.25]},\n"
    "           {\"beta0\": -0.5, \"beta1\": [-3.0, 1.0], \"eta\": [-2.0, 1.0, 0.0]}],\n"
    " \"input\": {\"law\": \"normal\", \"mean\": [0, 1], \"sd\": [1, 2]},\n"
    " \"noise\": 0.01,\n"
    " \"fit\": {\"sse\": 0.125, \"options\": [1, 2, \"x\"]}}\n";

typedef struct ctx_model {
  const moelab_model *a, *b;
  const moelab_input *mu;
} ctx_model;

static moelab_model *make_model(moelab_gate gate, moelab_expert expert, size_t d, moelab_law law) {
  moelab_model *m = NULL;
  if (moelab_model_new(gate, expert, 1, d, 2, &m, NULL)) return NULL;
  for (size_t j = 0; j < m->p; j++) m->theta[j] = 0.25 * (double)((j * 7) % 5) - 0.5;
  double lo[4] = {-1, -1, -1, -1}, hi[4] = {1, 2, 3, 4};
  moelab_model_set_input(m, law, lo, hi, NULL);
  moelab_model_set_noise(m, 0.5, NULL);
  return m;
}

/* ----------------------------------------------------------- the operations */

static int op_read_buffer(void *ctx, moelab_error *err) {
  (void)ctx;
  moelab_model *m = NULL;
  int st = moelab_model_read_buffer(model_text, strlen(model_text), "m.json", &m, err);
  if (st) CHECK(m == NULL);
  moelab_model_free(m);
  return st;
}

static int op_to_string(void *ctx, moelab_error *err) {
  const ctx_model *c = ctx;
  char *text = NULL;
  int st = moelab_model_to_string(c->a, &text, err);
  if (st) CHECK(text == NULL);
  if (!st) CHECK(strstr(text, "\"fit\"") != NULL);
  free(text);
  return st;
}

static int op_model_write(void *ctx, moelab_error *err) {
  const ctx_model *c = ctx;
  FILE *fp = tmpfile();
  if (!fp) return MOELAB_EIO;
  int st = moelab_model_write(fp, c->a, err);
  fclose(fp);
  return st;
}

static int op_model_copy(void *ctx, moelab_error *err) {
  const ctx_model *c = ctx;
  moelab_model *m = NULL;
  int st = moelab_model_copy(c->a, &m, err);
  if (st) CHECK(m == NULL);
  if (!st) CHECK(m->has_input && m->extra != NULL && memcmp(m->theta, c->a->theta, m->p * sizeof(double)) == 0);
  moelab_model_free(m);
  return st;
}

static int op_model_new(void *ctx, moelab_error *err) {
  (void)ctx;
  moelab_model *m = NULL;
  int st = moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_POLY, 3, 4, 5, &m, err);
  if (st) CHECK(m == NULL);
  moelab_model_free(m);
  return st;
}

static int op_set_input_extra(void *ctx, moelab_error *err) {
  (void)ctx;
  moelab_model *m = NULL;
  int st = moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 2, 2, &m, err);
  if (st) return st;
  double lo[2] = {0, 0}, hi[2] = {1, 1};
  st = moelab_model_set_input(m, MOELAB_LAW_UNIFORM, lo, hi, err);
  if (st) CHECK(!m->has_input && m->input.a == NULL);
  if (!st) {
    st = moelab_model_set_extra(m, "{\"note\": \"x\"}", err);
    if (st) CHECK(m->extra == NULL);
  }
  moelab_model_free(m);
  return st;
}

static int op_simulate(void *ctx, moelab_error *err) {
  const ctx_model *c = ctx;
  moelab_data *D = NULL;
  int st = moelab_simulate(c->a, NULL, 100, 7, 3, &D, err);
  if (st) CHECK(D == NULL);
  if (!st) CHECK(D->n == 100 && D->y != NULL);
  moelab_data_free(D);
  return st;
}

static int op_draw_inputs(void *ctx, moelab_error *err) {
  const ctx_model *c = ctx;
  double X[2 * 50];
  return moelab_draw_inputs(&c->a->input, 2, 50, 1, 2, X, err);
}

static int op_data_new(void *ctx, moelab_error *err) {
  (void)ctx;
  moelab_data *D = NULL;
  int st = moelab_data_new(10, 3, 1, &D, err);
  if (st) CHECK(D == NULL);
  moelab_data_free(D);
  return st;
}

static int op_rng_new(void *ctx, moelab_error *err) {
  (void)ctx;
  void *r = NULL;
  int st = moelab_rng_new(1, 2, &r, err);
  if (st) CHECK(r == NULL);
  moelab_rng_free(r);
  return st;
}

static int op_l2(void *ctx, moelab_error *err) {
  const ctx_model *c = ctx;
  double dist = -1, aerr = -1;
  moelab_l2_options o = {32, 4096};
  int st = moelab_l2_distance(c->a, c->b, c->mu, &o, &dist, &aerr, err);
  if (st) CHECK(dist == -1 && aerr == -1);
  if (!st) CHECK(dist >= 0 && aerr >= 0);
  return st;
}

typedef struct ctx_csv {
  FILE *fp;
  const moelab_csv_spec *spec;
  size_t n, d;
} ctx_csv;

static int op_csv_read(void *ctx, moelab_error *err) {
  const ctx_csv *c = ctx;
  rewind(c->fp);
  moelab_data *D = NULL;
  int st = moelab_csv_read(c->fp, "d.csv", c->spec, &D, err);
  if (st) CHECK(D == NULL);
  if (!st) {
    CHECK(D->n == c->n && D->d == c->d && D->y != NULL);
    CHECK(D->X[(c->n - 1) * c->d] == (double)(c->n - 1));
  }
  moelab_data_free(D);
  return st;
}

typedef struct ctx_out {
  const char *path;
  const moelab_data *data;
} ctx_out;

/* An atomic output file: on any failure neither the target nor a temporary file may remain. */
static int op_outfile(void *ctx, moelab_error *err) {
  const ctx_out *c = ctx;
  moelab_outfile *o = NULL;
  int st = moelab_outfile_new(c->path, &o, err);
  if (st) CHECK(o == NULL);
  if (!st) {
    moelab_data_view v = moelab_data_as_view(c->data);
    st = moelab_csv_write(moelab_outfile_stream(o), &v, NULL, 0, NULL, NULL, err);
    if (!st) st = moelab_outfile_commit(o, err);
  }
  moelab_outfile_free(o);
  CHECK(st ? access(c->path, F_OK) != 0 : access(c->path, F_OK) == 0);
  unlink(c->path);
  return st;
}

/* ------------------------------------------------------------------ tests */

static void test_models(void) {
  moelab_model *m = make_model(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_GELU, 2, MOELAB_LAW_UNIFORM);
  CHECK(m != NULL);
  if (!m) return;
  ctx_model c = {m, NULL, NULL};
  CHECK_STATUS(moelab_model_set_extra(m, "{\"fit\": {\"sse\": 0.5, \"it\": [1, 2, {\"a\": null}]}}", NULL),
               MOELAB_OK);
  run_op("moelab_model_read_buffer", op_read_buffer, NULL);
  run_op("moelab_model_to_string", op_to_string, &c);
  run_op("moelab_model_write", op_model_write, &c);
  run_op("moelab_model_copy", op_model_copy, &c);
  run_op("moelab_model_new", op_model_new, NULL);
  run_op("moelab_model_set_input/extra", op_set_input_extra, NULL);
  run_op("moelab_rng_new", op_rng_new, NULL);
  moelab_model_free(m);
}

static void test_simulate(void) {
  moelab_model *m = make_model(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 2, MOELAB_LAW_NORMAL);
  CHECK(m != NULL);
  if (!m) return;
  ctx_model c = {m, NULL, NULL};
  run_op("moelab_simulate", op_simulate, &c);
  run_op("moelab_draw_inputs", op_draw_inputs, &c);
  run_op("moelab_data_new", op_data_new, NULL);
  moelab_model_free(m);
}

static void test_l2(void) {
  /* d = 1: Gauss-Legendre split at ReLU kinks (uniform), Gauss-Hermite (normal, no kinks); d = 2: Sobol */
  moelab_model *r1 = make_model(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1, MOELAB_LAW_UNIFORM);
  moelab_model *t1 = make_model(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_TANH, 1, MOELAB_LAW_NORMAL);
  moelab_model *r2 = make_model(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 2, MOELAB_LAW_UNIFORM);
  moelab_model *s2 = make_model(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_LINEAR, 2, MOELAB_LAW_NORMAL);
  CHECK(r1 && t1 && r2 && s2);
  if (r1 && t1 && r2 && s2) {
    ctx_model c1 = {r1, t1, NULL}, c2 = {t1, NULL, NULL}, c3 = {r2, s2, NULL}, c4 = {s2, r2, NULL};
    run_op("moelab_l2_distance (d = 1, Gauss-Legendre)", op_l2, &c1);
    run_op("moelab_l2_distance (d = 1, Gauss-Hermite)", op_l2, &c2);
    run_op("moelab_l2_distance (d = 2, uniform)", op_l2, &c3);
    run_op("moelab_l2_distance (d = 2, normal)", op_l2, &c4);
  }
  moelab_model_free(r1);
  moelab_model_free(t1);
  moelab_model_free(r2);
  moelab_model_free(s2);
}

static void test_csv(void) {
  /* 3000 rows: past the reader's first capacity (1024 rows), so its arrays grow */
  const size_t n = 3000;
  char *buf = NULL;
  size_t len = 0;
  FILE *w = open_memstream(&buf, &len);
  CHECK(w != NULL);
  if (!w) return;
  fprintf(w, "x2,note,x1,y\n");
  for (size_t r = 0; r < n; r++) fprintf(w, "%zu.5,\"row\",%zu,%g\n", r, r, 0.5 * (double)r);
  fclose(w);
  FILE *fp = fmemopen(buf, len, "r");
  CHECK(fp != NULL);
  if (fp) {
    ctx_csv c = {fp, NULL, n, 2};
    run_op("moelab_csv_read", op_csv_read, &c);
    static const char *const names[2] = {"x1", "note"};
    const moelab_csv_spec bad = {names, 2, NULL, 0, 1};
    static const char *const names1[1] = {"x1"};
    const moelab_csv_spec spec = {names1, 1, "y", 1, 1};
    ctx_csv c1 = {fp, &spec, n, 1};
    run_op("moelab_csv_read (named columns)", op_csv_read, &c1);
    /* a parse error after allocations: the status stays EPARSE, nothing leaks */
    rewind(fp);
    moelab_data *D = NULL;
    CHECK_STATUS(moelab_csv_read(fp, "d.csv", &bad, &D, NULL), MOELAB_EPARSE);
    fclose(fp);
  }
  free(buf);
}

static void test_outfile(void) {
  moelab_data *D = NULL;
  CHECK_STATUS(moelab_data_new(20, 2, 1, &D, NULL), MOELAB_OK);
  if (!D) return;
  char path[64];
  snprintf(path, sizeof path, "/tmp/moelab-test-alloc-%ld.csv", (long)getpid());
  ctx_out c = {path, D};
  run_op("moelab_outfile_new/commit", op_outfile, &c);
  moelab_data_free(D);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  snprintf(canary, sizeof canary, "/tmp/moelab-test-alloc-canary-%ld", (long)getpid());
  make_canary();
  static const check_test tests[] = {T(test_models), T(test_simulate), T(test_l2), T(test_csv), T(test_outfile)};
  int rc = check_run(tests, sizeof tests / sizeof tests[0], argc, argv);
  unlink(canary);
  return rc;
}
