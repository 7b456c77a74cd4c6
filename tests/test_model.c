/*
 * test_model.c — the model layer: analytic Jacobians against central finite
 * differences for every (gate, expert) pair, gate invariances, numerical
 * stability, parameter ordering.
 */
#include "check.h"
#include "internal.h"
#include "moelab.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>

static gsl_rng *rng_for(uint64_t seed) {
  void *r = NULL;
  moelab_rng_new(seed, 99, &r, NULL);
  return r;
}

static double unif(gsl_rng *r, double lo, double hi) { return lo + (hi - lo) * gsl_rng_uniform(r); }

static moelab_model *random_model(moelab_gate g, moelab_expert e, int degree, size_t d, size_t k, gsl_rng *r) {
  moelab_model *m = NULL;
  if (moelab_model_new(g, e, degree, d, k, &m, NULL)) return NULL;
  for (size_t j = 0; j < m->p; j++) m->theta[j] = unif(r, -1.5, 1.5);
  return m;
}

/* min over atoms of |aᵀx + b| (the distance to a ReLU kink). */
static double kink_distance(const moelab_model *m, const double *x) {
  double best = INFINITY;
  for (size_t i = 0; i < m->k; i++) {
    const double *eta = m->theta + i * m->stride + 1 + m->d;
    double u = eta[m->d];
    for (size_t j = 0; j < m->d; j++) u += eta[j] * x[j];
    if (fabs(u) < best) best = fabs(u);
  }
  return best;
}

static double max_rel_jacobian_error(moelab_model *m, const double *x) {
  size_t p = m->p;
  double *J = malloc(p * sizeof(double));
  double f0;
  moelab_model_jacobian(m, x, 1, &f0, J, NULL);
  double rowmax = 0, worst = 0;
  for (size_t j = 0; j < p; j++) rowmax = fmax(rowmax, fabs(J[j]));
  for (size_t j = 0; j < p; j++) {
    double t = m->theta[j], h = 1e-5 * fmax(1.0, fabs(t));
    double fp, fm;
    m->theta[j] = t + h;
    moelab_model_predict(m, x, 1, &fp, 1, NULL);
    m->theta[j] = t - h;
    moelab_model_predict(m, x, 1, &fm, 1, NULL);
    m->theta[j] = t;
    double fd = (fp - fm) / (2 * h);
    double rel = fabs(fd - J[j]) / fmax(rowmax, 1e-12);
    if (rel > worst) worst = rel;
  }
  free(J);
  return worst;
}

static void test_jacobian_all_pairs(void) {
  gsl_rng *r = rng_for(1);
  const moelab_expert experts[] = {MOELAB_EXPERT_RELU,     MOELAB_EXPERT_GELU,    MOELAB_EXPERT_LINEAR,
                                   MOELAB_EXPERT_POLY,     MOELAB_EXPERT_CONSTANT, MOELAB_EXPERT_SIGMOID,
                                   MOELAB_EXPERT_TANH};
  const size_t dims[] = {1, 3};
  for (int g = 0; g < 2; g++)
    for (size_t e = 0; e < sizeof experts / sizeof experts[0]; e++)
      for (int degree = 1; degree <= (experts[e] == MOELAB_EXPERT_POLY ? 3 : 1); degree++)
        for (size_t di = 0; di < 2; di++) {
          size_t d = dims[di];
          moelab_model *m = random_model((moelab_gate)g, experts[e], degree, d, 3, r);
          CHECK(m != NULL);
          if (!m) continue;
          int tested = 0;
          double worst = 0;
          for (int trial = 0; trial < 50 && tested < 20; trial++) {
            double x[3];
            for (size_t j = 0; j < d; j++) x[j] = unif(r, -1.5, 1.5);
            if (experts[e] == MOELAB_EXPERT_RELU && kink_distance(m, x) < 1e-3) continue;
            worst = fmax(worst, max_rel_jacobian_error(m, x));
            tested++;
          }
          CHECK(tested >= 10);
          CHECK_MSG(worst <= 1e-6, "gate %s expert %s degree %d d %zu: relative error %.3g",
                    moelab_gate_name(m->gate), moelab_expert_name(m->expert), degree, d, worst);
          moelab_model_free(m);
        }
  gsl_rng_free(r);
}

/* The Jacobian of a whole batch equals the row-by-row one, and f matches predict. */
static void test_jacobian_batch_consistency(void) {
  gsl_rng *r = rng_for(2);
  moelab_model *m = random_model(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_GELU, 1, 2, 4, r);
  enum { N = 37 };
  double X[N * 2], f[N], fp[N];
  for (size_t i = 0; i < N * 2; i++) X[i] = unif(r, -2, 2);
  double *J = malloc(N * m->p * sizeof(double)), *J1 = malloc(m->p * sizeof(double));
  CHECK_STATUS(moelab_model_jacobian(m, X, N, f, J, NULL), MOELAB_OK);
  CHECK_STATUS(moelab_model_predict(m, X, N, fp, 2, NULL), MOELAB_OK);
  for (size_t i = 0; i < N; i++) {
    CHECK_SAME(f[i], fp[i]);
    moelab_model_jacobian(m, X + 2 * i, 1, NULL, J1, NULL);
    CHECK(memcmp(J1, J + i * m->p, m->p * sizeof(double)) == 0);
  }
  free(J);
  free(J1);
  moelab_model_free(m);
  gsl_rng_free(r);
}

/*
 * The kernel's two layouts agree bit for bit, and a row's results do not
 * depend on its position: for every (gate, expert) pair and d = 1, 3, the
 * column-major f, J and second-order coefficients of 37 rows (not a multiple
 * of the 8-row tile) equal the row-major ones, and each row evaluated alone
 * gives the same bits as in the batch; G and H match the components.
 */
static void test_kernel_layouts(void) {
  gsl_rng *r = rng_for(4);
  enum { N = 37 };
  for (int g = 0; g < 2; g++)
    for (int e = 0; e <= (int)MOELAB_EXPERT_TANH; e++)
      for (size_t d = 1; d <= 3; d += 2) {
        moelab_model *m = random_model((moelab_gate)g, (moelab_expert)e, 3, d, 3, r);
        ml_shape s = ml_shape_of(m);
        size_t p = s.p, T = ml_hess_ntypes(&s), k = s.k;
        double X[N * 3], f[N], f1;
        for (size_t i = 0; i < N * d; i++) X[i] = unif(r, -2, 2);
        double *J = malloc(N * p * sizeof(double)), *Jc = malloc(N * p * sizeof(double));
        double *C = malloc(N * T * sizeof(double)), *Cc = malloc(N * T * sizeof(double));
        double *J1 = malloc(p * sizeof(double)), *C1 = malloc(T * sizeof(double));
        double *G = malloc(N * k * sizeof(double)), *H = malloc(N * k * sizeof(double));
        double *Gc = malloc(N * k * sizeof(double)), *Hc = malloc(N * k * sizeof(double)), fc[N];
        double *work = malloc(ml_eval_work(&s) * sizeof(double));
        ml_eval_out rm = {f, J, 1, p, C, 1, T, NULL, NULL, 0, 0, NULL, NULL, NULL}; /* row-major */
        ml_eval(&s, m->theta, X, N, &rm, work);
        ml_eval_out o = {fc, Jc, N, 1, Cc, N, 1, Gc, Hc, N, 1, NULL, NULL, NULL};
        ml_eval(&s, m->theta, X, N, &o, work);
        CHECK(moelab_model_components(m, X, N, G, H, NULL) == MOELAB_OK);
        int same = 1, alone = 1;
        for (size_t i = 0; i < N; i++) {
          same &= f[i] == fc[i];
          for (size_t j = 0; j < p; j++) same &= J[i * p + j] == Jc[j * N + i];
          for (size_t t = 0; t < T; t++) same &= C[i * T + t] == Cc[t * N + i];
          for (size_t a = 0; a < k; a++) same &= G[i * k + a] == Gc[a * N + i] && H[i * k + a] == Hc[a * N + i];
          ml_eval_out r1 = {&f1, J1, 1, p, C1, 1, T, NULL, NULL, 0, 0, NULL, NULL, NULL};
          ml_eval(&s, m->theta, X + i * d, 1, &r1, work);
          alone &= f1 == f[i] && memcmp(J1, J + i * p, p * sizeof(double)) == 0 &&
                   memcmp(C1, C + i * T, T * sizeof(double)) == 0;
        }
        CHECK_MSG(same, "%s/%s d=%zu: the layouts differ", moelab_gate_name(m->gate), moelab_expert_name(m->expert), d);
        CHECK_MSG(alone, "%s/%s d=%zu: a row alone differs from the batch", moelab_gate_name(m->gate),
                  moelab_expert_name(m->expert), d);
        free(J), free(Jc), free(C), free(Cc), free(J1), free(C1), free(G), free(H), free(Gc), free(Hc), free(work);
        moelab_model_free(m);
      }
  gsl_rng_free(r);
}

/*
 * The acceleration term formed inside the kernel (J and C never leave it)
 * equals Σ_r J_r ω_r vᵀ∇²f(x_r)v computed from the kernel's J and
 * second-order coefficients: for every (gate, expert) pair, d = 1 and 3, 37
 * rows (a partial tile), with and without row weights; 1e-12 relative to
 * Σ_r |J_r ω_r r_vv|.
 */
static void test_kernel_accel(void) {
  gsl_rng *r = rng_for(8);
  enum { N = 37 };
  for (int g = 0; g < 2; g++)
    for (int e = 0; e <= (int)MOELAB_EXPERT_TANH; e++)
      for (size_t d = 1; d <= 3; d += 2)
        for (int weighted = 0; weighted < 2; weighted++) {
          moelab_model *m = random_model((moelab_gate)g, (moelab_expert)e, 3, d, 3, r);
          ml_shape s = ml_shape_of(m);
          size_t p = s.p, T = ml_hess_ntypes(&s), k = s.k, st = s.stride;
          double X[N * 3], w[N], v[64], rvv[N], f[N];
          for (size_t i = 0; i < N * d; i++) X[i] = unif(r, -2, 2);
          for (size_t i = 0; i < N; i++) w[i] = weighted ? unif(r, 0.2, 3) : 1.0;
          for (size_t j = 0; j < p; j++) v[j] = unif(r, -0.3, 0.3);
          double *J = malloc(p * N * sizeof(double)), *C = malloc(T * N * sizeof(double));
          double *va = calloc(p * ML_LANES, sizeof(double)), *work = malloc(ml_eval_work(&s) * sizeof(double));
          ml_eval_out o = {f, J, N, 1, C, N, 1, NULL, NULL, 0, 0, NULL, NULL, NULL};
          ml_eval(&s, m->theta, X, N, &o, work);
          for (size_t i = 0; i < N; i++) { /* the quadratic form, from the coefficients */
            const double *x = X + i * d;
            double dz[3], du[3], q = 0;
            for (size_t a = 0; a < k; a++) {
              const double *va_ = v + a * st;
              dz[a] = va_[0];
              for (size_t j = 0; j < d; j++) dz[a] += va_[1 + j] * x[j];
              if (e == MOELAB_EXPERT_CONSTANT) {
                du[a] = va_[1 + d];
              } else {
                du[a] = va_[1 + 2 * d];
                for (size_t j = 0; j < d; j++) du[a] += va_[1 + d + j] * x[j];
              }
            }
            for (size_t a = 0; a < k; a++) {
              for (size_t b = 0; b < k; b++) {
                if (g == 0 && a != b) continue;
                q += C[ml_hess_zz(&s, a, b) * N + i] * dz[a] * dz[b] + 2 * C[ml_hess_zu(&s, a, b) * N + i] * dz[a] * du[b];
              }
              q += C[ml_hess_uu(&s, a) * N + i] * du[a] * du[a];
            }
            rvv[i] = w[i] * q;
          }
          ml_eval_out oa = {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, v, va, weighted ? w : NULL};
          ml_eval(&s, m->theta, X, N, &oa, work);
          double worst = 0;
          for (size_t j = 0; j < p; j++) {
            double ref = 0, mag = 0, got = 0;
            for (size_t i = 0; i < N; i++) {
              ref += J[j * N + i] * rvv[i];
              mag += fabs(J[j * N + i] * rvv[i]);
            }
            for (size_t l = 0; l < ML_LANES; l++) got += va[j * ML_LANES + l];
            worst = fmax(worst, fabs(got - ref) / (mag + 1e-300));
          }
          CHECK_MSG(worst <= 1e-12, "%s/%s d=%zu weighted=%d: the kernel's acceleration term is %.3g off",
                    moelab_gate_name(m->gate), moelab_expert_name(m->expert), d, weighted, worst);
          free(J), free(C), free(va), free(work);
          moelab_model_free(m);
        }
  gsl_rng_free(r);
}

/* The Gram kernel against the plain sums, for tile shapes of every kind (q = 1..21, 31, 64, 127) and
 * block lengths that are and are not multiples of its 8 lanes; only the upper triangle is written. */
static void test_gram_kernel(void) {
  gsl_rng *r = rng_for(6);
  const size_t qs[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 21, 31, 64, 127}, ms[] = {1, 7, 8, 37, 256};
  for (size_t iq = 0; iq < sizeof qs / sizeof qs[0]; iq++)
    for (size_t im = 0; im < sizeof ms / sizeof ms[0]; im++) {
      size_t q = qs[iq], m = ms[im];
      double *A = malloc(q * m * sizeof(double)), *G = malloc(q * q * sizeof(double));
      for (size_t i = 0; i < q * m; i++) A[i] = unif(r, -1, 1);
      for (size_t i = 0; i < q * q; i++) G[i] = -7.0; /* added to, below the diagonal untouched */
      ml_gram(q, m, A, G);
      double worst = 0;
      int lower_kept = 1;
      for (size_t a = 0; a < q; a++)
        for (size_t b = 0; b < q; b++) {
          if (b < a) {
            lower_kept &= G[a * q + b] == -7.0;
            continue;
          }
          double s = 0, sa = 0;
          for (size_t k = 0; k < m; k++) {
            s += A[a * m + k] * A[b * m + k];
            sa += fabs(A[a * m + k] * A[b * m + k]);
          }
          worst = fmax(worst, fabs(G[a * q + b] + 7.0 - s) / (sa + 7.0));
        }
      CHECK_MSG(worst <= 1e-14, "q = %zu, m = %zu: relative error %.3g", q, m, worst);
      CHECK_MSG(lower_kept, "q = %zu, m = %zu: the lower triangle was written", q, m);
      free(A);
      free(G);
    }
  gsl_rng_free(r);
}

/* Parameter ordering, by hand: sigmoid gate, linear experts, d = 2, k = 2. */
static void test_parameter_ordering(void) {
  moelab_model *m = NULL;
  CHECK_STATUS(moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_LINEAR, 1, 2, 2, &m, NULL), MOELAB_OK);
  CHECK(m->stride == 6 && m->p == 12 && m->q == 3);
  /* atom 1: beta0 = 0.3, beta1 = (0.5, -1), eta = (a = (2, 1), b = -0.5) */
  double t1[6] = {0.3, 0.5, -1.0, 2.0, 1.0, -0.5};
  memcpy(m->theta + 6, t1, sizeof t1);
  double x[2] = {0.7, -0.2}, J[12], f;
  moelab_model_jacobian(m, x, 1, &f, J, NULL);
  double s = 0.3 + 0.5 * 0.7 - 1.0 * -0.2, g = 1 / (1 + exp(-s)), u = 2.0 * 0.7 + 1.0 * -0.2 - 0.5;
  /* atom 0 has all-zero parameters: g = 1/2, h = 0 */
  CHECK_NEAR(f, g * u, 1e-15);
  CHECK_NEAR(J[6], g * (1 - g) * u, 1e-15);           /* ∂/∂β0_1 */
  CHECK_NEAR(J[7], g * (1 - g) * u * 0.7, 1e-15);     /* ∂/∂β1_1[0] */
  CHECK_NEAR(J[8], g * (1 - g) * u * -0.2, 1e-15);    /* ∂/∂β1_1[1] */
  CHECK_NEAR(J[9], g * 0.7, 1e-15);                   /* ∂/∂a_1[0] */
  CHECK_NEAR(J[10], g * -0.2, 1e-15);                 /* ∂/∂a_1[1] */
  CHECK_NEAR(J[11], g, 1e-15);                        /* ∂/∂b_1 */
  CHECK_NEAR(J[0], 0.0, 0);                           /* h_0 = 0 */
  CHECK_NEAR(J[3], 0.5 * 0.7, 1e-15);                 /* ∂/∂a_0[0] = g_0 x */
  CHECK_NEAR(J[5], 0.5, 1e-15);
  moelab_model_free(m);
}

/* Softmax: adding the same (t0, t1) to every atom's (β0, β1) changes nothing. */
static void test_softmax_translation(void) {
  gsl_rng *r = rng_for(3);
  const size_t d = 2, n = 50;
  moelab_model *m = random_model(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_TANH, 1, d, 3, r);
  double X[100], f0[50], f1[50], G0[150], G1[150];
  for (size_t i = 0; i < n * d; i++) X[i] = unif(r, -1, 1);
  moelab_model_predict(m, X, n, f0, 1, NULL);
  moelab_model_components(m, X, n, G0, NULL, NULL);
  double t0 = 3.7, t1[2] = {-2.5, 1.25};
  for (size_t i = 0; i < m->k; i++) {
    double *t = m->theta + i * m->stride;
    t[0] += t0;
    t[1] += t1[0];
    t[2] += t1[1];
  }
  moelab_model_predict(m, X, n, f1, 1, NULL);
  moelab_model_components(m, X, n, G1, NULL, NULL);
  for (size_t i = 0; i < n; i++) CHECK_NEAR(f0[i], f1[i], 1e-13 * fmax(1, fabs(f0[i])));
  for (size_t i = 0; i < n * m->k; i++) CHECK_NEAR(G0[i], G1[i], 1e-13);
  /* the gates sum to one */
  for (size_t i = 0; i < n; i++) CHECK_NEAR(G1[3 * i] + G1[3 * i + 1] + G1[3 * i + 2], 1.0, 1e-15);
  moelab_model_free(m);
  gsl_rng_free(r);
}

/* Softmax with k = 2 is a sigmoid gate on the difference of the scores. */
static void test_softmax_two_is_sigmoid(void) {
  gsl_rng *r = rng_for(4);
  const size_t d = 2, n = 40;
  moelab_model *sm = random_model(MOELAB_GATE_SOFTMAX, MOELAB_EXPERT_GELU, 1, d, 2, r);
  moelab_model *sg = NULL;
  moelab_model_copy(sm, &sg, NULL);
  sg->gate = MOELAB_GATE_SIGMOID;
  /* sigmoid atoms: gate scores ±(s_0 - s_1) */
  double *a = sm->theta, *b = sm->theta + sm->stride;
  double *ga = sg->theta, *gb = sg->theta + sg->stride;
  for (size_t j = 0; j <= d; j++) {
    ga[j] = a[j] - b[j];
    gb[j] = b[j] - a[j];
  }
  double X[80], f0[40], f1[40], G0[80], G1[80];
  for (size_t i = 0; i < n * d; i++) X[i] = unif(r, -2, 2);
  moelab_model_predict(sm, X, n, f0, 1, NULL);
  moelab_model_predict(sg, X, n, f1, 1, NULL);
  moelab_model_components(sm, X, n, G0, NULL, NULL);
  moelab_model_components(sg, X, n, G1, NULL, NULL);
  for (size_t i = 0; i < n; i++) CHECK_NEAR(f0[i], f1[i], 1e-14 * fmax(1, fabs(f0[i])));
  for (size_t i = 0; i < 2 * n; i++) CHECK_NEAR(G0[i], G1[i], 1e-15);
  moelab_model_free(sm);
  moelab_model_free(sg);
  gsl_rng_free(r);
}

/* Scores up to ±1e4 (and beyond): no overflow, no NaN, exact limits. */
static void test_gate_stability(void) {
  const double scores[] = {-1e4, -745.5, -40, 0, 40, 745.5, 1e4, 1e300, -1e300};
  for (int g = 0; g < 2; g++) {
    moelab_model *m = NULL;
    moelab_model_new((moelab_gate)g, MOELAB_EXPERT_LINEAR, 1, 1, 2, &m, NULL);
    for (size_t s = 0; s < sizeof scores / sizeof scores[0]; s++) {
      m->theta[0] = scores[s]; /* atom 0: β0 = score, expert 1·x + 2 */
      m->theta[2] = 1;
      m->theta[3] = 2;
      m->theta[4] = -scores[s]; /* atom 1: β0 = -score, expert -x + 1 */
      m->theta[6] = -1;
      m->theta[7] = 1;
      double x = 0.5, f, J[8], G[2];
      moelab_model_jacobian(m, &x, 1, &f, J, NULL);
      moelab_model_components(m, &x, 1, G, NULL, NULL);
      CHECK(isfinite(f));
      for (int j = 0; j < 8; j++) CHECK(isfinite(J[j]));
      CHECK(G[0] >= 0 && G[0] <= 1 && G[1] >= 0 && G[1] <= 1);
      if (scores[s] >= 40) CHECK_NEAR(G[0], 1.0, 1e-15);
      if (scores[s] <= -745.5) CHECK(G[0] < 1e-300);
      if (g == 1) CHECK_NEAR(G[0] + G[1], 1.0, 1e-15);
    }
    moelab_model_free(m);
  }
  /* the sigmoid derivative keeps relative precision far in the tail */
  moelab_model *m = NULL;
  moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_CONSTANT, 1, 1, 1, &m, NULL);
  m->theta[0] = 40;
  m->theta[2] = 1;
  double x = 0, J[3];
  moelab_model_jacobian(m, &x, 1, NULL, J, NULL);
  double want = exp(-40) / ((1 + exp(-40)) * (1 + exp(-40)));
  CHECK_NEAR(J[0] / want, 1.0, 1e-14);
  moelab_model_free(m);
}

/* GELU uses the exact erf form: GELU(1) = Φ(1) = 0.841344746068543 */
static void test_expert_values(void) {
  moelab_model *m = NULL;
  const double x = 1.0;
  double H[1];
  struct {
    moelab_expert e;
    int degree;
    double want;
  } cases[] = {{MOELAB_EXPERT_RELU, 1, 1.0},
               {MOELAB_EXPERT_GELU, 1, 0.84134474606854293},
               {MOELAB_EXPERT_LINEAR, 1, 1.0},
               {MOELAB_EXPERT_POLY, 3, 1.0},
               {MOELAB_EXPERT_SIGMOID, 1, 0.7310585786300049},
               {MOELAB_EXPERT_TANH, 1, 0.76159415595576485}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    moelab_model_new(MOELAB_GATE_SIGMOID, cases[c].e, cases[c].degree, 1, 1, &m, NULL);
    m->theta[2] = 1; /* a = 1, b = 0 */
    moelab_model_components(m, &x, 1, NULL, H, NULL);
    CHECK_NEAR(H[0], cases[c].want, 2e-16);
    m->theta[2] = 2;
    m->theta[3] = -0.5; /* u = 1.5 */
    moelab_model_components(m, &x, 1, NULL, H, NULL);
    double u = 1.5;
    double want = cases[c].e == MOELAB_EXPERT_POLY ? u * u * u
                  : cases[c].e == MOELAB_EXPERT_GELU  ? 0.5 * u * erfc(-u / sqrt(2.0))
                  : cases[c].e == MOELAB_EXPERT_SIGMOID ? 1 / (1 + exp(-u))
                  : cases[c].e == MOELAB_EXPERT_TANH    ? tanh(u)
                                                        : u;
    CHECK_NEAR(H[0], want, 4e-16 * fmax(1, fabs(want)));
    moelab_model_free(m);
  }
  /* the ReLU derivative at the kink is the left one: 0 */
  moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1, 1, 1, &m, NULL);
  m->theta[2] = 1;
  m->theta[3] = -1; /* u = x - 1 = 0 at x = 1 */
  double J[4];
  moelab_model_jacobian(m, &x, 1, NULL, J, NULL);
  CHECK(J[2] == 0.0 && J[3] == 0.0);
  moelab_model_free(m);
}

static void test_model_new_errors(void) {
  moelab_model *m = NULL;
  moelab_error err;
  CHECK_STATUS(moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1, 0, 2, &m, &err), MOELAB_EINVAL);
  CHECK(strcmp(err.field, "d") == 0);
  CHECK_STATUS(moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1, 1, 0, &m, &err), MOELAB_EINVAL);
  CHECK(strcmp(err.field, "k") == 0);
  CHECK_STATUS(moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_POLY, 0, 1, 1, &m, &err), MOELAB_EINVAL);
  CHECK_STATUS(moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1, MOELAB_MAX_D + 1, 1, &m, &err),
               MOELAB_ELIMIT);
  CHECK_STATUS(moelab_model_new((moelab_gate)7, MOELAB_EXPERT_RELU, 1, 1, 1, &m, &err), MOELAB_EINVAL);
  CHECK(m == NULL);
  moelab_model_free(NULL);
  moelab_data_free(NULL);
  moelab_rng_free(NULL);
  moelab_outfile_free(NULL);
  /* not finite parameters are reported with their field */
  moelab_model_new(MOELAB_GATE_SIGMOID, MOELAB_EXPERT_RELU, 1, 2, 2, &m, NULL);
  m->theta[m->stride + 4] = NAN; /* atom 1, eta[1] */
  CHECK_STATUS(moelab_model_validate(m, &err), MOELAB_ENUMERIC);
  CHECK(strcmp(err.field, "atoms[1].eta[1]") == 0);
  moelab_model_free(m);
  CHECK(strcmp(moelab_status_str(MOELAB_ENOMEM), "out of memory") == 0);
  CHECK(moelab_api_version() == MOELAB_API_VERSION);
  CHECK(strcmp(moelab_version(), MOELAB_VERSION_STRING) == 0);
}

CHECK_MAIN(T(test_jacobian_all_pairs), T(test_jacobian_batch_consistency), T(test_kernel_layouts), T(test_kernel_accel), T(test_gram_kernel),
           T(test_parameter_ordering),
           T(test_softmax_translation), T(test_softmax_two_is_sigmoid), T(test_gate_stability),
           T(test_expert_values), T(test_model_new_errors))
