/*
 * error.c — status codes, the error struct and checked allocation.
 */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *moelab_version(void) { return MOELAB_VERSION_STRING; }

int moelab_api_version(void) { return MOELAB_API_VERSION; }

const char *moelab_status_str(int status) {
  switch (status) {
  case MOELAB_OK: return "success";
  case MOELAB_EINVAL: return "invalid argument";
  case MOELAB_EPARSE: return "malformed input";
  case MOELAB_EIO: return "input/output error";
  case MOELAB_ENOMEM: return "out of memory";
  case MOELAB_ENUMERIC: return "numerical failure";
  case MOELAB_ELIMIT: return "limit exceeded";
  case MOELAB_EINTR: return "interrupted";
  case MOELAB_ENOTFOUND: return "not found";
  default: return "unknown status";
  }
}

void moelab_error_clear(moelab_error *err) {
  if (!err) return;
  err->status = MOELAB_OK;
  err->message[0] = '\0';
  err->file[0] = '\0';
  err->line = 0;
  err->field[0] = '\0';
}

static void copy_str(char *dst, size_t size, const char *src) {
  if (!src) src = "";
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int ml_vfail(moelab_error *err, int status, const char *file, long line, const char *field, const char *fmt,
             va_list ap) {
  if (!err) return status;
  err->status = status;
  copy_str(err->file, sizeof err->file, file);
  err->line = line;
  copy_str(err->field, sizeof err->field, field);
  if (fmt)
    vsnprintf(err->message, sizeof err->message, fmt, ap);
  else
    copy_str(err->message, sizeof err->message, moelab_status_str(status));
  return status;
}

int ml_fail(moelab_error *err, int status, const char *file, long line, const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int st = ml_vfail(err, status, file, line, field, fmt, ap);
  va_end(ap);
  return st;
}

int ml_nomem(moelab_error *err) { return ml_fail(err, MOELAB_ENOMEM, NULL, 0, NULL, "out of memory"); }

int moelab_error_format(const moelab_error *err, char *buf, size_t size) {
  if (!err) return snprintf(buf, size, "%s", "no error");
  char loc[MOELAB_ERRFILE_MAX + 32] = "";
  if (err->file[0] && err->line > 0)
    snprintf(loc, sizeof loc, "%s:%ld: ", err->file, err->line);
  else if (err->file[0])
    snprintf(loc, sizeof loc, "%s: ", err->file);
  char fld[MOELAB_ERRFIELD_MAX + 16] = "";
  if (err->field[0]) snprintf(fld, sizeof fld, "field '%s': ", err->field);
  const char *msg = err->message[0] ? err->message : moelab_status_str(err->status);
  return snprintf(buf, size, "%s%s%s", loc, fld, msg);
}

void *ml_alloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  size_t bytes = n * size;
  return malloc(bytes ? bytes : 1);
}

void *ml_zalloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  if (n == 0 || size == 0) return calloc(1, 1);
  return calloc(n, size);
}

void *ml_realloc(void *ptr, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  size_t bytes = n * size;
  return realloc(ptr, bytes ? bytes : 1);
}

char *ml_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *r = malloc(n);
  if (r) memcpy(r, s, n);
  return r;
}
