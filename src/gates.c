/*
 * gates.c — the gate families: names.  The kernels are inline in gates.h.
 *
 * sigmoid: g_i(x) = σ(β1_iᵀx + β0_i), atoms independent, no sum-to-one;
 *          mixing-measure weight of atom i: σ(β0_i).
 * softmax: g_i(x) = exp(s_i) / Σ_j exp(s_j), s_i = β1_iᵀx + β0_i; invariant to
 *          a common shift (t0, t1) of every atom's (β0, β1); weight exp(β0_i).
 */
#include "gates.h"
#include "internal.h"

#include <string.h>

const char *moelab_gate_name(moelab_gate gate) {
  switch (gate) {
  case MOELAB_GATE_SIGMOID: return "sigmoid";
  case MOELAB_GATE_SOFTMAX: return "softmax";
  }
  return "?";
}

int moelab_gate_parse(const char *name, moelab_gate *gate) {
  if (!name || !gate) return MOELAB_EINVAL;
  if (strcmp(name, "sigmoid") == 0) {
    *gate = MOELAB_GATE_SIGMOID;
    return MOELAB_OK;
  }
  if (strcmp(name, "softmax") == 0) {
    *gate = MOELAB_GATE_SOFTMAX;
    return MOELAB_OK;
  }
  return MOELAB_EINVAL;
}
