/*
 * simulate.c — input laws and simulated data Y = f(X) + ε.
 *
 * Streams: inputs of simulation stream t come from the random stream
 * (seed, 2t), the noise from (seed, 2t + 1).  Inputs are drawn row by row,
 * coordinate by coordinate; noise is one standard Gaussian per row (GSL's
 * ziggurat) scaled by √ν, drawn even when ν = 0 so streams stay aligned.
 */
#include "internal.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const law_names[] = {"uniform", "normal", "grid"};

const char *moelab_law_name(moelab_law law) {
  unsigned l = (unsigned)law;
  if (l < 3) return law_names[l];
  return "?";
}

int moelab_law_parse(const char *name, moelab_law *law) {
  if (!name || !law) return MOELAB_EINVAL;
  for (unsigned l = 0; l < 3; l++)
    if (strcmp(name, law_names[l]) == 0) {
      *law = (moelab_law)l;
      return MOELAB_OK;
    }
  return MOELAB_EINVAL;
}

int ml_input_check(const moelab_input *law, size_t d, const char *file, const char *what, moelab_error *err) {
  if (!law || !law->a || !law->b) return ml_fail(err, MOELAB_EINVAL, file, 0, what, "no input law");
  if ((unsigned)law->law > (unsigned)MOELAB_LAW_GRID)
    return ml_fail(err, MOELAB_EINVAL, file, 0, what, "unknown input law");
  if (law->law == MOELAB_LAW_GRID && d != 1)
    return ml_fail(err, MOELAB_EINVAL, file, 0, what, "the grid law needs d = 1 (d = %zu)", d);
  for (size_t j = 0; j < d; j++) {
    double a = law->a[j], b = law->b[j];
    if (!isfinite(a) || !isfinite(b))
      return ml_fail(err, MOELAB_EINVAL, file, 0, what, "non-finite parameter in coordinate %zu", j + 1);
    if (law->law == MOELAB_LAW_NORMAL) {
      if (!(b > 0))
        return ml_fail(err, MOELAB_EINVAL, file, 0, what, "sd must be > 0 (coordinate %zu has %g)", j + 1, b);
    } else if (!(a < b)) {
      return ml_fail(err, MOELAB_EINVAL, file, 0, what, "low must be < high (coordinate %zu has %g >= %g)",
                     j + 1, a, b);
    }
  }
  return MOELAB_OK;
}

int moelab_draw_inputs(const moelab_input *law, size_t d, size_t n, uint64_t seed, uint64_t stream, double *X,
                       moelab_error *err) {
  int st = ml_input_check(law, d, NULL, "input", err);
  if (st) return st;
  if (n > 0 && !X) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL output array");
  if (law->law == MOELAB_LAW_GRID) {
    double lo = law->a[0], hi = law->b[0];
    for (size_t r = 0; r < n; r++)
      X[r] = n == 1 ? 0.5 * (lo + hi) : lo + (hi - lo) * ((double)r / (double)(n - 1));
    if (n > 1) X[n - 1] = hi;
    return MOELAB_OK;
  }
  gsl_rng *rng = ml_rng_alloc(seed, stream);
  if (!rng) return ml_nomem(err);
  for (size_t r = 0; r < n; r++) {
    double *x = X + r * d;
    for (size_t j = 0; j < d; j++) {
      if (law->law == MOELAB_LAW_UNIFORM)
        x[j] = law->a[j] + (law->b[j] - law->a[j]) * gsl_rng_uniform(rng);
      else
        x[j] = law->a[j] + law->b[j] * gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
  }
  gsl_rng_free(rng);
  return MOELAB_OK;
}

int moelab_simulate(const moelab_model *model, const moelab_input *law, size_t n, uint64_t seed, uint64_t stream,
                    moelab_data **data, moelab_error *err) {
  if (!model || !data) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (n < 1) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "n", "n must be >= 1");
  if (n > MOELAB_MAX_ROWS)
    return ml_fail(err, MOELAB_ELIMIT, NULL, 0, "n", "n = %zu exceeds the limit %d", n, MOELAB_MAX_ROWS);
  if (!law) {
    if (!model->has_input)
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "input",
                     "the model has no input law: add an \"input\" member or give one explicitly");
    law = &model->input;
  }
  if (stream > (UINT64_MAX - 1) / 2)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "stream", "stream id too large");
  moelab_data *D = NULL;
  int st = moelab_data_new(n, model->d, 1, &D, err);
  if (st) return st;
  st = moelab_draw_inputs(law, model->d, n, seed, 2 * stream, D->X, err);
  if (st) goto fail;
  st = moelab_model_predict(model, D->X, n, D->y, 0, err);
  if (st) goto fail;
  gsl_rng *rng = ml_rng_alloc(seed, 2 * stream + 1);
  if (!rng) {
    st = ml_nomem(err);
    goto fail;
  }
  double sd = model->has_noise ? sqrt(model->noise) : 0.0;
  for (size_t r = 0; r < n; r++) D->y[r] += sd * gsl_ran_gaussian_ziggurat(rng, 1.0);
  gsl_rng_free(rng);
  *data = D;
  return MOELAB_OK;
fail:
  moelab_data_free(D);
  return st;
}
