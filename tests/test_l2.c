/*
 * test_l2.c — L²(μ) distances against closed forms.
 */
#include "check.h"
#include "moelab.h"

/* A one-atom model with a constant gate (β1 = 0): f(x) = σ(β0) h(x). */
static moelab_model *flat(moelab_expert e, size_t d, double beta0, const double *eta) {
  moelab_model *m = NULL;
  moelab_model_new(MOELAB_GATE_SIGMOID, e, 1, d, 1, &m, NULL);
  m->theta[0] = beta0;
  memcpy(m->theta + 1 + d, eta, m->q * sizeof(double));
  return m;
}

static double sig(double z) { return 1 / (1 + exp(-z)); }

static void test_constants(void) {
  double c1 = 2.5, c2 = -1.0;
  moelab_model *a = flat(MOELAB_EXPERT_CONSTANT, 1, 0.3, &c1), *b = flat(MOELAB_EXPERT_CONSTANT, 1, -1.2, &c2);
  double lo = -1, hi = 3, dist, aerr;
  moelab_input mu = {MOELAB_LAW_UNIFORM, &lo, &hi};
  CHECK_STATUS(moelab_l2_distance(a, b, &mu, NULL, &dist, &aerr, NULL), MOELAB_OK);
  double want = fabs(sig(0.3) * 2.5 - sig(-1.2) * -1.0);
  CHECK_NEAR(dist, want, 1e-10 * want);
  moelab_input nmu = {MOELAB_LAW_NORMAL, &lo, &hi};
  CHECK_STATUS(moelab_l2_distance(a, b, &nmu, NULL, &dist, &aerr, NULL), MOELAB_OK);
  CHECK_NEAR(dist, want, 1e-10 * want);
  /* standard deviations whose Gauss-Hermite weight 1/(2 sd²) is no positive double (GSL refused them, and
   * freeing its NULL workspace crashed) */
  double sds[2] = {1e200, 1e-200};
  for (int i = 0; i < 2; i++) {
    moelab_input smu = {MOELAB_LAW_NORMAL, &lo, &sds[i]};
    dist = -1;
    CHECK_STATUS(moelab_l2_distance(a, b, &smu, NULL, &dist, &aerr, NULL), MOELAB_OK);
    CHECK_NEAR(dist, want, 1e-10 * want);
  }
  moelab_model_free(a);
  moelab_model_free(b);
}

/* f(x) = s (αx + β): E (αx+β)² = α²/3·(h³-l³)/(h-l)... computed per law. */
static void test_linear(void) {
  double eta[2] = {1.5, -0.25};
  moelab_model *a = flat(MOELAB_EXPERT_LINEAR, 1, 0.0, eta);
  double s = 0.5, al = s * 1.5, be = s * -0.25, dist;
  double lo = -1, hi = 2;
  moelab_input mu = {MOELAB_LAW_UNIFORM, &lo, &hi};
  CHECK_STATUS(moelab_l2_distance(a, NULL, &mu, NULL, &dist, NULL, NULL), MOELAB_OK);
  /* E x = 1/2, E x² = (8 + 1)/(3·3) = 1 */
  double want = sqrt(al * al * 1.0 + 2 * al * be * 0.5 + be * be);
  CHECK_NEAR(dist, want, 1e-12 * want);
  double m = 0.7, sd = 1.3;
  moelab_input nmu = {MOELAB_LAW_NORMAL, &m, &sd};
  CHECK_STATUS(moelab_l2_distance(a, NULL, &nmu, NULL, &dist, NULL, NULL), MOELAB_OK);
  want = sqrt(al * al * (sd * sd + m * m) + 2 * al * be * m + be * be);
  CHECK_NEAR(dist, want, 1e-12 * want);
  moelab_model_free(a);
}

/* ReLU: f = max(x - 0.2, 0) on U[-1, 1]: E f² = ∫_{0.2}^{1} (x-0.2)²/2 dx = 0.8³/6. */
static void test_relu_kink(void) {
  double eta[2] = {1.0, -0.2};
  moelab_model *a = flat(MOELAB_EXPERT_RELU, 1, 50.0, eta); /* σ(50) = 1 - 2e-22 */
  double lo = -1, hi = 1, dist, aerr;
  moelab_input mu = {MOELAB_LAW_UNIFORM, &lo, &hi};
  CHECK_STATUS(moelab_l2_distance(a, NULL, &mu, NULL, &dist, &aerr, NULL), MOELAB_OK);
  double want = sqrt(0.8 * 0.8 * 0.8 / 6);
  CHECK_NEAR(dist, want, 1e-12);
  CHECK(aerr < 1e-12);
  /* normal law, kink at 0.2: E max(X-0.2,0)² for X ~ N(0,1) = (1+c²)(1-Φ(c)) - c φ(c), c = 0.2 */
  double m = 0, sd = 1;
  moelab_input nmu = {MOELAB_LAW_NORMAL, &m, &sd};
  CHECK_STATUS(moelab_l2_distance(a, NULL, &nmu, NULL, &dist, NULL, NULL), MOELAB_OK);
  double c = 0.2, Phic = 0.5 * erfc(-c / sqrt(2.0)), phic = exp(-c * c / 2) / sqrt(2 * 3.14159265358979323846);
  want = sqrt((1 + c * c) * (1 - Phic) - c * phic);
  CHECK_NEAR(dist, want, 1e-12);
  moelab_model_free(a);
}

/* d = 3, uniform box: f = s(aᵀx + b); E f² in closed form; Sobol accuracy
 * for a smooth quadratic integrand at 65536 points is far below 1e-6. */
static void test_qmc(void) {
  double eta[4] = {1.0, -2.0, 0.5, 0.3};
  moelab_model *a = flat(MOELAB_EXPERT_LINEAR, 3, 0.0, eta);
  double lo[3] = {-1, -1, 0}, hi[3] = {1, 1, 1}, dist, aerr;
  moelab_input mu = {MOELAB_LAW_UNIFORM, lo, hi};
  CHECK_STATUS(moelab_l2_distance(a, NULL, &mu, NULL, &dist, &aerr, NULL), MOELAB_OK);
  /* E x1 = E x2 = 0, E x1² = E x2² = 1/3, E x3 = 1/2, E x3² = 1/3 */
  double s = 0.5;
  double ef2 = 1.0 / 3 + 4.0 / 3 + 0.25 / 3 + 0.09 + 2 * 0.5 * 0.3 * 0.5;
  double want = s * sqrt(ef2);
  CHECK_NEAR(dist, want, 1e-5 * want);
  CHECK(aerr < 1e-3);
  moelab_model_free(a);
}

static void test_errors(void) {
  double c = 1;
  moelab_model *a = flat(MOELAB_EXPERT_CONSTANT, 1, 0, &c), *b = flat(MOELAB_EXPERT_CONSTANT, 2, 0, &c);
  double dist;
  moelab_error err;
  CHECK_STATUS(moelab_l2_distance(a, b, NULL, NULL, &dist, NULL, &err), MOELAB_EINVAL);
  CHECK_STATUS(moelab_l2_distance(a, NULL, NULL, NULL, &dist, NULL, &err), MOELAB_EINVAL);
  CHECK(strcmp(err.field, "input") == 0);
  moelab_model_free(a);
  moelab_model_free(b);
}

CHECK_MAIN(T(test_constants), T(test_linear), T(test_relu_kink), T(test_qmc), T(test_errors))
