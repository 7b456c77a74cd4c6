/*
 * io.c — CSV data files, number formatting and atomic output files.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ numbers */

char *moelab_format_double(double x, char *buf) {
  if (isnan(x)) {
    strcpy(buf, "nan");
    return buf;
  }
  if (isinf(x)) {
    strcpy(buf, x > 0 ? "inf" : "-inf");
    return buf;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, 32, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  return buf;
}

int ml_parse_double(const char *s, double *out) {
  while (*s == ' ' || *s == '\t') s++;
  if (*s == '\0') return 1;
  /* Decimal numbers only: hex floats, "inf", "nan" are rejected. */
  const char *c = s;
  if (*c == '+' || *c == '-') c++;
  if (!(isdigit((unsigned char)*c) || (*c == '.' && isdigit((unsigned char)c[1])))) {
    if (strncasecmp(c, "nan", 3) == 0 || strncasecmp(c, "inf", 3) == 0) return 3;
    return 2;
  }
  if (c[0] == '0' && (c[1] == 'x' || c[1] == 'X')) return 2;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s) return 2;
  while (*end == ' ' || *end == '\t') end++;
  if (*end != '\0') return 2;
  if (!isfinite(v)) return 3;
  *out = v;
  return 0;
}

/* ------------------------------------------------------------- line reader */

#define LR_CHUNK 65536

typedef struct line_reader {
  FILE *fp;
  char *buf;
  size_t cap, start, end; /* valid bytes: buf[start..end) */
  int eof;
  long lineno;
} line_reader;

/* 1: a line in *line (NUL-terminated, without its end), 0: end of input,
 * -1: line too long, -2: read error, -3: NUL byte in line. */
static int lr_next(line_reader *lr, char **line, size_t *len) {
  for (;;) {
    char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
    if (nl || (lr->eof && lr->end > lr->start)) {
      char *s = lr->buf + lr->start;
      size_t n = nl ? (size_t)(nl - s) : lr->end - lr->start;
      lr->start += nl ? n + 1 : n;
      lr->lineno++;
      if (n > MOELAB_MAX_LINE) return -1;
      if (n > 0 && s[n - 1] == '\r') n--;
      s[n] = '\0';
      if (memchr(s, '\0', n)) return -3;
      *line = s;
      *len = n;
      return 1;
    }
    if (lr->eof) return 0;
    if (lr->end - lr->start > MOELAB_MAX_LINE) {
      lr->lineno++;
      return -1;
    }
    if (lr->start > 0) {
      memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
      lr->end -= lr->start;
      lr->start = 0;
    }
    size_t room = lr->cap - lr->end - 1;
    size_t got = fread(lr->buf + lr->end, 1, room < LR_CHUNK ? room : LR_CHUNK, lr->fp);
    lr->end += got;
    if (got == 0) {
      if (ferror(lr->fp)) return -2;
      lr->eof = 1;
    }
  }
}

/* --------------------------------------------------------------- CSV read */

/* Splits `line` in place at commas into at most `max` fields (trimmed, with
 * one pair of surrounding double quotes removed).  Returns the field count
 * (which may exceed max: then only max are stored). */
static size_t split_fields(char *line, char **fields, size_t max) {
  size_t nf = 0;
  char *p = line;
  for (;;) {
    char *c = strchr(p, ',');
    if (c) *c = '\0';
    char *s = p;
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
      e[-1] = '\0';
      s++;
    }
    if (nf < max) fields[nf] = s;
    nf++;
    if (!c) break;
    p = c + 1;
  }
  return nf;
}

static int is_blank(const char *s) {
  for (; *s; s++)
    if (!isspace((unsigned char)*s)) return 0;
  return 1;
}

/* Input column index from a name "x<k>" (k >= 1, no leading zero); 0 if none. */
static size_t x_index(const char *name) {
  if (name[0] != 'x' || !isdigit((unsigned char)name[1]) || name[1] == '0') return 0;
  size_t v = 0;
  for (const char *c = name + 1; *c; c++) {
    if (!isdigit((unsigned char)*c)) return 0;
    v = v * 10 + (size_t)(*c - '0');
    if (v > MOELAB_MAX_D + 1) return MOELAB_MAX_D + 1;
  }
  return v;
}

typedef struct csv_state {
  line_reader lr;
  char **fields;
  size_t ncol;
  size_t *xcol; /* column of input j */
  long ycol;    /* column of the output, -1 if none */
  char **colnames;
} csv_state;

static void csv_state_free(csv_state *cs) {
  free(cs->lr.buf);
  free(cs->fields);
  free(cs->xcol);
  if (cs->colnames)
    for (size_t j = 0; j < cs->ncol; j++) free(cs->colnames[j]);
  free(cs->colnames);
}

static int lr_error(moelab_error *err, const char *name, long line, int code) {
  if (code == -1)
    return ml_fail(err, MOELAB_ELIMIT, name, line, NULL, "line longer than %d bytes", MOELAB_MAX_LINE);
  if (code == -3) return ml_fail(err, MOELAB_EPARSE, name, line, NULL, "line contains a NUL byte (binary file?)");
  return ml_fail(err, MOELAB_EIO, name, line, NULL, "read error: %s", strerror(errno));
}

/* Parses the header and decides which columns are inputs and output. */
static int csv_header(csv_state *cs, const char *name, const moelab_csv_spec *spec, char *line,
                      moelab_error *err) {
  long ln = cs->lr.lineno;
  size_t ncol = 1;
  for (const char *c = line; *c; c++)
    if (*c == ',') ncol++;
  if (ncol > MOELAB_MAX_D + 64)
    return ml_fail(err, MOELAB_ELIMIT, name, ln, NULL, "the header has %zu columns (limit %d)", ncol,
                   MOELAB_MAX_D + 64);
  cs->fields = ml_alloc(ncol, sizeof(char *));
  cs->colnames = ml_zalloc(ncol, sizeof(char *));
  if (!cs->fields || !cs->colnames) return ml_nomem(err);
  cs->ncol = ncol;
  split_fields(line, cs->fields, ncol);
  for (size_t j = 0; j < ncol; j++) {
    cs->colnames[j] = ml_strdup(cs->fields[j]);
    if (!cs->colnames[j]) return ml_nomem(err);
  }
  for (size_t j = 0; j < ncol; j++) {
    if (cs->colnames[j][0] == '\0')
      return ml_fail(err, MOELAB_EPARSE, name, ln, NULL, "header column %zu has an empty name", j + 1);
    for (size_t l = 0; l < j; l++)
      if (strcmp(cs->colnames[j], cs->colnames[l]) == 0)
        return ml_fail(err, MOELAB_EPARSE, name, ln, cs->colnames[j], "column name appears twice in the header");
  }
  const char *yname = spec && spec->y_name ? spec->y_name : "y";
  cs->ycol = -1;
  for (size_t j = 0; j < ncol; j++)
    if (strcmp(cs->colnames[j], yname) == 0) cs->ycol = (long)j;
  size_t d = 0;
  if (spec && spec->x_names) {
    d = spec->nx;
    if (d < 1) return ml_fail(err, MOELAB_EINVAL, name, ln, NULL, "no input columns chosen");
    if (d > MOELAB_MAX_D) return ml_fail(err, MOELAB_ELIMIT, name, ln, NULL, "too many input columns");
    cs->xcol = ml_alloc(d, sizeof(size_t));
    if (!cs->xcol) return ml_nomem(err);
    for (size_t i = 0; i < d; i++) {
      size_t j = 0;
      while (j < ncol && strcmp(cs->colnames[j], spec->x_names[i]) != 0) j++;
      if (j == ncol)
        return ml_fail(err, MOELAB_EPARSE, name, ln, spec->x_names[i], "input column not found in the header");
      cs->xcol[i] = j;
    }
  } else {
    for (size_t j = 0; j < ncol; j++) {
      size_t xi = x_index(cs->colnames[j]);
      if (xi > d) d = xi;
    }
    if (d == 0)
      return ml_fail(err, MOELAB_EPARSE, name, ln, NULL,
                     "the header has no input columns: name them x1..xd (or choose columns explicitly)");
    if (d > MOELAB_MAX_D)
      return ml_fail(err, MOELAB_ELIMIT, name, ln, NULL, "input dimension exceeds the limit %d", MOELAB_MAX_D);
    cs->xcol = ml_alloc(d, sizeof(size_t));
    if (!cs->xcol) return ml_nomem(err);
    for (size_t i = 0; i < d; i++) cs->xcol[i] = (size_t)-1;
    for (size_t j = 0; j < ncol; j++) {
      size_t xi = x_index(cs->colnames[j]);
      if (xi) cs->xcol[xi - 1] = j;
    }
    for (size_t i = 0; i < d; i++)
      if (cs->xcol[i] == (size_t)-1) {
        char f[32];
        snprintf(f, sizeof f, "x%zu", i + 1);
        return ml_fail(err, MOELAB_EPARSE, name, ln, f, "the header lacks input column x%zu (it has x%zu)", i + 1,
                       d);
      }
  }
  if (spec && spec->expect_d && d != spec->expect_d)
    return ml_fail(err, MOELAB_EPARSE, name, ln, NULL,
                   "the header has %zu input column%s but the model has d = %zu", d, d == 1 ? "" : "s",
                   spec->expect_d);
  if (spec && spec->require_y && cs->ycol < 0)
    return ml_fail(err, MOELAB_EPARSE, name, ln, yname, "the header has no output column '%s'", yname);
  return MOELAB_OK;
}

static int parse_field(const char *s, double *v, const char *name, long ln, const char *col, moelab_error *err) {
  int rc = ml_parse_double(s, v);
  if (rc == 0) return MOELAB_OK;
  if (rc == 1) return ml_fail(err, MOELAB_EPARSE, name, ln, col, "empty field");
  if (rc == 3) return ml_fail(err, MOELAB_EPARSE, name, ln, col, "NaN or infinite value '%.40s'", s);
  return ml_fail(err, MOELAB_EPARSE, name, ln, col, "not a number: '%.40s'", s);
}

int moelab_csv_read(FILE *fp, const char *name, const moelab_csv_spec *spec, moelab_data **data,
                    moelab_error *err) {
  if (!fp || !data) return ml_fail(err, MOELAB_EINVAL, name, 0, NULL, "NULL argument");
  if (!name) name = "<csv>";
  csv_state cs;
  memset(&cs, 0, sizeof cs);
  cs.lr.fp = fp;
  cs.lr.cap = MOELAB_MAX_LINE + LR_CHUNK + 2;
  cs.lr.buf = malloc(cs.lr.cap);
  moelab_data *D = NULL;
  double *X = NULL, *Y = NULL;
  int st = MOELAB_OK;
  if (!cs.lr.buf) {
    st = ml_nomem(err);
    goto out;
  }
  char *line;
  size_t len;
  int rc;
  /* header: the first non-blank line */
  do {
    rc = lr_next(&cs.lr, &line, &len);
  } while (rc == 1 && is_blank(line));
  if (rc == 0) {
    st = ml_fail(err, MOELAB_EPARSE, name, 0, NULL, "empty file: expected a header line such as x1,y");
    goto out;
  }
  if (rc < 0) {
    st = lr_error(err, name, cs.lr.lineno, rc);
    goto out;
  }
  st = csv_header(&cs, name, spec, line, err);
  if (st) goto out;
  size_t d = 0;
  if (spec && spec->x_names)
    d = spec->nx;
  else
    for (size_t j = 0; j < cs.ncol; j++) {
      size_t xi = x_index(cs.colnames[j]);
      if (xi > d) d = xi;
    }
  int has_y = cs.ycol >= 0;
  size_t n = 0, cap = 1024;
  X = ml_alloc(cap * d, sizeof(double));
  Y = has_y ? ml_alloc(cap, sizeof(double)) : NULL;
  if (!X || (has_y && !Y)) {
    st = ml_nomem(err);
    goto out;
  }
  for (;;) {
    rc = lr_next(&cs.lr, &line, &len);
    if (rc == 0) break;
    if (rc < 0) {
      st = lr_error(err, name, cs.lr.lineno, rc);
      goto out;
    }
    if (is_blank(line)) continue;
    long ln = cs.lr.lineno;
    size_t nf = split_fields(line, cs.fields, cs.ncol);
    if (nf != cs.ncol) {
      st = ml_fail(err, MOELAB_EPARSE, name, ln, NULL, "row has %zu field%s but the header has %zu", nf,
                   nf == 1 ? "" : "s", cs.ncol);
      goto out;
    }
    if (n == cap) {
      if (n >= MOELAB_MAX_ROWS) {
        st = ml_fail(err, MOELAB_ELIMIT, name, ln, NULL, "more than %d rows", MOELAB_MAX_ROWS);
        goto out;
      }
      size_t ncap = cap + cap / 2;
      double *nx = ml_realloc(X, ncap * d, sizeof(double));
      if (!nx) {
        st = ml_nomem(err);
        goto out;
      }
      X = nx;
      if (has_y) {
        double *ny = ml_realloc(Y, ncap, sizeof(double));
        if (!ny) {
          st = ml_nomem(err);
          goto out;
        }
        Y = ny;
      }
      cap = ncap;
    }
    for (size_t i = 0; i < d; i++) {
      size_t c = cs.xcol[i];
      st = parse_field(cs.fields[c], &X[n * d + i], name, ln, cs.colnames[c], err);
      if (st) goto out;
    }
    if (has_y) {
      st = parse_field(cs.fields[cs.ycol], &Y[n], name, ln, cs.colnames[cs.ycol], err);
      if (st) goto out;
    }
    n++;
  }
  if (n == 0) {
    st = ml_fail(err, MOELAB_EPARSE, name, cs.lr.lineno, NULL, "no data rows after the header");
    goto out;
  }
  D = ml_zalloc(1, sizeof *D);
  if (!D) {
    st = ml_nomem(err);
    goto out;
  }
  D->n = n;
  D->d = d;
  D->X = ml_realloc(X, n * d, sizeof(double));
  if (!D->X) D->X = X;
  X = NULL;
  if (has_y) {
    D->y = ml_realloc(Y, n, sizeof(double));
    if (!D->y) D->y = Y;
    Y = NULL;
  }
  D->names = ml_zalloc(d + 1, sizeof(char *));
  if (!D->names) {
    st = ml_nomem(err);
    goto out;
  }
  for (size_t i = 0; i < d; i++) {
    D->names[i] = ml_strdup(cs.colnames[cs.xcol[i]]);
    if (!D->names[i]) {
      st = ml_nomem(err);
      goto out;
    }
  }
  D->names[d] = ml_strdup(has_y ? cs.colnames[cs.ycol] : (spec && spec->y_name ? spec->y_name : "y"));
  if (!D->names[d]) {
    st = ml_nomem(err);
    goto out;
  }
  *data = D;
  D = NULL;
out:
  moelab_data_free(D);
  free(X);
  free(Y);
  csv_state_free(&cs);
  return st;
}

int moelab_csv_read_file(const char *path, const moelab_csv_spec *spec, moelab_data **data, moelab_error *err) {
  if (!path) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL path");
  FILE *fp = fopen(path, "rb");
  if (!fp) return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
  struct stat sb;
  if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(fp);
    return ml_fail(err, MOELAB_EIO, path, 0, NULL, "is a directory");
  }
  int st = moelab_csv_read(fp, path, spec, data, err);
  fclose(fp);
  return st;
}

/* ----------------------------------------------------------- CSV tables */

void moelab_table_free(moelab_table *t) {
  if (!t) return;
  if (t->names)
    for (size_t j = 0; j < t->ncol; j++) free(t->names[j]);
  if (t->cells)
    for (size_t i = 0; i < t->nrow * t->ncol; i++) free(t->cells[i]);
  free(t->names);
  free(t->cells);
  free(t->lines);
  free(t);
}

long moelab_table_column(const moelab_table *t, const char *name) {
  if (!t || !name) return -1;
  for (size_t j = 0; j < t->ncol; j++)
    if (strcmp(t->names[j], name) == 0) return (long)j;
  return -1;
}

int moelab_table_read(FILE *fp, const char *name, moelab_table **table, moelab_error *err) {
  if (!fp || !table) return ml_fail(err, MOELAB_EINVAL, name, 0, NULL, "NULL argument");
  if (!name) name = "<csv>";
  line_reader lr;
  memset(&lr, 0, sizeof lr);
  lr.fp = fp;
  lr.cap = MOELAB_MAX_LINE + LR_CHUNK + 2;
  lr.buf = malloc(lr.cap);
  moelab_table *t = ml_zalloc(1, sizeof *t);
  char **fields = NULL;
  int st = MOELAB_OK;
  if (!lr.buf || !t) {
    st = ml_nomem(err);
    goto out;
  }
  char *line;
  size_t len;
  int rc;
  do {
    rc = lr_next(&lr, &line, &len);
  } while (rc == 1 && is_blank(line));
  if (rc == 0) {
    st = ml_fail(err, MOELAB_EPARSE, name, 0, NULL, "empty file: expected a header line");
    goto out;
  }
  if (rc < 0) {
    st = lr_error(err, name, lr.lineno, rc);
    goto out;
  }
  size_t ncol = 1;
  for (const char *c = line; *c; c++)
    if (*c == ',') ncol++;
  if (ncol > 4096) {
    st = ml_fail(err, MOELAB_ELIMIT, name, lr.lineno, NULL, "more than 4096 columns");
    goto out;
  }
  fields = ml_alloc(ncol, sizeof(char *));
  t->names = ml_zalloc(ncol, sizeof(char *));
  if (!fields || !t->names) {
    st = ml_nomem(err);
    goto out;
  }
  t->ncol = ncol;
  split_fields(line, fields, ncol);
  for (size_t j = 0; j < ncol; j++) {
    if (!fields[j][0]) {
      st = ml_fail(err, MOELAB_EPARSE, name, lr.lineno, NULL, "header column %zu has an empty name", j + 1);
      goto out;
    }
    for (size_t l = 0; l < j; l++)
      if (strcmp(t->names[l], fields[j]) == 0) {
        st = ml_fail(err, MOELAB_EPARSE, name, lr.lineno, fields[j], "column name appears twice in the header");
        goto out;
      }
    t->names[j] = ml_strdup(fields[j]);
    if (!t->names[j]) {
      st = ml_nomem(err);
      goto out;
    }
  }
  size_t cap = 0;
  for (;;) {
    rc = lr_next(&lr, &line, &len);
    if (rc == 0) break;
    if (rc < 0) {
      st = lr_error(err, name, lr.lineno, rc);
      goto out;
    }
    if (is_blank(line)) continue;
    size_t nf = split_fields(line, fields, ncol);
    if (nf != ncol) {
      st = ml_fail(err, MOELAB_EPARSE, name, lr.lineno, NULL, "row has %zu field%s but the header has %zu", nf,
                   nf == 1 ? "" : "s", ncol);
      goto out;
    }
    if (t->nrow == cap) {
      size_t nc = cap ? cap * 2 : 256;
      char **ncells = ml_realloc(t->cells, nc * ncol, sizeof(char *));
      if (!ncells) {
        st = ml_nomem(err);
        goto out;
      }
      t->cells = ncells;
      long *nl = ml_realloc(t->lines, nc, sizeof(long));
      if (!nl) {
        st = ml_nomem(err);
        goto out;
      }
      t->lines = nl;
      cap = nc;
    }
    for (size_t j = 0; j < ncol; j++) t->cells[t->nrow * ncol + j] = NULL;
    t->lines[t->nrow] = lr.lineno;
    t->nrow++;
    for (size_t j = 0; j < ncol; j++) {
      t->cells[(t->nrow - 1) * ncol + j] = ml_strdup(fields[j]);
      if (!t->cells[(t->nrow - 1) * ncol + j]) {
        st = ml_nomem(err);
        goto out;
      }
    }
  }
  *table = t;
  t = NULL;
out:
  moelab_table_free(t);
  free(fields);
  free(lr.buf);
  return st;
}

int moelab_table_read_file(const char *path, moelab_table **table, moelab_error *err) {
  if (!path) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL path");
  FILE *fp = fopen(path, "rb");
  if (!fp) return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
  struct stat sb;
  if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(fp);
    return ml_fail(err, MOELAB_EIO, path, 0, NULL, "is a directory");
  }
  int st = moelab_table_read(fp, path, table, err);
  fclose(fp);
  return st;
}

/* -------------------------------------------------------------- CSV write */

int moelab_csv_write(FILE *fp, const moelab_data_view *view, const char *const *names, size_t nextra,
                     const char *const *extra_names, const double *const *extra, moelab_error *err) {
  if (!fp || !view) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  for (size_t j = 0; j < view->d; j++) {
    if (j) fputc(',', fp);
    if (names)
      fputs(names[j], fp);
    else
      fprintf(fp, "x%zu", j + 1);
  }
  if (view->y) fprintf(fp, ",%s", names ? names[view->d] : "y");
  for (size_t e = 0; e < nextra; e++) fprintf(fp, ",%s", extra_names[e]);
  fputc('\n', fp);
  char buf[40];
  for (size_t r = 0; r < view->n; r++) {
    for (size_t j = 0; j < view->d; j++) {
      if (j) fputc(',', fp);
      fputs(moelab_format_double(view->X[r * view->d + j], buf), fp);
    }
    if (view->y) {
      fputc(',', fp);
      fputs(moelab_format_double(view->y[r], buf), fp);
    }
    for (size_t e = 0; e < nextra; e++) {
      fputc(',', fp);
      fputs(moelab_format_double(extra[e][r], buf), fp);
    }
    fputc('\n', fp);
  }
  if (ferror(fp)) return ml_fail(err, MOELAB_EIO, NULL, 0, NULL, "write error: %s", strerror(errno));
  return MOELAB_OK;
}

/* ---------------------------------------------------------- atomic output */

struct moelab_outfile {
  FILE *fp;
  char *path;
  char *tmp;  /* NULL for stdout and for a path written in place */
  int direct; /* an existing device, FIFO or socket, written in place */
  int committed;
};

int moelab_outfile_new(const char *path, moelab_outfile **out, moelab_error *err) {
  if (!path || !out) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  moelab_outfile *o = ml_zalloc(1, sizeof *o);
  if (!o) return ml_nomem(err);
  if (strcmp(path, "-") == 0) {
    o->fp = stdout;
    *out = o;
    return MOELAB_OK;
  }
  struct stat sb;
  if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
    /* A device (/dev/null, a terminal), a FIFO or a socket is written in place:
     * a temporary file renamed over it would replace it by a regular file. */
    o->path = ml_strdup(path);
    if (!o->path) {
      moelab_outfile_free(o);
      return ml_nomem(err);
    }
    int dfd = open(path, O_WRONLY | O_CLOEXEC);
    if (dfd < 0) {
      int e = errno;
      moelab_outfile_free(o);
      return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot open output file: %s", strerror(e));
    }
    o->fp = fdopen(dfd, "wb");
    if (!o->fp) {
      close(dfd);
      moelab_outfile_free(o);
      return ml_nomem(err);
    }
    o->direct = 1;
    *out = o;
    return MOELAB_OK;
  }
  o->path = ml_strdup(path);
  size_t tl = strlen(path) + 64;
  o->tmp = malloc(tl);
  if (!o->path || !o->tmp) {
    /* no temporary file exists yet: moelab_outfile_free must not unlink the uninitialised name */
    free(o->tmp);
    o->tmp = NULL;
    moelab_outfile_free(o);
    return ml_nomem(err);
  }
  /* A unique name next to the target: pid, time and the object's address. */
  int fd = -1;
  for (unsigned attempt = 0; attempt < 100 && fd < 0; attempt++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long tag = (unsigned long)ts.tv_nsec ^ ((unsigned long)(uintptr_t)o >> 4) ^ (attempt * 2654435761UL);
    snprintf(o->tmp, tl, "%s.tmp.%ld.%lx", path, (long)getpid(), tag & 0xffffffffUL);
    fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    int e = errno;
    free(o->tmp);
    o->tmp = NULL;
    moelab_outfile_free(o);
    return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot create output file: %s", strerror(e));
  }
  o->fp = fdopen(fd, "wb");
  if (!o->fp) {
    close(fd);
    moelab_outfile_free(o);
    return ml_nomem(err);
  }
  *out = o;
  return MOELAB_OK;
}

FILE *moelab_outfile_stream(moelab_outfile *out) { return out ? out->fp : NULL; }

int moelab_outfile_commit(moelab_outfile *o, moelab_error *err) {
  if (!o) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL output file");
  if (!o->tmp) {
    if (!o->fp) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "output file already committed");
    int bad = fflush(o->fp) != 0 || ferror(o->fp);
    int e = errno;
    if (o->direct) {
      if (fclose(o->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
      }
      o->fp = NULL;
    }
    if (bad) return ml_fail(err, MOELAB_EIO, o->direct ? o->path : "<stdout>", 0, NULL, "write error: %s", strerror(e));
    o->committed = 1;
    return MOELAB_OK;
  }
  int bad = fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0;
  int e = errno;
  if (fclose(o->fp) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  o->fp = NULL;
  if (bad) return ml_fail(err, MOELAB_EIO, o->path, 0, NULL, "write error: %s", strerror(e));
  if (rename(o->tmp, o->path) != 0)
    return ml_fail(err, MOELAB_EIO, o->path, 0, NULL, "cannot rename the temporary file: %s", strerror(errno));
  /* Make the rename itself durable. */
  char *dir = ml_strdup(o->path);
  if (dir) {
    char *slash = strrchr(dir, '/');
    const char *dname = ".";
    if (slash) {
      if (slash == dir) slash[1] = '\0';
      else *slash = '\0';
      dname = dir;
    }
    int dfd = open(dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
    free(dir);
  }
  o->committed = 1;
  return MOELAB_OK;
}

void moelab_outfile_free(moelab_outfile *o) {
  if (!o) return;
  if (o->direct && o->fp) fclose(o->fp);
  if (o->tmp) {
    if (o->fp) fclose(o->fp);
    if (!o->committed) unlink(o->tmp);
  }
  free(o->tmp);
  free(o->path);
  free(o);
}
