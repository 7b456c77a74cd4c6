/*
 * json_internal.h — helpers shared by the JSON readers (models, studies):
 * typed member access whose errors name the file, the line and the JSON path.
 */
#ifndef MOELAB_JSON_INTERNAL_H
#define MOELAB_JSON_INTERNAL_H

#include "internal.h"

#include <cjson/cJSON.h>

typedef struct ml_jctx {
  const char *text;   /* the whole file, for line numbers */
  size_t len;
  const char *name;   /* the file's name in messages */
  moelab_error *err;
  const char *prefix; /* JSON path of the object being read ("" or NULL at the top) */
} ml_jctx;

/* The line of JSON path `path` ("a.b[2].c") in text (of its deepest existing part). */
long json_locate(const char *text, size_t len, const char *path);

/* Fills err with status and message at path (prefixed by c->prefix); returns status. */
int ml_jfail(const ml_jctx *c, int status, const char *path, const char *fmt, ...) ML_PRINTF(4, 5);
int ml_j_get_number(const ml_jctx *c, const cJSON *item, const char *path, double *out);
int ml_j_get_int(const ml_jctx *c, const cJSON *item, const char *path, long lo, long hi, long *out);
int ml_j_get_vector(const ml_jctx *c, const cJSON *item, const char *path, size_t n, int scalar_ok, double *out);
int ml_j_get_string(const ml_jctx *c, const cJSON *obj, const char *key, const char *path, const char **out);
int ml_j_check_duplicates(const ml_jctx *c, const cJSON *obj, const char *prefix);
/* A model from a JSON object (the model-file schema), paths relative to c->prefix. */
int ml_j_model(const ml_jctx *c, const cJSON *root, moelab_model **out);
/* Parses text into *root (the caller deletes it); errors name the line. */
int ml_j_parse(const char *text, size_t len, const char *name, cJSON **root, moelab_error *err);

#endif
