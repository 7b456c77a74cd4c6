/*
 * study_merge.c — merging the results directories of a study's shards
 * (`moelab study --shard I/N`) into one results directory.
 *
 * Every directory must carry a manifest of the same study (hash and quick
 * flag) and shard layout N, every shard 0..N-1 must be given exactly once,
 * and together their rows must hold every task of the study exactly once.
 * Rows are copied byte for byte (in task-list order), so the merged
 * results.csv equals a single run's after sorting.
 */
#include "json_internal.h"
#include "study_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How many task ids an error message lists before "...". */
#define MERGE_EXAMPLES 3

typedef struct merge_shard {
  const char *dir;
  char hash[32];
  int quick;
  size_t index, count, ntasks;
  char *study_text; /* study.json */
  size_t study_len;
} merge_shard;

/* A task id and its index in the task list, sorted by id for lookups. */
typedef struct merge_key {
  const char *id;
  size_t task;
} merge_key;

static int cmp_key(const void *a, const void *b) {
  return strcmp(((const merge_key *)a)->id, ((const merge_key *)b)->id);
}

static int json_size(const cJSON *v, size_t *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e15 ||
      v->valuedouble != (double)(size_t)v->valuedouble)
    return 0;
  *out = (size_t)v->valuedouble;
  return 1;
}

/* Reads dir/manifest.json and dir/study.json into *m. */
static int read_shard(const char *dir, merge_shard *m, moelab_error *err) {
  memset(m, 0, sizeof *m);
  m->dir = dir;
  char path[4200];
  snprintf(path, sizeof path, "%s/manifest.json", dir);
  if (access(path, F_OK) != 0)
    return ml_fail(err, MOELAB_EIO, dir, 0, NULL, "no manifest.json: not a results directory of moelab study");
  char *text = NULL;
  size_t len = 0;
  int st = ml_read_text_file(path, &text, &len, err);
  if (st) return st;
  cJSON *j = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *fmt = j ? cJSON_GetObjectItemCaseSensitive(j, "format") : NULL;
  const cJSON *h = j ? cJSON_GetObjectItemCaseSensitive(j, "hash") : NULL;
  const cJSON *q = j ? cJSON_GetObjectItemCaseSensitive(j, "quick") : NULL;
  const cJSON *sh = j ? cJSON_GetObjectItemCaseSensitive(j, "shard") : NULL;
  const cJSON *nt = j ? cJSON_GetObjectItemCaseSensitive(j, "tasks") : NULL;
  int ok = cJSON_IsString(fmt) && strcmp(fmt->valuestring, "moelab-results") == 0 && cJSON_IsString(h) &&
           strlen(h->valuestring) < sizeof m->hash && cJSON_IsBool(q) && cJSON_IsArray(sh) &&
           cJSON_GetArraySize(sh) == 2 && json_size(cJSON_GetArrayItem(sh, 0), &m->index) &&
           json_size(cJSON_GetArrayItem(sh, 1), &m->count) && m->count >= 1 && m->index < m->count &&
           json_size(nt, &m->ntasks);
  if (ok) {
    snprintf(m->hash, sizeof m->hash, "%s", h->valuestring);
    m->quick = cJSON_IsTrue(q);
  }
  cJSON_Delete(j);
  if (!ok)
    return ml_fail(err, MOELAB_EPARSE, path, 0, NULL,
                   "not a manifest of moelab study results (format, hash, quick, tasks, shard [I, N])");
  snprintf(path, sizeof path, "%s/study.json", dir);
  if (access(path, F_OK) != 0)
    return ml_fail(err, MOELAB_EIO, path, 0, NULL, "missing: the copy of the study file that every results directory keeps");
  return ml_read_text_file(path, &m->study_text, &m->study_len, err);
}

/* The rows of one shard's results.csv (each with its newline), checked against the study's header. */
typedef struct merge_rows {
  char **line;
  long *lineno;
  size_t n;
  int partial; /* the file ended with a row cut short (dropped) */
} merge_rows;

static void rows_free(merge_rows *r) {
  for (size_t i = 0; i < r->n; i++) free(r->line[i]);
  free(r->line);
  free(r->lineno);
  memset(r, 0, sizeof *r);
}

static size_t count_fields(const char *s) {
  size_t n = 1;
  for (; *s && *s != '\n'; s++) n += *s == ',';
  return n;
}

static int read_rows(const char *dir, const char *header, merge_rows *r, moelab_error *err) {
  memset(r, 0, sizeof *r);
  char path[4200];
  snprintf(path, sizeof path, "%s/results.csv", dir);
  FILE *fp = fopen(path, "rb");
  if (!fp) return ml_fail(err, MOELAB_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
  char *buf = NULL;
  size_t cap = 0, alloc = 0;
  ssize_t got;
  long lineno = 0;
  size_t nf = count_fields(header);
  int st = MOELAB_OK;
  while ((got = getline(&buf, &cap, fp)) > 0) {
    lineno++;
    if (buf[got - 1] != '\n') { /* a row cut short by a kill: the task counts as missing */
      r->partial = 1;
      break;
    }
    if (lineno == 1) {
      if (strcmp(buf, header) != 0) {
        st = ml_fail(err, MOELAB_EINVAL, path, 1, NULL, "the results file has other columns than this study writes");
        break;
      }
      continue;
    }
    if (got == 1) continue; /* blank line */
    if (count_fields(buf) != nf) {
      st = ml_fail(err, MOELAB_EPARSE, path, lineno, NULL, "%zu fields, the header has %zu", count_fields(buf), nf);
      break;
    }
    if (r->n == alloc) {
      size_t na = alloc ? 2 * alloc : 256;
      char **nl = ml_realloc(r->line, na, sizeof *nl);
      if (nl) r->line = nl;
      long *nn = nl ? ml_realloc(r->lineno, na, sizeof *nn) : NULL;
      if (nn) r->lineno = nn;
      if (!nl || !nn) {
        st = ml_nomem(err);
        break;
      }
      alloc = na;
    }
    if (!(r->line[r->n] = ml_strdup(buf))) {
      st = ml_nomem(err);
      break;
    }
    r->lineno[r->n++] = lineno;
  }
  if (!st && ferror(fp)) st = ml_fail(err, MOELAB_EIO, path, 0, NULL, "read error: %s", strerror(errno));
  if (!st && lineno == 0) st = ml_fail(err, MOELAB_EPARSE, path, 0, NULL, "empty file: no header");
  free(buf);
  fclose(fp);
  if (st) rows_free(r);
  return st;
}

/* Copies the file `from` to `to` atomically. */
static int copy_file(const char *from, const char *to, moelab_error *err) {
  FILE *in = fopen(from, "rb");
  if (!in) return ml_fail(err, MOELAB_EIO, from, 0, NULL, "cannot open: %s", strerror(errno));
  moelab_outfile *of = NULL;
  int st = moelab_outfile_new(to, &of, err);
  if (!st) {
    char buf[65536];
    size_t n;
    FILE *out = moelab_outfile_stream(of);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
      if (fwrite(buf, 1, n, out) != n) break;
    if (ferror(in))
      st = ml_fail(err, MOELAB_EIO, from, 0, NULL, "read error: %s", strerror(errno));
    else
      st = moelab_outfile_commit(of, err);
  }
  moelab_outfile_free(of);
  fclose(in);
  return st;
}

/* Copies the files of dir/references/ that out/references/ lacks. */
static int copy_references(const char *dir, const char *out, moelab_error *err) {
  char src[4200], dst[4200];
  snprintf(src, sizeof src, "%s/references", dir);
  DIR *d = opendir(src);
  if (!d) return MOELAB_OK; /* a shard whose curves need no reference has none */
  snprintf(dst, sizeof dst, "%s/references", out);
  int st = study_mkdir_p(dst, err);
  struct dirent *e;
  while (!st && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
    char from[4500], to[4500];
    snprintf(from, sizeof from, "%s/%s", src, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
    if (access(to, F_OK) == 0) continue; /* the same reference, computed by another shard */
    st = copy_file(from, to, err);
  }
  closedir(d);
  return st;
}

/* Appends ", id" examples to msg (at most MERGE_EXAMPLES, then "..."). */
static void add_example(char *msg, size_t size, size_t *shown, const char *id) {
  size_t len = strlen(msg);
  if (*shown < MERGE_EXAMPLES)
    snprintf(msg + len, size - len, "%s%s", *shown ? ", " : "", id);
  else if (*shown == MERGE_EXAMPLES)
    snprintf(msg + len, size - len, ", ...");
  (*shown)++;
}

static int same_dir(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int moelab_study_merge(const char *const *dirs, size_t n, const char *out_dir, moelab_error *err) {
  if (!dirs || !out_dir) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (n == 0) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "no results directories to merge");
  for (size_t i = 0; i < n; i++)
    if (!dirs[i]) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL directory");
  merge_shard *sh = ml_zalloc(n, sizeof *sh);
  merge_rows *rows = ml_zalloc(n, sizeof *rows);
  const char **by_index = NULL;
  moelab_study *s = NULL;
  study_task *tasks = NULL;
  size_t ntasks = 0;
  merge_key *keys = NULL;
  size_t *where = NULL;
  const char **line_of = NULL;
  unsigned char *mine = NULL;
  int st = MOELAB_OK;
  if (!sh || !rows) {
    st = ml_nomem(err);
    goto out;
  }
  /* the manifests: one study, one layout, every shard once */
  for (size_t i = 0; i < n; i++)
    if ((st = read_shard(dirs[i], &sh[i], err))) goto out;
  for (size_t i = 1; i < n; i++) {
    if (strcmp(sh[i].hash, sh[0].hash) != 0 || sh[i].quick != sh[0].quick ||
        sh[i].study_len != sh[0].study_len || memcmp(sh[i].study_text, sh[0].study_text, sh[0].study_len) != 0) {
      st = ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL,
                   "%s and %s hold results of different studies (hash %s%s, hash %s%s): only shards of one study "
                   "file and quick setting can be merged",
                   dirs[0], dirs[i], sh[0].hash, sh[0].quick ? " quick" : "", sh[i].hash, sh[i].quick ? " quick" : "");
      goto out;
    }
    if (sh[i].count != sh[0].count) {
      st = ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL,
                   "%s is shard %zu/%zu but %s is shard %zu/%zu: the shards of one merge must split the study into "
                   "the same number of parts",
                   dirs[0], sh[0].index, sh[0].count, dirs[i], sh[i].index, sh[i].count);
      goto out;
    }
  }
  size_t N = sh[0].count;
  if (!(by_index = ml_zalloc(N, sizeof *by_index))) {
    st = ml_nomem(err);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    const char *prev = by_index[sh[i].index];
    if (prev) {
      st = ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "shard %zu/%zu is given twice: %s and %s%s", sh[i].index, N, prev,
                   dirs[i], same_dir(prev, dirs[i]) ? " (the same directory)" : "");
      goto out;
    }
    by_index[sh[i].index] = dirs[i];
  }
  /* the study, from its copy, must be the one the manifests name */
  {
    char name[4200], hash[20];
    snprintf(name, sizeof name, "%s/study.json", dirs[0]);
    if ((st = moelab_study_read_buffer(sh[0].study_text, sh[0].study_len, name, sh[0].quick, &s, err))) goto out;
    if (strcmp(moelab_study_hash(s, hash), sh[0].hash) != 0) {
      st = ml_fail(err, MOELAB_EINVAL, name, 0, NULL, "its hash %s differs from the manifest's %s: the copy was edited",
                   hash, sh[0].hash);
      goto out;
    }
  }
  if (study_tasks(s, &tasks, &ntasks)) {
    st = ml_nomem(err);
    goto out;
  }
  keys = ml_alloc(ntasks, sizeof *keys);
  where = ml_alloc(ntasks, sizeof *where);
  line_of = ml_zalloc(ntasks, sizeof *line_of);
  mine = ml_alloc(ntasks, 1);
  if (!keys || !where || !line_of || !mine) {
    st = ml_nomem(err);
    goto out;
  }
  for (size_t i = 0; i < ntasks; i++) {
    keys[i].id = tasks[i].id;
    keys[i].task = i;
    where[i] = SIZE_MAX;
  }
  qsort(keys, ntasks, sizeof *keys, cmp_key);
  /* missing shards: name them with the tasks they hold */
  {
    char msg[400] = "", ex[300] = "";
    size_t nmiss = 0, tmiss = 0, shown = 0;
    for (size_t j = 0; j < N; j++) {
      if (by_index[j]) continue;
      size_t len = strlen(msg);
      if (nmiss < 8) snprintf(msg + len, sizeof msg - len, "%s%zu/%zu", nmiss ? ", " : "", j, N);
      else if (nmiss == 8) snprintf(msg + len, sizeof msg - len, ", ...");
      nmiss++;
      study_shard_mask(tasks, ntasks, j, N, mine);
      for (size_t i = 0; i < ntasks; i++)
        if (mine[i]) {
          tmiss++;
          add_example(ex, sizeof ex, &shown, tasks[i].id);
        }
    }
    if (nmiss) {
      char how[sizeof msg];
      if (nmiss == 1)
        snprintf(how, sizeof how, "%s", msg);
      else
        snprintf(how, sizeof how, "I/%zu", N);
      st = ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL,
                   "%zu of %zu shards missing (%s): %zu tasks missing (%s); run %s with: moelab study %s/study.json%s "
                   "--shard %s --out DIR, then merge again",
                   nmiss, N, msg, tmiss, tmiss ? ex : "none", nmiss == 1 ? "it" : "each", dirs[0],
                   sh[0].quick ? " --quick" : "", how);
      goto out;
    }
  }
  /* the rows: every task once */
  char header[STUDY_ROW_MAX];
  study_results_header(s, header);
  size_t ndup = 0, dshown = 0;
  char dmsg[320] = "";
  for (size_t d = 0; d < n; d++) {
    if ((st = read_rows(dirs[d], header, &rows[d], err))) goto out;
    for (size_t r = 0; r < rows[d].n; r++) {
      const char *line = rows[d].line[r];
      size_t idlen = strcspn(line, ",");
      char id[sizeof tasks[0].id];
      if (idlen >= sizeof id) idlen = sizeof id - 1;
      memcpy(id, line, idlen);
      id[idlen] = '\0';
      merge_key k = {id, 0};
      const merge_key *f = bsearch(&k, keys, ntasks, sizeof *keys, cmp_key);
      if (!f) {
        char path[4200];
        snprintf(path, sizeof path, "%s/results.csv", dirs[d]);
        st = ml_fail(err, MOELAB_EINVAL, path, rows[d].lineno[r], NULL, "task '%s' is not a task of study %s%s", id,
                     moelab_study_name(s), s->quick ? " (quick)" : "");
        goto out;
      }
      if (where[f->task] != SIZE_MAX) {
        char one[300];
        snprintf(one, sizeof one, "%s in %s and %s", id, dirs[where[f->task]], dirs[d]);
        add_example(dmsg, sizeof dmsg, &dshown, one);
        ndup++;
        continue;
      }
      where[f->task] = d;
      line_of[f->task] = line;
    }
  }
  if (ndup) {
    st = ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "%zu task%s duplicated: %s", ndup, ndup == 1 ? "" : "s", dmsg);
    goto out;
  }
  {
    size_t nmiss = 0, shown = 0, last = 0;
    char ex[200] = "", dirsmsg[300] = "";
    size_t dshown2 = 0;
    unsigned char *incomplete = ml_zalloc(N, 1);
    if (!incomplete) {
      st = ml_nomem(err);
      goto out;
    }
    for (size_t j = 0; j < N; j++) {
      study_shard_mask(tasks, ntasks, j, N, mine);
      for (size_t i = 0; i < ntasks; i++)
        if (mine[i] && where[i] == SIZE_MAX) {
          nmiss++;
          add_example(ex, sizeof ex, &shown, tasks[i].id);
          if (!incomplete[j]) {
            char one[300];
            incomplete[j] = 1;
            last = j;
            snprintf(one, sizeof one, "%s (shard %zu/%zu)", by_index[j], j, N);
            add_example(dirsmsg, sizeof dirsmsg, &dshown2, one);
          }
        }
    }
    free(incomplete);
    if (nmiss) {
      char how[4300];
      if (dshown2 == 1)
        snprintf(how, sizeof how, "%zu/%zu --out %s", last, N, by_index[last]);
      else
        snprintf(how, sizeof how, "I/%zu --out DIR", N);
      st = ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL,
                   "%zu of %zu tasks missing (%s) from %s; complete %s with: moelab study %s/study.json%s --shard %s "
                   "--resume, then merge again",
                   nmiss, ntasks, ex, dirsmsg, dshown2 == 1 ? "it" : "each", dirs[0], sh[0].quick ? " --quick" : "", how);
      goto out;
    }
  }
  /* the merged directory */
  if ((st = study_mkdir_p(out_dir, err))) goto out;
  {
    char path[4200];
    snprintf(path, sizeof path, "%s/results.csv", out_dir);
    if (access(path, F_OK) == 0) {
      st = ml_fail(err, MOELAB_EINVAL, path, 0, NULL, "results already exist: choose another output directory");
      goto out;
    }
    moelab_outfile *of = NULL;
    if ((st = moelab_outfile_new(path, &of, err))) goto out;
    FILE *fp = moelab_outfile_stream(of);
    fputs(header, fp);
    for (size_t i = 0; i < ntasks; i++) fputs(line_of[i], fp);
    st = moelab_outfile_commit(of, err);
    moelab_outfile_free(of);
    if (st) goto out;
    /* timings: every shard's, in the order of the arguments */
    snprintf(path, sizeof path, "%s/timings.csv", out_dir);
    if ((st = moelab_outfile_new(path, &of, err))) goto out;
    fp = moelab_outfile_stream(of);
    for (size_t d = 0; d < n; d++) {
      char tp[4200];
      snprintf(tp, sizeof tp, "%s/timings.csv", dirs[d]);
      FILE *in = fopen(tp, "rb");
      if (!in) continue;
      char buf[1024];
      while (fgets(buf, sizeof buf, in))
        if (strchr(buf, '\n')) fputs(buf, fp); /* complete lines only */
      fclose(in);
    }
    st = moelab_outfile_commit(of, err);
    moelab_outfile_free(of);
    if (st) goto out;
  }
  moelab_study_options o;
  moelab_study_options_init(&o);
  o.out_dir = out_dir; /* shard [0, 1]: the whole study */
  if ((st = study_write_manifest(s, out_dir, ntasks, &o, err))) goto out;
  for (size_t d = 0; d < n; d++)
    if ((st = copy_references(dirs[d], out_dir, err))) goto out;
  st = moelab_study_summarise(s, out_dir, err);
out:
  if (sh)
    for (size_t i = 0; i < n; i++) free(sh[i].study_text);
  if (rows)
    for (size_t i = 0; i < n; i++) rows_free(&rows[i]);
  free(sh);
  free(rows);
  free(by_index);
  moelab_study_free(s);
  free(tasks);
  free(keys);
  free(where);
  free(line_of);
  free(mine);
  return st;
}
