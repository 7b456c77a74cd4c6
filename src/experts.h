/*
 * experts.h — expert activations and their derivatives (inline kernels).
 */
#ifndef MOELAB_EXPERTS_H
#define MOELAB_EXPERTS_H

#include "gates.h"
#include "moelab.h"

#include <math.h>

#define ML_SQRT1_2 0.70710678118654752440  /* 1/√2 */
#define ML_INV_SQRT2PI 0.39894228040143267794 /* 1/√(2π) */

/* u^p for an integer p >= 1 by repeated squaring (exact for small p). */
static inline double ml_ipow(double u, int p) {
  double r = 1.0, b = u;
  while (p > 0) {
    if (p & 1) r *= b;
    b *= b;
    p >>= 1;
  }
  return r;
}

/*
 * h(u) and h'(u) of an expert family at u = aᵀx + b (not for constant).
 * relu: derivative 0 at u = 0 exactly (left one-sided derivative).
 * gelu: u Φ(u) with Φ(u) = erfc(-u/√2)/2; h' = Φ(u) + u φ(u).
 * tanh: h' = sech²(u), computed from cosh so it does not cancel for large |u|.
 */
static inline void ml_activation(moelab_expert e, int degree, double u, double *h, double *dh) {
  switch (e) {
  case MOELAB_EXPERT_RELU: /* branch-free: the sign of u follows the data */
    *h = ml_select(u > 0, u, 0.0);
    *dh = ml_select(u > 0, 1.0, 0.0);
    return;
  case MOELAB_EXPERT_GELU: {
    double Phi = 0.5 * erfc(-u * ML_SQRT1_2);
    double phi = ML_INV_SQRT2PI * exp(-0.5 * u * u);
    *h = u * Phi;
    *dh = Phi + u * phi;
    return;
  }
  case MOELAB_EXPERT_LINEAR:
    *h = u;
    *dh = 1.0;
    return;
  case MOELAB_EXPERT_POLY:
    if (degree == 1) {
      *h = u;
      *dh = 1.0;
    } else {
      double t = ml_ipow(u, degree - 1);
      *h = t * u;
      *dh = (double)degree * t;
    }
    return;
  case MOELAB_EXPERT_SIGMOID:
    ml_sigmoid_gate(u, h, dh);
    return;
  case MOELAB_EXPERT_TANH: {
    *h = tanh(u);
    double c = 1.0 / cosh(u);
    *dh = c * c;
    return;
  }
  case MOELAB_EXPERT_CONSTANT:
    break;
  }
  *h = 0.0;
  *dh = 0.0;
}

/*
 * h, h' and h'' at u (not for constant).  relu: h'' = 0 (the kink carries no
 * second derivative); gelu: h'' = φ(u)(2 - u²); poly: p(p-1)u^(p-2);
 * sigmoid: σ'(u)(σ(-u) - σ(u)); tanh: -2 tanh(u) sech²(u).
 */
static inline void ml_activation2(moelab_expert e, int degree, double u, double *h, double *dh, double *d2h) {
  switch (e) {
  case MOELAB_EXPERT_GELU: {
    double phi = ML_INV_SQRT2PI * exp(-0.5 * u * u);
    double Phi = 0.5 * erfc(-u * ML_SQRT1_2);
    *h = u * Phi;
    *dh = Phi + u * phi;
    *d2h = phi * (2.0 - u * u);
    return;
  }
  case MOELAB_EXPERT_POLY:
    if (degree == 1) {
      *h = u;
      *dh = 1.0;
      *d2h = 0.0;
    } else {
      double t2 = degree >= 2 ? ml_ipow(u, degree - 2) : 0.0;
      double t1 = t2 * u;
      *h = t1 * u;
      *dh = (double)degree * t1;
      *d2h = (double)degree * (double)(degree - 1) * t2;
    }
    return;
  case MOELAB_EXPERT_SIGMOID: {
    double e1 = exp(-fabs(u));
    double big = 1.0 / (1.0 + e1), small = e1 * big;
    double s = u >= 0 ? big : small, sc = u >= 0 ? small : big;
    *h = s;
    *dh = big * small;
    *d2h = big * small * (sc - s);
    return;
  }
  case MOELAB_EXPERT_TANH: {
    double t = tanh(u), c = 1.0 / cosh(u);
    *h = t;
    *dh = c * c;
    *d2h = -2.0 * t * c * c;
    return;
  }
  default:
    ml_activation(e, degree, u, h, dh);
    *d2h = 0.0;
  }
}

#endif
