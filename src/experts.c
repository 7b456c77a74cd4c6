/*
 * experts.c — the expert families: names and parameter counts.
 *
 * | family   | η              | h(x, η)                 |
 * | relu     | (a ∈ R^d, b)   | max(aᵀx + b, 0)         |
 * | gelu     | (a, b)         | z Φ(z), z = aᵀx + b     |
 * | linear   | (a, b)         | aᵀx + b                 |
 * | poly     | (a, b)         | (aᵀx + b)^p, degree p   |
 * | constant | (c)            | c                       |
 * | sigmoid  | (a, b)         | σ(aᵀx + b)              |
 * | tanh     | (a, b)         | tanh(aᵀx + b)           |
 * The kernels are inline in experts.h.
 */
#include "experts.h"
#include "internal.h"

#include <string.h>

static const char *const expert_names[] = {"relu", "gelu", "linear", "poly", "constant", "sigmoid", "tanh"};

const char *moelab_expert_name(moelab_expert expert) {
  unsigned e = (unsigned)expert;
  if (e < sizeof expert_names / sizeof expert_names[0]) return expert_names[e];
  return "?";
}

int moelab_expert_parse(const char *name, moelab_expert *expert) {
  if (!name || !expert) return MOELAB_EINVAL;
  for (unsigned e = 0; e < sizeof expert_names / sizeof expert_names[0]; e++)
    if (strcmp(name, expert_names[e]) == 0) {
      *expert = (moelab_expert)e;
      return MOELAB_OK;
    }
  return MOELAB_EINVAL;
}

size_t moelab_expert_nparams(moelab_expert expert, size_t d) {
  return expert == MOELAB_EXPERT_CONSTANT ? 1 : d + 1;
}
