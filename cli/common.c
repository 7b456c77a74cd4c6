/*
 * common.c — option parsing, messages and files shared by the subcommands.
 */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_msg(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "moelab %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_fail(const char *cmd, const moelab_error *err, int input_io) {
  char buf[2048];
  moelab_error_format(err, buf, sizeof buf);
  cli_msg(cmd, "%s", buf);
  return cli_exit_code(err, input_io);
}

int cli_exit_code(const moelab_error *err, int input_io) {
  switch (err->status) {
  case MOELAB_EPARSE:
  case MOELAB_EINVAL:
  case MOELAB_ELIMIT:
  case MOELAB_ENOTFOUND: return EXIT_USAGE;
  case MOELAB_EIO: return input_io ? EXIT_USAGE : EXIT_RUNTIME;
  case MOELAB_EINTR: return EXIT_SIGINT;
  default: return EXIT_RUNTIME;
  }
}

static const cli_opt *find_long(const cli_command *cmd, const char *name, size_t len, size_t *idx) {
  for (size_t i = 0; cmd->opts[i].name; i++)
    if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0) {
      *idx = i;
      return &cmd->opts[i];
    }
  return NULL;
}

static const cli_opt *find_short(const cli_command *cmd, char c, size_t *idx) {
  for (size_t i = 0; cmd->opts[i].name; i++)
    if (cmd->opts[i].shortname == c) {
      *idx = i;
      return &cmd->opts[i];
    }
  return NULL;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out) {
  memset(out, 0, sizeof *out);
  out->opts = cmd->opts;
  while (cmd->opts[out->nopts].name) out->nopts++;
  int only_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
      cli_help(cmd, stdout);
      return -1;
    }
    if (!only_pos && strcmp(a, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (!only_pos && a[0] == '-' && a[1] != '\0') {
      const cli_opt *o = NULL;
      size_t idx = 0;
      const char *val = NULL;
      if (a[1] == '-') {
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        o = find_long(cmd, name, len, &idx);
        if (!o) {
          cli_msg(cmd->name, "unknown option '--%.*s' (see 'moelab %s --help')", (int)len, name, cmd->name);
          return EXIT_USAGE;
        }
        if (eq) {
          if (!o->arg) {
            cli_msg(cmd->name, "option '--%s' takes no value", o->name);
            return EXIT_USAGE;
          }
          val = eq + 1;
        }
      } else {
        if (a[2] != '\0' || !(o = find_short(cmd, a[1], &idx))) {
          /* a negative number is a positional, e.g. never for our commands; refuse */
          cli_msg(cmd->name, "unknown option '%s' (see 'moelab %s --help')", a, cmd->name);
          return EXIT_USAGE;
        }
      }
      if (o->arg && !val) {
        if (i + 1 >= argc) {
          cli_msg(cmd->name, "option '--%s' needs a value %s", o->name, o->arg);
          return EXIT_USAGE;
        }
        val = argv[++i];
      }
      if (out->value[idx]) {
        cli_msg(cmd->name, "option '--%s' given twice", o->name);
        return EXIT_USAGE;
      }
      out->value[idx] = o->arg ? val : "1";
      continue;
    }
    if (out->npos >= CLI_MAX_POS) {
      cli_msg(cmd->name, "too many arguments");
      return EXIT_USAGE;
    }
    out->pos[out->npos++] = a;
  }
  return 0;
}

static void wrap(FILE *fp, const char *text, int indent, int width) {
  int col = 0;
  const char *p = text;
  while (*p) {
    if (*p == '\n') {
      fputc('\n', fp);
      p++;
      col = 0;
      continue;
    }
    if (*p == ' ') {
      p++;
      continue;
    }
    size_t w = strcspn(p, " \n");
    if (col > indent && col + 1 + (int)w > width) {
      fputc('\n', fp);
      col = 0;
    }
    if (col == 0) {
      for (int i = 0; i < indent; i++) fputc(' ', fp);
      col = indent;
    } else {
      fputc(' ', fp);
      col++;
    }
    fwrite(p, 1, w, fp);
    col += (int)w;
    p += w;
  }
  fputc('\n', fp);
}

void cli_help(const cli_command *cmd, FILE *fp) {
  fprintf(fp, "Usage: %s\n\n", cmd->synopsis);
  wrap(fp, cmd->summary, 0, 78);
  if (cmd->description) {
    fputc('\n', fp);
    wrap(fp, cmd->description, 0, 78);
  }
  fprintf(fp, "\nOptions:\n");
  for (size_t i = 0; cmd->opts[i].name; i++) {
    const cli_opt *o = &cmd->opts[i];
    char head[128];
    if (o->shortname)
      snprintf(head, sizeof head, "  -%c, --%s%s%s", o->shortname, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    else
      snprintf(head, sizeof head, "      --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(fp, "%s\n", head);
    char text[1024];
    if (o->def)
      snprintf(text, sizeof text, "%s (default: %s)", o->help, o->def);
    else
      snprintf(text, sizeof text, "%s", o->help);
    wrap(fp, text, 10, 78);
  }
  fprintf(fp, "  -h, --help\n          Show this help and exit.\n");
}

static long opt_index(const cli_args *a, const char *name) {
  for (size_t i = 0; i < a->nopts; i++)
    if (strcmp(a->opts[i].name, name) == 0) return (long)i;
  return -1;
}

const char *cli_get(const cli_args *a, const char *name) {
  long i = opt_index(a, name);
  return i >= 0 ? a->value[i] : NULL;
}

int cli_flag(const cli_args *a, const char *name) { return cli_get(a, name) != NULL; }

int cli_get_u64(const char *cmd, const cli_args *a, const char *name, uint64_t *out) {
  const char *v = cli_get(a, name);
  if (!v) return 0;
  char *end;
  errno = 0;
  if (v[0] == '-' || v[0] == '\0') goto bad;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || *end) goto bad;
  *out = (uint64_t)x;
  return 0;
bad:
  cli_msg(cmd, "option '--%s': expected a whole number >= 0, got '%s'", name, v);
  return EXIT_USAGE;
}

int cli_get_size(const char *cmd, const cli_args *a, const char *name, size_t min, size_t max, size_t *out) {
  const char *v = cli_get(a, name);
  if (!v) return 0;
  char *end;
  errno = 0;
  /* accept 1e5-style whole numbers as well as plain digits */
  double x = strtod(v, &end);
  if (v[0] == '\0' || *end || errno || !isfinite(x) || x != floor(x) || x < 0) {
    cli_msg(cmd, "option '--%s': expected a whole number, got '%s'", name, v);
    return EXIT_USAGE;
  }
  if (x < (double)min || x > (double)max) {
    cli_msg(cmd, "option '--%s': %s is out of range [%zu, %zu]", name, v, min, max);
    return EXIT_USAGE;
  }
  *out = (size_t)x;
  return 0;
}

int cli_get_int(const char *cmd, const cli_args *a, const char *name, long min, long max, long *out) {
  const char *v = cli_get(a, name);
  if (!v) return 0;
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (v[0] == '\0' || *end || errno) {
    cli_msg(cmd, "option '--%s': expected a whole number, got '%s'", name, v);
    return EXIT_USAGE;
  }
  if (x < min || x > max) {
    cli_msg(cmd, "option '--%s': %ld is out of range [%ld, %ld]", name, x, min, max);
    return EXIT_USAGE;
  }
  *out = x;
  return 0;
}

static int parse_num(const char *s, double *v) {
  char *end;
  while (*s == ' ') s++;
  if (!*s) return -1;
  *v = strtod(s, &end);
  while (*end == ' ') end++;
  if (*end || !isfinite(*v)) return -1;
  return 0;
}

int cli_get_double(const char *cmd, const cli_args *a, const char *name, double min, double max, double *out) {
  const char *v = cli_get(a, name);
  if (!v) return 0;
  double x;
  if (parse_num(v, &x)) {
    cli_msg(cmd, "option '--%s': expected a finite number, got '%s'", name, v);
    return EXIT_USAGE;
  }
  if (x < min || x > max) {
    cli_msg(cmd, "option '--%s': %g is out of range [%g, %g]", name, x, min, max);
    return EXIT_USAGE;
  }
  *out = x;
  return 0;
}

int cli_get_doubles(const char *cmd, const cli_args *a, const char *name, size_t n, double *out) {
  const char *v = cli_get(a, name);
  if (!v) return 0;
  char *copy = strdup(v);
  if (!copy) return EXIT_RUNTIME;
  size_t cnt = 0;
  int rc = 0;
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    double x;
    if (parse_num(tok, &x) || cnt >= n) {
      rc = EXIT_USAGE;
      break;
    }
    out[cnt++] = x;
  }
  if (!rc && cnt == 1)
    for (size_t i = 1; i < n; i++) out[i] = out[0];
  else if (!rc && cnt != n)
    rc = EXIT_USAGE;
  free(copy);
  if (rc) cli_msg(cmd, "option '--%s': expected 1 or %zu comma-separated finite numbers, got '%s'", name, n, v);
  return rc;
}

int cli_read_model(const char *cmd, const char *path, moelab_model **m) {
  moelab_error err;
  moelab_error_clear(&err);
  int st;
  if (strcmp(path, "-") == 0) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return EXIT_RUNTIME;
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
      n += got;
      if (n == cap) {
        if (cap > MOELAB_MAX_JSON) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
          free(buf);
          return EXIT_RUNTIME;
        }
        buf = nb;
        cap *= 2;
      }
    }
    st = moelab_model_read_buffer(buf, n, "<stdin>", m, &err);
    free(buf);
  } else {
    st = moelab_model_read_file(path, m, &err);
  }
  return st ? cli_fail(cmd, &err, 1) : 0;
}

int cli_read_data(const char *cmd, const char *path, const moelab_csv_spec *spec, moelab_data **data) {
  moelab_error err;
  moelab_error_clear(&err);
  int st;
  if (strcmp(path, "-") == 0)
    st = moelab_csv_read(stdin, "<stdin>", spec, data, &err);
  else
    st = moelab_csv_read_file(path, spec, data, &err);
  return st ? cli_fail(cmd, &err, 1) : 0;
}

int cli_colspec_init(const char *cmd, const cli_args *a, cli_colspec *cs) {
  memset(cs, 0, sizeof *cs);
  const char *xs = cli_get(a, "x");
  const char *y = cli_get(a, "y");
  if (y && !*y) {
    cli_msg(cmd, "option '--y': empty column name");
    return EXIT_USAGE;
  }
  cs->spec.y_name = y;
  if (!xs) return 0;
  cs->buf = strdup(xs);
  if (!cs->buf) return EXIT_RUNTIME;
  char *save = NULL;
  for (char *tok = strtok_r(cs->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (cs->spec.nx >= MOELAB_MAX_D) {
      cli_msg(cmd, "option '--x': more than %d columns", MOELAB_MAX_D);
      return EXIT_USAGE;
    }
    cs->names[cs->spec.nx++] = tok;
  }
  if (cs->spec.nx == 0) {
    cli_msg(cmd, "option '--x': no column names");
    return EXIT_USAGE;
  }
  cs->spec.x_names = cs->names;
  return 0;
}

void cli_colspec_free(cli_colspec *cs) {
  free(cs->buf);
  cs->buf = NULL;
}

int cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }

volatile sig_atomic_t cli_interrupted = 0;

static void on_signal(int sig) {
  if (cli_interrupted) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  cli_interrupted = 1;
}

void cli_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int cli_get_range(const char *cmd, const cli_args *a, const char *name, double *lo, double *hi) {
  const char *v = cli_get(a, name);
  if (!v) return 0;
  double t[2];
  const char *comma = strchr(v, ',');
  char *end1 = NULL, *end2 = NULL;
  if (comma) {
    t[0] = strtod(v, &end1);
    t[1] = strtod(comma + 1, &end2);
  }
  if (!comma || end1 != comma || *end2 || !isfinite(t[0]) || !isfinite(t[1]) || !(t[0] < t[1])) {
    cli_msg(cmd, "option '--%s': expected LO,HI with LO < HI, got '%s'", name, v);
    return EXIT_USAGE;
  }
  *lo = t[0];
  *hi = t[1];
  return 0;
}

int cli_get_indices(const char *cmd, const cli_args *a, const char *name, size_t *out, size_t max, size_t *n) {
  *n = 0;
  const char *v = cli_get(a, name);
  if (!v) return 0;
  const char *p = v;
  if (!*p) goto bad;
  while (*p) {
    char *end;
    if (!isdigit((unsigned char)*p)) goto bad;
    unsigned long x = strtoul(p, &end, 10);
    if (end == p || (*end && *end != ',') || *n >= max || (*end == ',' && !end[1])) goto bad;
    out[(*n)++] = x;
    p = *end ? end + 1 : end;
  }
  return 0;
bad:
  cli_msg(cmd, "option '--%s': expected comma-separated indices, got '%s'", name, v);
  return EXIT_USAGE;
}

int cli_write_model(const char *cmd, const char *path, const moelab_model *m) {
  moelab_error err;
  moelab_error_clear(&err);
  moelab_outfile *out = NULL;
  int rc = 0;
  if (moelab_outfile_new(path, &out, &err) || moelab_model_write(moelab_outfile_stream(out), m, &err) ||
      moelab_outfile_commit(out, &err))
    rc = cli_fail(cmd, &err, 0);
  moelab_outfile_free(out);
  return rc;
}
