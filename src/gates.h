/*
 * gates.h — numerically stable gate functions (inline kernels).
 */
#ifndef MOELAB_GATES_H
#define MOELAB_GATES_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* c ? a : b without a branch (the bits of a or b, exactly): for selections
 * that depend on the data, where a mispredicted branch costs more than both
 * operands. */
static inline double ml_select(int c, double a, double b) {
  uint64_t ua, ub;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  uint64_t m = (uint64_t)0 - (uint64_t)(c != 0);
  uint64_t r = (ua & m) | (ub & ~m);
  double out;
  memcpy(&out, &r, sizeof out);
  return out;
}

/* σ(z) = 1/(1+e^{-z}) without overflow: exp is only taken of -|z|. */
static inline double ml_sigmoid(double z) {
  if (z >= 0) {
    double e = exp(-z);
    return 1.0 / (1.0 + e);
  }
  double e = exp(z);
  return e / (1.0 + e);
}

/*
 * Sigmoid gate of score z: value σ(z) and derivative σ(z)σ(-z); both are
 * computed from exp(-|z|), so the derivative keeps full relative precision
 * for large |z| (where 1 - σ(z) would cancel).  _e takes e = exp(-|z|)
 * computed by the caller (the kernels take the exponentials of all atoms
 * first, so that the divisions that follow can overlap).
 */
static inline void ml_sigmoid_gate_e(double z, double e, double *g, double *dg) {
  double big = 1.0 / (1.0 + e); /* σ(|z|) */
  double small = e * big;       /* σ(-|z|) */
  *g = ml_select(z >= 0, big, small);
  *dg = big * small;
}

static inline void ml_sigmoid_gate(double z, double *g, double *dg) { ml_sigmoid_gate_e(z, exp(-fabs(z)), g, dg); }

/*
 * Softmax of k scores z into g, by log-sum-exp: g_i = exp(z_i - m) / S with
 * m = max z, so no exponent is positive and S >= 1.  Returns log Σ exp(z).
 */
static inline double ml_softmax(const double *z, size_t k, double *g) {
  double m = z[0];
  for (size_t i = 1; i < k; i++)
    if (z[i] > m) m = z[i];
  double s = 0.0;
  for (size_t i = 0; i < k; i++) {
    g[i] = exp(z[i] - m);
    s += g[i];
  }
  double inv = 1.0 / s;
  for (size_t i = 0; i < k; i++) g[i] *= inv;
  return m + log(s);
}

#endif
