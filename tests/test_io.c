/*
 * test_io.c — model JSON and CSV files: bit-exact round trips and precise
 * errors (status, line, field) on bad input.
 */
#include "check.h"
#include "moelab.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>
#include <unistd.h>

static const char *good_model =
    "{\"format\": \"moelab-model\", \"version\": 1,\n"
    " \"gate\": \"sigmoid\", \"expert\": \"relu\", \"degree\": 1, \"d\": 1,\n"
    " \"atoms\": [{\"beta0\": 0.0, \"beta1\": [0.0], \"eta\": [1.0, 0.5]},\n"
    "           {\"beta0\": -0.5, \"beta1\": [-3.0], \"eta\": [-2.0, 1.0]}],\n"
    " \"input\": {\"law\": \"uniform\", \"low\": [-1.0], \"high\": [1.0]},\n"
    " \"noise\": 0.01}\n";

static void test_read_good_model(void) {
  moelab_model *m = NULL;
  moelab_error err;
  CHECK_STATUS(moelab_model_read_buffer(good_model, strlen(good_model), "m.json", &m, &err), MOELAB_OK);
  if (!m) return;
  CHECK(m->gate == MOELAB_GATE_SIGMOID && m->expert == MOELAB_EXPERT_RELU);
  CHECK(m->d == 1 && m->k == 2 && m->p == 8);
  double want[8] = {0, 0, 1, 0.5, -0.5, -3, -2, 1};
  for (int j = 0; j < 8; j++) CHECK_SAME(m->theta[j], want[j]);
  CHECK(m->has_input && m->input.law == MOELAB_LAW_UNIFORM && m->input.a[0] == -1 && m->input.b[0] == 1);
  CHECK(m->has_noise && m->noise == 0.01);
  CHECK(m->extra == NULL);
  moelab_model_free(m);
}

/* Random doubles of every magnitude survive write -> read bit for bit;
 * unknown members are carried along. */
static void test_model_round_trip(void) {
  void *vr = NULL;
  moelab_rng_new(11, 0, &vr, NULL);
  gsl_rng *r = vr;
  for (int rep = 0; rep < 20; rep++) {
    moelab_model *m = NULL;
    moelab_model_new(rep % 2 ? MOELAB_GATE_SOFTMAX : MOELAB_GATE_SIGMOID,
                     (moelab_expert)(rep % 7), 1 + rep % 3, 1 + (size_t)rep % 4, 1 + (size_t)rep % 5, &m, NULL);
    for (size_t j = 0; j < m->p; j++) {
      uint64_t bits = ((uint64_t)gsl_rng_get(r) << 32) | gsl_rng_get(r);
      double v;
      memcpy(&v, &bits, sizeof v);
      if (!isfinite(v)) v = 0.1 * (double)j;
      m->theta[j] = v;
    }
    m->theta[0] = -0.0;
    if (m->p > 1) m->theta[1] = 4.9406564584124654e-324; /* smallest subnormal */
    double lo[4] = {-1, -2, 0.1, 1e-7}, hi[4] = {1, 2, 0.3, 2e-7};
    moelab_model_set_input(m, rep % 3 == 1 ? MOELAB_LAW_NORMAL : MOELAB_LAW_UNIFORM, lo, hi, NULL);
    moelab_model_set_noise(m, 1.0 / 3.0, NULL);
    CHECK_STATUS(moelab_model_set_extra(m, "{\"fit\": {\"sse\": 0.1, \"options\": [1, 2, \"x\\\"y\"]}}", NULL),
                 MOELAB_OK);
    char *text = NULL;
    CHECK_STATUS(moelab_model_to_string(m, &text, NULL), MOELAB_OK);
    moelab_model *b = NULL;
    moelab_error err;
    CHECK_STATUS(moelab_model_read_buffer(text, strlen(text), "rt", &b, &err), MOELAB_OK);
    if (b) {
      CHECK(b->gate == m->gate && b->expert == m->expert && b->degree == m->degree && b->d == m->d &&
            b->k == m->k);
      CHECK(memcmp(b->theta, m->theta, m->p * sizeof(double)) == 0);
      CHECK(memcmp(b->input.a, m->input.a, m->d * sizeof(double)) == 0);
      CHECK(memcmp(b->input.b, m->input.b, m->d * sizeof(double)) == 0);
      CHECK_SAME(b->noise, m->noise);
      CHECK(b->extra && strstr(b->extra, "\"sse\":0.1") != NULL);
      char *text2 = NULL;
      moelab_model_to_string(b, &text2, NULL);
      CHECK(text2 && strcmp(text, text2) == 0);
      free(text2);
    }
    free(text);
    moelab_model_free(b);
    moelab_model_free(m);
  }
  moelab_rng_free(r);
}

/* Numbers in members the reader does not know (a fit report) keep every bit:
 * cJSON's printer would shorten 0.10000000000000002 to 0.1. */
static void test_extra_numbers_exact(void) {
  const char *text = "{\"gate\": \"sigmoid\", \"expert\": \"constant\", \"d\": 1,\n"
                     " \"atoms\": [{\"beta0\": 0, \"beta1\": [0], \"eta\": [1]}],\n"
                     " \"fit\": {\"sse\": 0.10000000000000002,\n"
                     "         \"it\": [1.0000000000000002, 4.9406564584124654e-324]}}\n";
  moelab_model *m = NULL, *b = NULL;
  CHECK_STATUS(moelab_model_read_buffer(text, strlen(text), "x.json", &m, NULL), MOELAB_OK);
  if (!m) return;
  CHECK(m->extra && strstr(m->extra, "0.10000000000000002") && strstr(m->extra, "1.0000000000000002") &&
        strstr(m->extra, "4.94065645841247e-324"));
  char *t1 = NULL, *t2 = NULL;
  CHECK_STATUS(moelab_model_to_string(m, &t1, NULL), MOELAB_OK);
  CHECK(t1 && strstr(t1, "\"sse\": 0.10000000000000002"));
  if (t1) CHECK_STATUS(moelab_model_read_buffer(t1, strlen(t1), "t1.json", &b, NULL), MOELAB_OK);
  if (b) CHECK_STATUS(moelab_model_to_string(b, &t2, NULL), MOELAB_OK);
  CHECK(t1 && t2 && strcmp(t1, t2) == 0);
  free(t1);
  free(t2);
  moelab_model_free(m);
  moelab_model_free(b);
}

static void test_format_double(void) {
  char buf[40];
  CHECK(strcmp(moelab_format_double(0.1, buf), "0.1") == 0);
  CHECK(strcmp(moelab_format_double(1.0 / 3.0, buf), "0.3333333333333333") == 0);
  CHECK(strcmp(moelab_format_double(-0.0, buf), "-0") == 0);
  CHECK(strcmp(moelab_format_double(1e300, buf), "1e+300") == 0);
}

typedef struct bad_case {
  const char *text;
  int status;
  long line;
  const char *field;
  const char *msg;
} bad_case;

static void test_bad_models(void) {
  const bad_case cases[] = {
      {"", MOELAB_EPARSE, 0, "", "empty file"},
      {"   \n", MOELAB_EPARSE, 0, "", "empty file"},
      {"{\"gate\": \"sigmoid\",\n \"expert\": \"relu\",\n \"atoms\": [", MOELAB_EPARSE, 3, "", "invalid JSON"},
      {"{\"gate\": \"sigmoid\" \"expert\": 1}", MOELAB_EPARSE, 1, "", "invalid JSON"},
      {"{\"gate\": \"sigmoid\",\n \"expert\": \"relu\"\n \"d\": 1}\n", MOELAB_EPARSE, 3, "", "near '\"d\": 1}'"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"atoms\": [\n  {\"beta0\": 0, \"beta1\": [0", MOELAB_EPARSE, 2,
       "", "invalid JSON: the text ends too early"},
      {"{\"gate\": \"sig", MOELAB_EPARSE, 1, "", "ends too early"},
      {"[1, 2]", MOELAB_EPARSE, 1, "", "JSON object"},
      {"{\"gate\": \"tanh\",\n\"expert\": \"relu\", \"atoms\": []}", MOELAB_EPARSE, 1, "gate", "unknown gate"},
      {"{\"gate\": \"sigmoid\",\n\"expert\": \"cubic\", \"atoms\": []}", MOELAB_EPARSE, 2, "expert",
       "unknown expert"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\",\n\"atoms\": []}", MOELAB_EINVAL, 2, "atoms", "k >= 1"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 0,\n\"atoms\": [{}]}", MOELAB_EINVAL, 1, "d",
       "out of range"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 2, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0, 0], \"eta\": [1, 2, 3]},\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2, 3]}]}",
       MOELAB_EPARSE, 3, "atoms[1].beta1", "expected 2 numbers"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1]}]}",
       MOELAB_EPARSE, 2, "atoms[0].eta", "expected 2 numbers"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": \"x\", \"beta1\": [0], \"eta\": [1, 2]}]}",
       MOELAB_EPARSE, 2, "atoms[0].beta0", "expected a number"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 1e999, \"beta1\": [0], \"eta\": [1, 2]}]}",
       MOELAB_EPARSE, 2, "atoms[0].beta0", "not finite"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2]}],\n\"noise\": -1}",
       MOELAB_EINVAL, 3, "noise", ">= 0"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2]}],\n"
       "\"input\": {\"law\": \"uniform\", \"low\": [1], \"high\": [0]}}",
       MOELAB_EINVAL, 3, "input.high", "low must be < high"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2]}],\n"
       "\"input\": {\"law\": \"cauchy\", \"low\": [1], \"high\": [0]}}",
       MOELAB_EPARSE, 3, "input.law", "unknown law"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"poly\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2]}]}",
       MOELAB_EPARSE, 1, "expert", "degree"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"k\": 3, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2]}]}",
       MOELAB_EPARSE, 1, "k", "has 1 entry"},
      {"{\"gate\": \"sigmoid\", \"gate\": \"softmax\", \"expert\": \"relu\", \"atoms\": []}", MOELAB_EPARSE, 1,
       "gate", "twice"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2], \"weight\": 3}]}",
       MOELAB_EPARSE, 2, "atoms[0].weight", "unknown atom member"},
      {"{\"format\": \"other\", \"gate\": \"sigmoid\"}", MOELAB_EPARSE, 1, "format", "moelab-model"},
      {"{\"version\": 2, \"gate\": \"sigmoid\"}", MOELAB_EPARSE, 1, "version", "unsupported"},
      {"{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1, \"atoms\": [\n"
       "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2]}]} trailing",
       MOELAB_EPARSE, 2, "", "after the JSON"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    moelab_model *m = NULL;
    moelab_error err;
    moelab_error_clear(&err);
    /* an exactly sized copy without a terminating NUL: the reader must stay inside len bytes (ASan) */
    size_t len = strlen(cases[c].text);
    char *text = malloc(len ? len : 1);
    if (!text) continue;
    memcpy(text, cases[c].text, len);
    int st = moelab_model_read_buffer(text, len, "bad.json", &m, &err);
    free(text);
    CHECK_MSG(st == cases[c].status, "case %zu: status %d, want %d (%s)", c, st, cases[c].status, err.message);
    CHECK_MSG(m == NULL, "case %zu", c);
    CHECK_MSG(strcmp(err.file, "bad.json") == 0, "case %zu", c);
    CHECK_MSG(err.line == cases[c].line, "case %zu: line %ld, want %ld", c, err.line, cases[c].line);
    CHECK_MSG(strcmp(err.field, cases[c].field) == 0, "case %zu: field '%s', want '%s'", c, err.field,
              cases[c].field);
    CHECK_MSG(strstr(err.message, cases[c].msg) != NULL, "case %zu: message '%s' lacks '%s'", c, err.message,
              cases[c].msg);
    CHECK_MSG(strchr(err.message, '\n') == NULL, "case %zu: message '%s' spans lines", c, err.message);
    moelab_model_free(m);
  }
  moelab_model *m = NULL;
  moelab_error err;
  /* degree matters for poly only: another family ignores it (even 0) and has degree 1 */
  const char *relu0 = "{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"degree\": 0, \"d\": 1, \"atoms\": [\n"
                      "  {\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 2]}]}";
  CHECK_STATUS(moelab_model_read_buffer(relu0, strlen(relu0), "relu0.json", &m, &err), MOELAB_OK);
  CHECK(m && m->degree == 1);
  moelab_model_free(m);
  m = NULL;
  CHECK_STATUS(moelab_model_read_file("/nonexistent/m.json", &m, &err), MOELAB_EIO);
  CHECK(strcmp(err.file, "/nonexistent/m.json") == 0);
}

static FILE *text_stream(const char *text) {
  FILE *fp = tmpfile();
  fputs(text, fp);
  rewind(fp);
  return fp;
}

static void test_csv_read(void) {
  FILE *fp = text_stream("x2,\"x1\",y,note\r\n1.5,2,3,a\n\n-4e-3, 5 ,6,b\n");
  moelab_data *D = NULL;
  moelab_error err;
  CHECK_STATUS(moelab_csv_read(fp, "t.csv", NULL, &D, &err), MOELAB_OK);
  fclose(fp);
  if (!D) return;
  CHECK(D->n == 2 && D->d == 2 && D->y);
  CHECK(D->X[0] == 2 && D->X[1] == 1.5 && D->X[2] == 5 && D->X[3] == -4e-3);
  CHECK(D->y[0] == 3 && D->y[1] == 6);
  CHECK(strcmp(D->names[0], "x1") == 0 && strcmp(D->names[2], "y") == 0);
  moelab_data_free(D);
  /* explicit columns */
  const char *xs[1] = {"stretchratio"};
  moelab_csv_spec spec = {xs, 1, "tuned", 1, 1};
  fp = text_stream("\"stretchratio\",\"tuned\"\n1.35,1.461\n1.4,1.407\n");
  CHECK_STATUS(moelab_csv_read(fp, "tone.csv", &spec, &D, &err), MOELAB_OK);
  fclose(fp);
  if (D) CHECK(D->n == 2 && D->X[1] == 1.4 && D->y[1] == 1.407);
  moelab_data_free(D);
}

static void test_csv_round_trip(void) {
  void *vr = NULL;
  moelab_rng_new(12, 0, &vr, NULL);
  gsl_rng *r = vr;
  moelab_data *D = NULL;
  moelab_data_new(100, 3, 1, &D, NULL);
  for (size_t i = 0; i < 300; i++) D->X[i] = (gsl_rng_uniform(r) - 0.5) * pow(10, (double)(i % 40) - 20);
  for (size_t i = 0; i < 100; i++) D->y[i] = gsl_rng_uniform(r) / 3;
  FILE *fp = tmpfile();
  moelab_data_view v = moelab_data_as_view(D);
  CHECK_STATUS(moelab_csv_write(fp, &v, NULL, 0, NULL, NULL, NULL), MOELAB_OK);
  rewind(fp);
  moelab_data *B = NULL;
  CHECK_STATUS(moelab_csv_read(fp, "rt.csv", NULL, &B, NULL), MOELAB_OK);
  fclose(fp);
  if (B) {
    CHECK(B->n == 100 && B->d == 3);
    CHECK(memcmp(B->X, D->X, 300 * sizeof(double)) == 0);
    CHECK(memcmp(B->y, D->y, 100 * sizeof(double)) == 0);
  }
  moelab_data_free(B);
  moelab_data_free(D);
  moelab_rng_free(r);
}

static void test_csv_bad(void) {
  const struct {
    const char *text;
    size_t expect_d;
    int require_y;
    int status;
    long line;
    const char *field;
    const char *msg;
  } cases[] = {
      {"", 0, 0, MOELAB_EPARSE, 0, "", "empty file"},
      {"\n\n", 0, 0, MOELAB_EPARSE, 0, "", "empty file"},
      {"x1,y\n", 0, 0, MOELAB_EPARSE, 1, "", "no data rows"},
      {"x1,y\n1,2\n3,abc\n", 0, 0, MOELAB_EPARSE, 3, "y", "not a number"},
      {"x1,y\n1,2\n,4\n", 0, 0, MOELAB_EPARSE, 3, "x1", "empty field"},
      {"x1,y\n1,nan\n", 0, 0, MOELAB_EPARSE, 2, "y", "NaN or infinite"},
      {"x1,y\n1,-inf\n", 0, 0, MOELAB_EPARSE, 2, "y", "NaN or infinite"},
      {"x1,y\n1,1e999\n", 0, 0, MOELAB_EPARSE, 2, "y", "NaN or infinite"},
      {"x1,y\n1,0x10\n", 0, 0, MOELAB_EPARSE, 2, "y", "not a number"},
      {"x1,y\n1,2\n3\n", 0, 0, MOELAB_EPARSE, 3, "", "1 field but the header has 2"},
      {"x1,y\n1,2,3\n", 0, 0, MOELAB_EPARSE, 2, "", "3 fields"},
      {"x1,x2,y\n1,2,3\n", 1, 0, MOELAB_EPARSE, 1, "", "model has d = 1"},
      {"x1,x3,y\n1,2,3\n", 0, 0, MOELAB_EPARSE, 1, "x2", "lacks input column x2"},
      {"a,b\n1,2\n", 0, 0, MOELAB_EPARSE, 1, "", "no input columns"},
      {"x1,x1\n1,2\n", 0, 0, MOELAB_EPARSE, 1, "x1", "twice"},
      {"x1,\n1,2\n", 0, 0, MOELAB_EPARSE, 1, "", "empty name"},
      {"x1\n1\n", 0, 1, MOELAB_EPARSE, 1, "y", "no output column"},
      {"x1,y\n1,2 3\n", 0, 0, MOELAB_EPARSE, 2, "y", "not a number"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    FILE *fp = text_stream(cases[c].text);
    moelab_csv_spec spec = {NULL, 0, NULL, cases[c].expect_d, cases[c].require_y};
    moelab_data *D = NULL;
    moelab_error err;
    moelab_error_clear(&err);
    int st = moelab_csv_read(fp, "bad.csv", &spec, &D, &err);
    fclose(fp);
    CHECK_MSG(st == cases[c].status, "case %zu: status %d (%s)", c, st, err.message);
    CHECK_MSG(D == NULL, "case %zu", c);
    CHECK_MSG(err.line == cases[c].line, "case %zu: line %ld, want %ld (%s)", c, err.line, cases[c].line,
              err.message);
    CHECK_MSG(strcmp(err.field, cases[c].field) == 0, "case %zu: field '%s' want '%s'", c, err.field,
              cases[c].field);
    CHECK_MSG(strstr(err.message, cases[c].msg) != NULL, "case %zu: message '%s' lacks '%s'", c, err.message,
              cases[c].msg);
    CHECK_MSG(strchr(err.message, '\n') == NULL, "case %zu: message '%s' spans lines", c, err.message);
    moelab_data_free(D);
  }
  /* a NUL byte and an over-long line */
  FILE *fp = tmpfile();
  fwrite("x1,y\n1,\0002\n", 1, 11, fp);
  rewind(fp);
  moelab_data *D = NULL;
  moelab_error err;
  CHECK_STATUS(moelab_csv_read(fp, "nul.csv", NULL, &D, &err), MOELAB_EPARSE);
  CHECK(err.line == 2);
  fclose(fp);
  fp = tmpfile();
  fputs("x1,y\n", fp);
  for (int i = 0; i < MOELAB_MAX_LINE / 8 + 10; i++) fputs("11111111", fp);
  fputs(",1\n", fp);
  rewind(fp);
  CHECK_STATUS(moelab_csv_read(fp, "long.csv", NULL, &D, &err), MOELAB_ELIMIT);
  CHECK(err.line == 2);
  fclose(fp);
}

static void test_outfile(void) {
  char dir[] = "/tmp/moelab-test-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/out.txt", dir);
  moelab_outfile *o = NULL;
  CHECK_STATUS(moelab_outfile_new(path, &o, NULL), MOELAB_OK);
  fputs("partial", moelab_outfile_stream(o));
  fflush(moelab_outfile_stream(o));
  FILE *probe = fopen(path, "r");
  CHECK(probe == NULL); /* nothing at the target before the commit */
  if (probe) fclose(probe);
  moelab_outfile_free(o); /* abandoned: no file, no temporary */
  probe = fopen(path, "r");
  CHECK(probe == NULL);
  if (probe) fclose(probe);
  CHECK_STATUS(moelab_outfile_new(path, &o, NULL), MOELAB_OK);
  fputs("done\n", moelab_outfile_stream(o));
  CHECK_STATUS(moelab_outfile_commit(o, NULL), MOELAB_OK);
  moelab_outfile_free(o);
  probe = fopen(path, "r");
  char buf[16] = "";
  CHECK(probe && fgets(buf, sizeof buf, probe) && strcmp(buf, "done\n") == 0);
  if (probe) fclose(probe);
  remove(path);
  CHECK(rmdir(dir) == 0); /* empty: no temporary file left behind */
  moelab_error err;
  CHECK_STATUS(moelab_outfile_new("/nonexistent/dir/x", &o, &err), MOELAB_EIO);
}

CHECK_MAIN(T(test_read_good_model), T(test_model_round_trip), T(test_extra_numbers_exact), T(test_format_double),
           T(test_bad_models), T(test_csv_read), T(test_csv_round_trip), T(test_csv_bad), T(test_outfile))
