/*
 * data.c — owned data sets.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

int moelab_data_new(size_t n, size_t d, int with_y, moelab_data **data, moelab_error *err) {
  if (!data) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "data output pointer is NULL");
  if (d < 1) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "d", "d must be >= 1");
  if (d > MOELAB_MAX_D)
    return ml_fail(err, MOELAB_ELIMIT, NULL, 0, "d", "d = %zu exceeds the limit %d", d, MOELAB_MAX_D);
  if (n > MOELAB_MAX_ROWS)
    return ml_fail(err, MOELAB_ELIMIT, NULL, 0, "n", "n = %zu exceeds the limit %d", n, MOELAB_MAX_ROWS);
  moelab_data *D = ml_zalloc(1, sizeof *D);
  if (!D) return ml_nomem(err);
  D->n = n;
  D->d = d;
  if (n > 0 && d > SIZE_MAX / n) goto nomem;
  D->X = ml_zalloc(n * d, sizeof(double));
  if (!D->X) goto nomem;
  if (with_y) {
    D->y = ml_zalloc(n, sizeof(double));
    if (!D->y) goto nomem;
  }
  D->names = ml_zalloc(d + 1, sizeof(char *));
  if (!D->names) goto nomem;
  for (size_t j = 0; j <= d; j++) {
    char buf[32];
    if (j < d)
      snprintf(buf, sizeof buf, "x%zu", j + 1);
    else
      snprintf(buf, sizeof buf, "y");
    D->names[j] = ml_strdup(buf);
    if (!D->names[j]) goto nomem;
  }
  *data = D;
  return MOELAB_OK;
nomem:
  moelab_data_free(D);
  return ml_nomem(err);
}

void moelab_data_free(moelab_data *data) {
  if (!data) return;
  if (data->names)
    for (size_t j = 0; j <= data->d; j++) free(data->names[j]);
  free(data->names);
  free(data->X);
  free(data->y);
  free(data);
}

moelab_data_view moelab_data_as_view(const moelab_data *data) {
  moelab_data_view v = {0, 0, NULL, NULL};
  if (data) {
    v.n = data->n;
    v.d = data->d;
    v.X = data->X;
    v.y = data->y;
  }
  return v;
}
