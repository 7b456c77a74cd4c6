/*
 * test_loss.c — Voronoi cells and losses against values computed by hand,
 * invariances, L̄, the reference measure Ḡ and rate estimation.
 */
#include "check.h"
#include "moelab.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdint.h>

/* A model from a list of atoms (β0, β1[d], η[q]) written out in the test. */
static moelab_model *mk(moelab_gate g, moelab_expert e, size_t d, size_t k, const double *theta) {
  moelab_model *m = NULL;
  moelab_model_new(g, e, 1, d, k, &m, NULL);
  memcpy(m->theta, theta, m->p * sizeof(double));
  double lo[2] = {-1, -1}, hi[2] = {1, 1};
  moelab_model_set_input(m, MOELAB_LAW_UNIFORM, lo, hi, NULL);
  return m;
}

static moelab_loss_result *loss(const moelab_model *f, const moelab_model *r, const char *name, int translate) {
  moelab_loss_spec spec;
  CHECK_STATUS(moelab_loss_parse(name, &spec, NULL), MOELAB_OK);
  spec.translate = translate;
  moelab_loss_result *res = NULL;
  CHECK_STATUS(moelab_loss(f, r, &spec, &res, NULL), MOELAB_OK);
  return res;
}

/*
 * Sigmoid, linear experts, d = 1, k* = 2, k = 3.
 * Reference: j0: β0 = 0 (w = 1/2), β1 = 1, η = (2, 0); j1: β0 = log 3 (w = 3/4), β1 = -1, η = (0, 1).
 * Fit: i0: β0 = 0 (w = 1/2), β1 = 1.1, η = (2, 0.1)       -> cell j0
 *      i1: β0 = log(1/3) (w = 1/4), β1 = -1, η = (0.2, 1) -> cell j1
 *      i2: β0 = log 1.5 (w = 0.6), β1 = -0.9, η = (0, 1.2) -> cell j1
 * mass  = |1/2 - 1/2| + |1/4 + 0.6 - 3/4| = 0.1
 * exact = 1/2 (0.1 + 0.1) = 0.1
 * D1 over (r = 2)   = 1/4 (0 + 0.04) + 0.6 (0.01 + 0.04) = 0.04            D1 = 0.24
 * D2:1.5 over       = 1/4 · 0.2^1.5 + 0.6 (0.1^1.5 + 0.2^1.5)
 *                   = 0.022360679774997897 + 0.6 · 0.12106549570167538
 *                   = 0.022360679774997897 + 0.072639297421005229 = 0.094999977196003126
 *                                                                           D2 = 0.294999977196003126
 * D3 over (r = 1)   = 1/4 · 0.2 + 0.6 (0.1 + 0.2) = 0.23                    D3 = 0.43
 * e_0 = sqrt(0.02) = 0.14142135623730950, e_max_0 = 0.2
 * e_1 = sqrt((1/4 · 0.04 + 0.6 · 0.05) / 0.85) = sqrt(0.04/0.85) = 0.21693045781865616, e_max_1 = 0.3
 */
static const double ref1[8] = {0, 1, 2, 0, 1.0986122886681098, -1, 0, 1};
static const double fit1[12] = {0, 1.1, 2, 0.1, -1.0986122886681098, -1, 0.2, 1, 0.40546510810816438, -0.9, 0, 1.2};

static void test_hand_d1_sigmoid(void) {
  moelab_model *r = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 2, ref1);
  moelab_model *f = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 3, fit1);
  size_t cell[3];
  CHECK_STATUS(moelab_voronoi_cells(f, r, cell, NULL), MOELAB_OK);
  CHECK(cell[0] == 0 && cell[1] == 1 && cell[2] == 1);
  moelab_loss_result *a = loss(f, r, "D1", 1);
  CHECK_NEAR(a->mass, 0.1, 1e-12);
  CHECK_NEAR(a->exact, 0.1, 1e-12);
  CHECK_NEAR(a->over, 0.04, 1e-12);
  CHECK_NEAR(a->value, 0.24, 1e-12);
  CHECK_NEAR(a->e[0], 0.14142135623730950, 1e-12);
  CHECK_NEAR(a->e_max[0], 0.2, 1e-12);
  CHECK_NEAR(a->e[1], 0.21693045781865616, 1e-12);
  CHECK_NEAR(a->e_max[1], 0.3, 1e-12);
  CHECK_NEAR(a->rate_all, 0.21693045781865616, 1e-12);
  CHECK_NEAR(a->rate_exact, 0.14142135623730950, 1e-12);
  CHECK_NEAR(a->rate_over, 0.21693045781865616, 1e-12);
  CHECK_NEAR(a->rate_all_unweighted, 0.3, 1e-12);
  CHECK(strcmp(a->minimiser, "none") == 0);
  moelab_loss_result *b = loss(f, r, "D2:1.5", 1);
  CHECK_NEAR(b->over, 0.094999977196003126, 1e-12);
  CHECK_NEAR(b->value, 0.294999977196003126, 1e-12);
  CHECK_NEAR(b->over, 0.25 * pow(0.2, 1.5) + 0.6 * (pow(0.1, 1.5) + pow(0.2, 1.5)), 1e-12);
  moelab_loss_result *c = loss(f, r, "D3", 1);
  CHECK_NEAR(c->over, 0.23, 1e-12);
  CHECK_NEAR(c->value, 0.43, 1e-12);
  /* permuting the fitted atoms changes nothing */
  double perm[12];
  memcpy(perm, fit1 + 8, 4 * sizeof(double));
  memcpy(perm + 4, fit1, 4 * sizeof(double));
  memcpy(perm + 8, fit1 + 4, 4 * sizeof(double));
  moelab_model *fp = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 3, perm);
  moelab_loss_result *d = loss(fp, r, "D1", 1);
  CHECK_NEAR(d->value, a->value, 1e-15);
  CHECK_NEAR(d->rate_all, a->rate_all, 1e-15);
  /* the loss of the reference against itself is 0 */
  moelab_loss_result *z = loss(r, r, "D1", 1);
  CHECK(z->value == 0.0 && z->rate_all == 0.0);
  moelab_loss_result_free(a);
  moelab_loss_result_free(b);
  moelab_loss_result_free(c);
  moelab_loss_result_free(d);
  moelab_loss_result_free(z);
  moelab_model_free(fp);
  moelab_model_free(f);
  moelab_model_free(r);
}

/*
 * Sigmoid, tanh experts, d = 2, k* = 2, k = 3.
 * Reference: j0: β0 = 0, β1 = (1, 0), η = (1, 0, 0); j1: β0 = 0, β1 = (0, -2), η = (0, 1, 1).
 * Fit: i0: β0 = 0, β1 = (1, 0.3), η = (1, 0, 0.4)          -> j0, ‖Δβ1‖ = 0.3, ‖Δη‖ = 0.4
 *      i1: β0 = log(1/3) (w 1/4), β1 = (0, -2), η = (0, 1.3, 1)  -> j1, ‖Δβ1‖ = 0, ‖Δη‖ = 0.3
 *      i2: β0 = log(1/3) (w 1/4), β1 = (0.4, -2), η = (0, 1, 1)  -> j1, ‖Δβ1‖ = 0.4, ‖Δη‖ = 0
 * mass = |1/2 - 1/2| + |1/4 + 1/4 - 1/2| = 0;  exact = 1/2 (0.3 + 0.4) = 0.35
 * D1 over = 1/4 (0.09) + 1/4 (0.16) = 0.0625;  D1 = 0.4125
 * D3 over = 1/4 (0.3) + 1/4 (0.4) = 0.175;     D3 = 0.525
 */
static void test_hand_d2(void) {
  const double ref[12] = {0, 1, 0, 1, 0, 0, 0, 0, -2, 0, 1, 1};
  const double fit[18] = {0, 1, 0.3, 1, 0, 0.4, -1.0986122886681098, 0, -2, 0, 1.3, 1,
                          -1.0986122886681098, 0.4, -2, 0, 1, 1};
  moelab_model *r = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_TANH, 2, 2, ref);
  moelab_model *f = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_TANH, 2, 3, fit);
  moelab_loss_result *a = loss(f, r, "D1", 1), *c = loss(f, r, "D3", 1);
  CHECK_NEAR(a->mass, 0.0, 1e-12);
  CHECK_NEAR(a->exact, 0.35, 1e-12);
  CHECK_NEAR(a->over, 0.0625, 1e-12);
  CHECK_NEAR(a->value, 0.4125, 1e-12);
  CHECK_NEAR(c->over, 0.175, 1e-12);
  CHECK_NEAR(c->value, 0.525, 1e-12);
  CHECK(isnan(a->canonical)); /* tanh is not homogeneous */
  moelab_loss_result_free(a);
  moelab_loss_result_free(c);
  moelab_model_free(f);
  moelab_model_free(r);
}

/*
 * Softmax, the same atoms as the d = 1 case, at t = 0 (weights exp(β0)):
 * w°: 1, 3;  w: 1, 1/3, 1.5
 * mass = |1 - 1| + |1/3 + 1.5 - 3| = 7/6;  exact = 1 (0.1 + 0.1) = 0.2
 * D1 over = 1/3 (0.04) + 1.5 (0.05) = 0.088333...;  D1 = 7/6 + 0.2 + 0.0883333 = 1.455
 */
static void test_hand_softmax(void) {
  moelab_model *r = mk(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_LINEAR, 1, 2, ref1);
  moelab_model *f = mk(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_LINEAR, 1, 3, fit1);
  moelab_loss_result *a = loss(f, r, "D1", 0);
  CHECK_NEAR(a->mass, 7.0 / 6.0, 1e-12);
  CHECK_NEAR(a->exact, 0.2, 1e-12);
  CHECK_NEAR(a->over, 0.04 / 3 + 0.075, 1e-12);
  CHECK_NEAR(a->value, 1.455, 1e-12);
  /* minimised over the translation: no larger, and invariant to a common shift of the fit */
  moelab_loss_result *b = loss(f, r, "D1", 1);
  CHECK(b->value <= a->value);
  CHECK(strcmp(b->minimiser, "nmsimplex2") == 0);
  moelab_model *g = NULL;
  moelab_model_copy(f, &g, NULL);
  for (size_t i = 0; i < 3; i++) {
    g->theta[i * 4] += 0.7;
    g->theta[i * 4 + 1] -= 0.3;
  }
  moelab_loss_result *c = loss(g, r, "D1", 1);
  CHECK_NEAR(c->value, b->value, 1e-8);
  /* the reference, shifted, has loss 0 after minimisation */
  moelab_model *h = NULL;
  moelab_model_copy(r, &h, NULL);
  for (size_t i = 0; i < 2; i++) {
    h->theta[i * 4] -= 1.3;
    h->theta[i * 4 + 1] += 0.25;
  }
  moelab_loss_result *z = loss(h, r, "D1", 1);
  CHECK_NEAR(z->value, 0.0, 1e-8);
  CHECK_NEAR(z->t0, 1.3, 1e-6);
  CHECK_NEAR(z->t1[0], -0.25, 1e-6);
  moelab_loss_result_free(a);
  moelab_loss_result_free(b);
  moelab_loss_result_free(c);
  moelab_loss_result_free(z);
  moelab_model_free(g);
  moelab_model_free(h);
  moelab_model_free(f);
  moelab_model_free(r);
}

/*
 * L̄ with constant gates (β1 = 0), linear experts, μ = U[-1, 1]:
 * ‖g_i h_i‖ = σ(β0_i) sqrt(a_i²/3 + b_i²).
 * G*: j0: β0 = 0, η = (1, 0); j1: β0 = 0, η = (0, 2).
 * Fit: i0: β0 = 0, η = (1.1, 0)   c = 0.5 · 1.1/√3 = 0.31754264805429417
 *      i1: β0 = -5, η = (0.3, 0.1) c = σ(-5) sqrt(0.03 + 0.01) = 0.0013386969... (switched off)
 *      i2: β0 = 0.1, η = (0, 2)   c = σ(0.1) · 2
 * matched i0-j0: |1/2 - 1/2| + 0 + 0.1;  i2-j1: |σ(0.1) - 1/2| + 0 + 0
 * L̄ = 0.1 + (σ(0.1) - 0.5) + σ(-5) · 0.2
 */
static void test_hand_lbar(void) {
  const double ref[8] = {0, 0, 1, 0, 0, 0, 0, 2};
  const double fit[12] = {0, 0, 1.1, 0, -5, 0, 0.3, 0.1, 0.1, 0, 0, 2};
  moelab_model *r = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 2, ref);
  moelab_model *f = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 3, fit);
  moelab_loss_result *a = loss(f, r, "Lbar", 1);
  double s01 = 1 / (1 + exp(-0.1)), sm5 = 1 / (1 + exp(5.0));
  CHECK(a->cell[0] == 0 && a->cell[1] == SIZE_MAX && a->cell[2] == 1);
  CHECK_NEAR(a->contribution[0], 0.31754264805429417, 1e-12);
  CHECK_NEAR(a->contribution[1], sm5 * 0.2, 1e-12);
  CHECK_NEAR(a->contribution[2], s01 * 2, 1e-12);
  CHECK_NEAR(a->mass, s01 - 0.5, 1e-12);
  CHECK_NEAR(a->exact, 0.1, 1e-12);
  CHECK_NEAR(a->over, sm5 * 0.2, 1e-12);
  CHECK_NEAR(a->value, 0.1 + (s01 - 0.5) + sm5 * 0.2, 1e-12);
  /* the canonical variant: flat cells scored on w·η.  For D1:
   * j0 (β1° = 0): cell {i0, i1}: v = 0.5 (1.1, 0) + σ(-5)(0.3, 0.1); v° = (0.5, 0); linear: ‖Σv - v°‖ */
  moelab_loss_result *b = loss(f, r, "D1", 1);
  CHECK(b->cell[0] == 0 && b->cell[1] == 0 && b->cell[2] == 1);
  double v0 = 0.55 + sm5 * 0.3 - 0.5, v1 = sm5 * 0.1;
  double want = sqrt(v0 * v0 + v1 * v1) + fabs(2 * s01 - 1.0);
  CHECK_NEAR(b->canonical, want, 1e-12);
  moelab_loss_result_free(a);
  moelab_loss_result_free(b);
  moelab_model_free(f);
  moelab_model_free(r);
}

static void test_loss_errors(void) {
  moelab_loss_spec spec;
  moelab_error err;
  CHECK_STATUS(moelab_loss_parse("D4", &spec, &err), MOELAB_EINVAL);
  CHECK_STATUS(moelab_loss_parse("D2:-1", &spec, &err), MOELAB_EINVAL);
  CHECK_STATUS(moelab_loss_parse("D2:0.5", &spec, &err), MOELAB_OK);
  CHECK(spec.kind == MOELAB_LOSS_D2 && spec.r == 0.5);
  char buf[40];
  CHECK(strcmp(moelab_loss_name(&spec, buf), "D2:0.5") == 0);
  moelab_model *r = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 2, ref1);
  moelab_model *f = mk(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_LINEAR, 1, 3, fit1);
  moelab_loss_result *res = NULL;
  moelab_loss_parse("D1", &spec, NULL);
  CHECK_STATUS(moelab_loss(f, r, &spec, &res, &err), MOELAB_EINVAL);
  CHECK(strcmp(err.field, "gate") == 0);
  moelab_loss_parse("Lbar", &spec, NULL);
  CHECK_STATUS(moelab_loss(r, r, &spec, &res, &err), MOELAB_OK);
  moelab_loss_result_free(res);
  moelab_model_free(r);
  moelab_model_free(f);
}

/* ---- the reference measure ---- */

static moelab_model *truth_gelu(int regime) {
  /* atom 0 is over-specified: β1 = 0 in Regime 1, 2 in Regime 2 */
  const double t[8] = {0, regime == 1 ? 0.0 : 2.0, 4, 1, -0.5, -3, -4, 2};
  moelab_model *m = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_GELU, 1, 2, t);
  return m;
}

static void test_reference(void) {
  moelab_reference_options o;
  moelab_reference_options_init(&o);
  o.k = 3;
  o.threads = 1;
  /* Regime 1: f_G* is reachable by splitting, Ḡ's regression function is the truth's */
  moelab_model *t1 = truth_gelu(1), *g = NULL;
  moelab_reference_report *rep = NULL;
  CHECK_STATUS(moelab_reference(t1, &o, &g, &rep, NULL), MOELAB_OK);
  if (rep) {
    CHECK_MSG(rep->distance <= 1e-6, "Regime 1 distance %.3g", rep->distance);
    CHECK(rep->k == 3 && rep->neig == 3);
    CHECK(rep->truth_norm > 0.1);
  }
  moelab_reference_report_free(rep);
  moelab_model_free(g);
  moelab_model_free(t1);
  /* Regime 2, GELU: the report states the distance, the atoms and their contributions */
  moelab_model *t2 = truth_gelu(2);
  rep = NULL;
  g = NULL;
  CHECK_STATUS(moelab_reference(t2, &o, &g, &rep, NULL), MOELAB_OK);
  if (rep && g) {
    CHECK(isfinite(rep->distance) && rep->distance >= 0);
    double fsum = 0;
    for (size_t i = 0; i < 3; i++) fsum += rep->contribution[i];
    CHECK(fsum > 0.5 * rep->truth_norm);
    char *text = NULL;
    CHECK_STATUS(moelab_reference_report_json(rep, &text, NULL), MOELAB_OK);
    CHECK(text && strstr(text, "\"contributions\"") && strstr(text, "\"distance\""));
    free(text);
    CHECK(g->has_input);
  }
  moelab_reference_report_free(rep);
  moelab_model_free(g);
  /* ReLU, Regime 2: an atom switches off (docs/theory.md §8) and the report says so */
  t2->expert = MOELAB_EXPERT_RELU;
  rep = NULL;
  g = NULL;
  CHECK_STATUS(moelab_reference(t2, &o, &g, &rep, NULL), MOELAB_OK);
  if (rep) {
    size_t off = 0;
    for (size_t i = 0; i < 3; i++) off += rep->contribution[i] <= 1e-3 * rep->truth_norm;
    CHECK(off == rep->switched_off);
    CHECK_MSG(rep->switched_off >= 1, "no atom switched off (contributions %.3g %.3g %.3g)", rep->contribution[0],
              rep->contribution[1], rep->contribution[2]);
  }
  moelab_reference_report_free(rep);
  moelab_model_free(g);
  moelab_model_free(t2);
}

/* ---- rates ---- */

static void synthetic(double alpha, int lograte, double *n, double *v, size_t *rows, uint64_t seed) {
  void *vr = NULL;
  moelab_rng_new(seed, 0, &vr, NULL);
  gsl_rng *r = vr;
  size_t m = 0;
  for (int g = 0; g < 10; g++) {
    double nn = floor(1000 * pow(100.0, g / 9.0));
    for (int rep = 0; rep < 40; rep++) {
      double base = lograte ? 2.0 / log(nn) : 3.0 * pow(nn, -alpha);
      n[m] = nn;
      v[m] = base * (1 + 0.1 * gsl_ran_gaussian_ziggurat(r, 1.0));
      m++;
    }
  }
  *rows = m;
  moelab_rng_free(r);
}

static void test_rates(void) {
  double n[400], v[400];
  size_t rows;
  moelab_rate_options o;
  moelab_rate_options_init(&o);
  const double alphas[2] = {0.25, 0.5};
  for (int a = 0; a < 2; a++) {
    synthetic(alphas[a], 0, n, v, &rows, 10 + (uint64_t)a);
    moelab_rate_result res;
    CHECK_STATUS(moelab_rate_fit(n, v, rows, &o, &res, NULL), MOELAB_OK);
    CHECK(res.groups == 10 && res.count[0] == 40);
    CHECK_MSG(res.ci_low <= -alphas[a] && -alphas[a] <= res.ci_high, "alpha %g: [%g, %g]", alphas[a], res.ci_low,
              res.ci_high);
    CHECK(res.ci_high - res.ci_low < 0.05);
    CHECK(!res.prefer_log);
    /* n needed to reach eps inverts the fitted line */
    double eps = 3.0 * pow(5e4, -alphas[a]);
    CHECK_NEAR(log(moelab_rate_n_for(&res, eps, 0)), log(5e4), 0.2);
    moelab_rate_result_clear(&res);
  }
  synthetic(0, 1, n, v, &rows, 20);
  moelab_rate_result res;
  CHECK_STATUS(moelab_rate_fit(n, v, rows, &o, &res, NULL), MOELAB_OK);
  CHECK(res.prefer_log);
  CHECK(res.lambda > 0.8 && res.lambda < 1.2);
  CHECK(res.slope > -0.15 && res.slope < 0);
  moelab_rate_result_clear(&res);
  /* errors */
  moelab_error err;
  double one_n[3] = {100, 100, 100}, vals[3] = {1, 2, 3};
  CHECK_STATUS(moelab_rate_fit(one_n, vals, 3, &o, &res, &err), MOELAB_EINVAL);
  double two_n[3] = {100, 200, 200}, bad[3] = {1, -2, 3};
  CHECK_STATUS(moelab_rate_fit(two_n, bad, 3, &o, &res, &err), MOELAB_EINVAL);
  /* exact zeros count towards the means: n = 1000 {0.1, 0} has mean 0.05, n = 10000 {0.01, 0.02} 0.015 */
  double zn[4] = {1000, 1000, 10000, 10000}, zv[4] = {0.1, 0.0, 0.01, 0.02};
  CHECK_STATUS(moelab_rate_fit(zn, zv, 4, &o, &res, NULL), MOELAB_OK);
  CHECK_NEAR(res.mean[0], 0.05, 1e-15);
  CHECK_NEAR(res.slope, log(0.015 / 0.05) / log(10.0), 1e-12);
  CHECK(isfinite(res.ci_low) && isfinite(res.ci_high) && res.ci_low <= res.ci_high);
  moelab_rate_result_clear(&res);
  /* every value 0 at one n: no log of the mean */
  double zz[4] = {0.0, 0.0, 0.01, 0.02};
  CHECK_STATUS(moelab_rate_fit(zn, zz, 4, &o, &res, &err), MOELAB_EINVAL);
  CHECK(strstr(err.message, "n = 1000") != NULL);
}

/*
 * The tie rule: sigmoid, linear experts, d = 2 (θ = (β1, a, b)), one fitted atom
 * β0 = 0, β1 = (0, 0), η = (0, 0, 0) against j0: β1 = (1, 1), η = 0 and
 * j1: β1 = (1, 0), η = (1, 0, 0) (both β0 = 0).  Both squared distances are
 * exactly 2: the atom goes to j0 (the smaller index).
 * D1 = |1/2 - 1/2| + |0 - 1/2| + 1/2 (√2 + 0) = 1/2 + √2/2.
 */
static void test_tie_rule(void) {
  const double fit[6] = {0, 0, 0, 0, 0, 0};
  const double ref[12] = {0, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0};
  const double ref10[12] = {0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0}; /* the same atoms in the other order */
  moelab_model *f = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 2, 1, fit);
  moelab_model *r = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 2, 2, ref);
  moelab_model *r2 = mk(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 2, 2, ref10);
  size_t cell[1] = {9};
  CHECK_STATUS(moelab_voronoi_cells(f, r, cell, NULL), MOELAB_OK);
  CHECK(cell[0] == 0);
  CHECK_STATUS(moelab_voronoi_cells(f, r2, cell, NULL), MOELAB_OK);
  CHECK(cell[0] == 0);
  moelab_loss_result *a = loss(f, r, "D1", 0);
  CHECK_NEAR(a->value, 0.5 + 0.5 * sqrt(2.0), 1e-15);
  moelab_loss_result_free(a);
  /* linear experts and poly experts of degree 1 are the same functions: comparable */
  moelab_model *p1 = NULL;
  CHECK_STATUS(moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_POLY, 1, 2, 2, &p1, NULL), MOELAB_OK);
  memcpy(p1->theta, ref, sizeof ref);
  a = loss(f, p1, "D1", 0);
  CHECK_NEAR(a->value, 0.5 + 0.5 * sqrt(2.0), 1e-15);
  moelab_loss_result_free(a);
  moelab_model_free(p1);
  moelab_model_free(f);
  moelab_model_free(r);
  moelab_model_free(r2);
}

CHECK_MAIN(T(test_hand_d1_sigmoid), T(test_hand_d2), T(test_hand_softmax), T(test_hand_lbar), T(test_loss_errors),
           T(test_reference), T(test_rates), T(test_tie_rule))
