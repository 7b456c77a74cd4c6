/*
 * fit.c — the least squares estimator: projected Levenberg–Marquardt on the
 * normal equations, with restarts.
 *
 * Objective: SSE(θ) = Σ_i w_i (y_i - f_θ(x_i))², θ in the box Θ.
 *
 * Engine.  Each pass evaluates blocks of FIT_BLOCK rows into column-major
 * blocks [J | e] ((p+1) × FIT_BLOCK) and accumulates their Gram matrices,
 * which hold JᵀJ and Jᵀe together (gram_update), so the n×p Jacobian is never
 * stored (memory O(p² + block·p)).  The step solves (H_FF + μ D_FF) δ_F = -g_F by Cholesky
 * (LAPACKE) on the free parameters F — those not held at a bound by a
 * gradient that points out of Θ — and is projected onto Θ.  μ follows
 * Nielsen's update; D is Moré's running maximum of diag(JᵀJ).  A trial point
 * is evaluated with its Jacobian (f, J, JᵀJ and Jᵀe in one pass), so an
 * accepted step needs no second pass.  An f-only pass first, with J formed
 * only at accepted points (GSL's order), gives the same iterates but was
 * measured slower where most steps are accepted or f costs as much as J
 * (bench/ab.py, one core: sigmoid/GELU d = 1 n = 1e4 0.70× the speed,
 * sigmoid/ReLU d = 1 n = 1e5 0.96×, sigmoid/ReLU d = 4 n = 1e4 1.14×).
 * Measured again with the vectorised kernel (bench_fit, seconds per
 * iteration, trial points f-only against with J): ReLU d = 1 n = 1e4 1.0e-3
 * against 8.6e-4, GELU n = 1e4 8.5e-4 against 6.3e-4, ReLU d = 4 n = 1e4
 * 1.44e-3 against 1.45e-3 — not kept either.  Nor was an acceleration term
 * from moments formed in the Jacobian pass (p × T (d+1)(d+2)/2 of them,
 * equal to 1e-12 to the pass it replaces): for d = 1 it saves the
 * acceleration pass but its dgemm costs about as much (s per iteration, the
 * generic kernel: ReLU n = 1e5 1.03e-2 against 1.00e-2, GELU n = 1e5 8.6e-3
 * against 9.6e-3, and at n = 1e4, where the blocks are kept, slower: ReLU
 * 1.08e-3 against 8.6e-4, GELU 8.4e-4 against 6.3e-4).
 *
 * Why not GSL's gsl_multilarge_nlinear (which also works on the normal
 * equations)?  It has no bounds: Θ would need a smooth reparameterisation,
 * under which a parameter can approach a bound only asymptotically (the
 * switched-off atoms of Regime 2 sit exactly there, docs/theory.md §8) and
 * the gradient test is taken in the wrong coordinates.  bench/bench_engine
 * runs both engines side by side on the same problems (time, iterations,
 * final objective): GSL's lm is slower on the ReLU problems (1.16–1.27× moelab's
 * time) but faster on an over-specified tanh fit (0.57×), where GSL's lmaccel
 * leaves Θ as that fit's atom switches off at a bound (README, "Performance").
 *
 * Softmax gauge.  f is invariant to a common shift of every atom's (β0, β1).
 * The free parameters φ hold atoms 1..k-1 in full and atom k's η; atom k's
 * gate parameters are minus the sum of the others' (sum-to-zero), a linear
 * map θ = Tφ, so J_φ = J_θ T.  No atom is forced to zero, so an
 * over-specified fit can still split an atom.
 *
 * Determinism.  The rows are cut into at most FIT_MAX_CHUNKS chunks that
 * depend on n only; partial sums are added in chunk order, and restart r
 * draws from the random stream (seed, stream_base + r).  Results are
 * bitwise identical for any thread count.
 */
#include "fit_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const stop_names[] = {"stationary", "zero-residual", "ftol", "xtol",
                                         "max-iter", "stalled", "numeric", "interrupted", "noise-level",
                                         "kink"};

const char *moelab_stop_name(moelab_stop stop) {
  unsigned s = (unsigned)stop;
  return s < sizeof stop_names / sizeof stop_names[0] ? stop_names[s] : "?";
}

void moelab_fit_options_init(moelab_fit_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->gate = MOELAB_GATE_SIGMOID;
  opt->expert = MOELAB_EXPERT_RELU;
  opt->degree = 1;
  opt->k = 2;
  opt->init = MOELAB_INIT_RANDOM;
  opt->perturb = 0.1;
  opt->split_fraction = 0.5;
  opt->restarts = 1;
  opt->threads = 0;
  opt->max_iter = 1000;
  opt->gtol = 1e-8;
  opt->dtol = 1e-12;
  opt->ftol = 1e-15;
  opt->xtol = 1e-15;
  opt->kink_tol = 1e-10;
  opt->box.beta0_lo = opt->box.beta1_lo = opt->box.eta_lo = -10.0;
  opt->box.beta0_hi = opt->box.beta1_hi = opt->box.eta_hi = 10.0;
  opt->compute_se = 1;
  opt->accel = 1;
  opt->se_rcond_min = 1e-12;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ the φ map */

void fit_phi_to_theta(const fit_problem *P, const double *phi, double *theta) {
  const size_t p = P->s.p;
  if (!P->gauge) {
    memcpy(theta, phi, p * sizeof(double));
    return;
  }
  const size_t k = P->s.k, stride = P->s.stride, g = 1 + P->d, q = P->s.q;
  memcpy(theta, phi, (k - 1) * stride * sizeof(double));
  double *last = theta + (k - 1) * stride;
  for (size_t c = 0; c < g; c++) {
    double s = 0.0;
    for (size_t i = 0; i + 1 < k; i++) s += phi[i * stride + c];
    last[c] = -s;
  }
  memcpy(last + g, phi + (k - 1) * stride, q * sizeof(double));
}

void fit_theta_to_phi(const fit_problem *P, const double *theta, double *phi) {
  const size_t p = P->s.p;
  if (!P->gauge) {
    memcpy(phi, theta, p * sizeof(double));
    return;
  }
  const size_t k = P->s.k, stride = P->s.stride, g = 1 + P->d, q = P->s.q;
  for (size_t i = 0; i + 1 < k; i++) memcpy(phi + i * stride, theta + i * stride, stride * sizeof(double));
  for (size_t c = 0; c < g; c++) {
    double mean = 0.0;
    for (size_t i = 0; i < k; i++) mean += theta[i * stride + c];
    mean /= (double)k;
    for (size_t i = 0; i + 1 < k; i++) phi[i * stride + c] -= mean;
  }
  memcpy(phi + (k - 1) * stride, theta + (k - 1) * stride + g, q * sizeof(double));
}

void fit_clamp(const fit_problem *P, double *phi) {
  for (size_t j = 0; j < P->np; j++) {
    if (phi[j] < P->lo[j]) phi[j] = P->lo[j];
    if (phi[j] > P->hi[j]) phi[j] = P->hi[j];
  }
}

/*
 * φ-space versions of θ-space quantities, θ = Tφ: g_φ = Tᵀg_θ and
 * A_φ = TᵀA_θT.  Column a of T has one entry +1 (its own θ index) and, for
 * a gate parameter of atom i < k-1 under the gauge, a second entry -1 (the
 * same component of atom k-1).
 */
static size_t phi_cols(const fit_problem *P, size_t a, size_t idx[2], double coef[2]) {
  if (!P->gauge) {
    idx[0] = a;
    coef[0] = 1.0;
    return 1;
  }
  const size_t k = P->s.k, stride = P->s.stride, g = 1 + P->d;
  size_t atom = a / stride, c = a % stride;
  if (atom + 1 == k) { /* atom k's η */
    idx[0] = (k - 1) * stride + g + c;
    coef[0] = 1.0;
    return 1;
  }
  idx[0] = a;
  coef[0] = 1.0;
  if (c < g) {
    idx[1] = (k - 1) * stride + c;
    coef[1] = -1.0;
    return 2;
  }
  return 1;
}

static void to_phi_vec(const fit_problem *P, const double *gt, double *gp) {
  for (size_t a = 0; a < P->np; a++) {
    size_t idx[2];
    double cf[2];
    size_t na = phi_cols(P, a, idx, cf);
    double v = 0.0;
    for (size_t u = 0; u < na; u++) v += cf[u] * gt[idx[u]];
    gp[a] = v;
  }
}

static void to_phi_mat(const fit_problem *P, const double *At, double *Ap) {
  const size_t p = P->s.p, np = P->np;
  for (size_t a = 0; a < np; a++) {
    size_t ia[2];
    double ca[2];
    size_t na = phi_cols(P, a, ia, ca);
    for (size_t b = a; b < np; b++) {
      size_t ib[2];
      double cb[2];
      size_t nb = phi_cols(P, b, ib, cb);
      double v = 0.0;
      for (size_t u = 0; u < na; u++)
        for (size_t t = 0; t < nb; t++) v += ca[u] * cb[t] * At[ia[u] * p + ib[t]];
      Ap[a * np + b] = v;
      Ap[b * np + a] = v;
    }
  }
}

/* --------------------------------------------------------- accumulation */

/* Distinct entries of ψψᵀ, ψ = (1, x) of length d + 1. */
static size_t n_moments(size_t d) { return (d + 1) * (d + 2) / 2; }

/* Doubles of one chunk's partial sums: SSE, the Gram matrix of the block
 * [J_θ | e] ((p+1)², upper triangle: JᵀJ, and Jᵀe in its last column) and the
 * largest single-row gradient term max_i |e_i| ‖J_i‖∞; with the residual
 * curvature, the moments Σ w (f - y) c_t ψψᵀ of every second-order type t. */
static size_t acc_stride(const fit_problem *P) {
  return 1 + (P->s.p + 1) * (P->s.p + 1) + 1 + P->T * n_moments(P->d);
}

/*
 * G += A Aᵀ (upper triangle) for A q × m, row-major with ld m: the columns of
 * the block are rows of the data.  For q < FIT_GRAM_MAX a register-tiled
 * kernel of our own (ml_gram, kernel.c), where OpenBLAS's call and packing
 * overheads dominate; OpenBLAS's dsyrk above, where its cache blocking pays.
 */
static void gram_update(size_t q, size_t m, const double *A, double *G) {
  if (q < FIT_GRAM_MAX)
    ml_gram(q, m, A, G);
  else
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (blasint)q, (blasint)m, 1.0, A, (blasint)m, 1.0, G,
                (blasint)q);
}

/* lanes[l] += Σ e[r]² over the r ≡ l (mod ML_LANES): a sum in a fixed order
 * that the compiler can vectorise. */
static void sumsq_lanes(const double *e, size_t m, double *lanes) {
  size_t r = 0;
  for (; r + ML_LANES <= m; r += ML_LANES)
    for (size_t l = 0; l < ML_LANES; l++) lanes[l] += e[r + l] * e[r + l];
  for (size_t l = 0; r + l < m; l++) lanes[l] += e[r + l] * e[r + l];
}

static double lanes_total(const double *lanes) {
  double s = 0.0;
  for (size_t l = 0; l < ML_LANES; l++) s += lanes[l];
  return s;
}

/* Doubles of a chunk's scratch in accumulate: the kernel's, f, e, √w, a
 * (p+1) × FIT_BLOCK block when the Jacobian is not cached, a T × FIT_BLOCK one
 * for the second-order coefficients when they are wanted and not cached, and
 * ψ = (1, x) of a block, (d+1) × FIT_BLOCK, for the curvature's moments. */
static size_t acc_scratch(const fit_problem *P, int own_block, int own_C, int want_S) {
  return 8 + ml_eval_work(&P->s) + 3 * FIT_BLOCK + (own_block ? (P->s.p + 1) * FIT_BLOCK : 0) +
         (own_C ? P->T * FIT_BLOCK : 0) + (want_S ? (P->d + 1) * FIT_BLOCK : 0);
}

/*
 * Adds the moments of one block to mom (T × n_moments(d)): for every type t
 * and a <= b, Σ_r ω_r ψ_a ψ_b with ω_r = √w_r e_r c_t(r) (= w_r (f_r - y_r)
 * c_t(r)), summed in lanes in a fixed order.  om: m doubles, psi: (d+1) m.
 */
static void add_moments(const fit_problem *P, const double *Xb, size_t m, const double *e, const double *sw,
                        const double *C, double *om, double *psi, double *mom) {
  const size_t d = P->d, T = P->T, nm = n_moments(d);
  for (size_t r = 0; r < m; r++) psi[r] = 1.0; /* ψ of the block, column-major */
  for (size_t j = 0; j < d; j++)
    for (size_t r = 0; r < m; r++) psi[(1 + j) * m + r] = Xb[r * d + j];
  for (size_t t = 0; t < T; t++) {
    const double *ct = C + t * m;
    if (sw)
      for (size_t r = 0; r < m; r++) om[r] = sw[r] * e[r] * ct[r];
    else
      for (size_t r = 0; r < m; r++) om[r] = e[r] * ct[r];
    double *mt = mom + t * nm;
    size_t idx = 0;
    for (size_t a = 0; a <= d; a++)
      for (size_t b = a; b <= d; b++, idx++) { /* ω ψ_a ψ_b: the factors 1 of ψ_0 change no bits */
        const double *pa = psi + a * m, *pb = psi + b * m;
        double lanes[ML_LANES] = {0};
        size_t r = 0;
        for (; r + ML_LANES <= m; r += ML_LANES)
          for (size_t l = 0; l < ML_LANES; l++) lanes[l] += om[r + l] * pa[r + l] * pb[r + l];
        for (size_t l = 0; r + l < m; l++) lanes[l] += om[r + l] * pa[r + l] * pb[r + l];
        mt[idx] += lanes_total(lanes);
      }
  }
}

/* θ index of component a of ψ in atom i's gate scores (a = 0: β0, a >= 1: β1_a). */
static size_t z_index(const fit_problem *P, size_t i, size_t a) { return i * P->s.stride + a; }

/* θ index of component a of ψ in atom i's expert score u (a = 0: b, or c for
 * constant experts; a >= 1: a_a), or SIZE_MAX when u does not depend on it. */
static size_t u_index(const fit_problem *P, size_t i, size_t a) {
  const size_t d = P->d, base = i * P->s.stride;
  if (P->s.expert == MOELAB_EXPERT_CONSTANT) return a == 0 ? base + 1 + d : SIZE_MAX;
  return a == 0 ? base + 1 + 2 * d : base + d + a;
}

/* Adds M (type t's moments) to S at the blocks (I(i), J(j)) and, when i or the
 * kinds differ, their transposes: S[I(i,a)][J(j,b)] += M(a,b). */
static void add_block(const fit_problem *P, double *S, const double *M, int zi, size_t i, int zj, size_t j,
                      int mirror) {
  const size_t d = P->d, p = P->s.p;
  for (size_t a = 0; a <= d; a++)
    for (size_t b = 0; b <= d; b++) {
      size_t lo = a < b ? a : b, hi = a < b ? b : a;
      double v = M[lo * (2 * d + 3 - lo) / 2 + (hi - lo)];
      size_t ia = zi ? z_index(P, i, a) : u_index(P, i, a), jb = zj ? z_index(P, j, b) : u_index(P, j, b);
      if (ia == SIZE_MAX || jb == SIZE_MAX) continue;
      S[ia * p + jb] += v;
      if (mirror) S[jb * p + ia] += v;
    }
}

/*
 * The residual curvature S = Σ_r w_r (f_r - y_r) ∇²f_r (p × p, θ-space) from
 * the moments: ∇²f_r = Σ_ij c_zz,ij ∇z_i∇z_jᵀ + Σ_ij c_zu,ij (∇z_i∇u_jᵀ +
 * ∇u_j∇z_iᵀ) + Σ_i c_uu,i ∇u_i∇u_iᵀ (the quadratic form of the
 * acceleration pass), with ∇z_i, ∇u_i the ψ vectors at atom i's parameters.
 */
static void assemble_curvature(const fit_problem *P, const double *mom, double *S) {
  const size_t k = P->s.k, p = P->s.p, nm = n_moments(P->d);
  memset(S, 0, p * p * sizeof(double));
  const ml_shape *sh = &P->s;
  for (size_t i = 0; i < k; i++)
    for (size_t j = 0; j < k; j++) {
      if (sh->gate == MOELAB_GATE_SIGMOID && i != j) continue;
      add_block(P, S, mom + ml_hess_zz(sh, i, j) * nm, 1, i, 1, j, 0);
      add_block(P, S, mom + ml_hess_zu(sh, i, j) * nm, 1, i, 0, j, 1);
    }
  for (size_t i = 0; i < k; i++) add_block(P, S, mom + ml_hess_uu(sh, i) * nm, 0, i, 0, i, 0);
}

/*
 * SSE at θ and, when H and g are given, H = J_φᵀJ_φ (np×np, full),
 * g = J_φᵀe with e = √w (f - y) (the gradient of SSE/2) and *rowmax =
 * max_i |e_i| ‖J_i‖∞ (the largest gradient term of one row).  acc holds the
 * chunks' partial sums, tmp p² + p doubles.  With cacheJ and cacheC (n (p+1)
 * and n T doubles) the blocks [√w J | e] (column-major: (p+1) × m from row
 * r0 (p+1)) and the second-order coefficients (T × m from row r0 T) stay there
 * for the acceleration pass.  Returns MOELAB_OK or MOELAB_ENOMEM.
 */
static int accumulate(const fit_problem *P, const double *theta, double *sse_out, double *H, double *g,
                      double *S, double *rowmax, double *acc, double *tmp, double *cacheJ, double *cacheC) {
  const size_t p = P->s.p, q = p + 1, d = P->d, T = P->T, nm = n_moments(P->d);
  const int want_J = H != NULL, caching = want_J && cacheJ && cacheC, want_S = want_J && S;
  const int want_C = caching || want_S;
  const int relu = P->s.expert == MOELAB_EXPERT_RELU && rowmax != NULL;
  const size_t as = acc_stride(P);
  const long nc = (long)P->nchunks;
  int nomem = 0;
  int nt = P->threads > 1 && !omp_in_parallel() && nc > 1 ? P->threads : 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (long c = 0; c < nc; c++) {
    double *a = acc + (size_t)c * as;
    size_t r_begin = (size_t)c * P->chunk_rows;
    size_t r_end = r_begin + P->chunk_rows < P->n ? r_begin + P->chunk_rows : P->n;
    double *work = malloc(acc_scratch(P, want_J && !caching, want_S && !caching, want_S) * sizeof(double));
    if (!work) {
#pragma omp atomic write
      nomem = 1;
      continue;
    }
    double *f = ml_align64(work) + ml_eval_work(&P->s), *eb = f + FIT_BLOCK, *sw = eb + FIT_BLOCK, *own = sw + FIT_BLOCK;
    double *ownC = own + (want_J && !caching ? q * FIT_BLOCK : 0);
    double *psi = ownC + (want_S && !caching ? T * FIT_BLOCK : 0);
    if (want_J) memset(a, 0, as * sizeof(double));
    double lanes[ML_LANES] = {0}, rmax = 0.0;
    double *Gc = a + 1;
    for (size_t r0 = r_begin; r0 < r_end; r0 += FIT_BLOCK) {
      size_t m = r_end - r0 < FIT_BLOCK ? r_end - r0 : FIT_BLOCK;
      double *A = !want_J ? NULL : caching ? cacheJ + r0 * q : own;
      double *Cb = !want_C ? NULL : caching ? cacheC + r0 * T : ownC;
      ml_eval_out o = {f, A, m, 1, Cb, m, 1, NULL, NULL, 0, 0, NULL, NULL, NULL};
      ml_eval(&P->s, theta, P->X + r0 * d, m, &o, ml_align64(work));
      double *e = A ? A + p * m : eb;
      const double *y = P->y + r0;
      if (P->w) {
        for (size_t i = 0; i < m; i++) sw[i] = sqrt(P->w[r0 + i]);
        for (size_t i = 0; i < m; i++) e[i] = sw[i] * (f[i] - y[i]);
      } else {
        for (size_t i = 0; i < m; i++) e[i] = f[i] - y[i];
      }
      sumsq_lanes(e, m, lanes);
      if (!want_J) continue;
      if (P->w)
        for (size_t j = 0; j < p; j++)
          for (size_t i = 0; i < m; i++) A[j * m + i] *= sw[i];
      if (want_S) add_moments(P, P->X + r0 * d, m, e, P->w ? sw : NULL, Cb, eb, psi, a + 2 + q * q);
      if (relu) { /* the kink tolerance of the convergence test */
        double *jm = eb;
        for (size_t i = 0; i < m; i++) jm[i] = 0.0;
        for (size_t j = 0; j < p; j++)
          for (size_t i = 0; i < m; i++) {
            double v = fabs(A[j * m + i]);
            jm[i] = v > jm[i] ? v : jm[i];
          }
        for (size_t i = 0; i < m; i++) {
          double t = fabs(e[i]) * jm[i];
          if (t > rmax) rmax = t;
        }
      }
      gram_update(q, m, A, Gc);
    }
    a[0] = lanes_total(lanes);
    if (want_J) a[1 + q * q] = rmax;
    free(work);
  }
  if (nomem) return MOELAB_ENOMEM;
  double sse = 0.0, rmax = 0.0;
  double *Ht = tmp, *gt = tmp + p * p;
  if (want_J) memset(tmp, 0, (p * p + p) * sizeof(double));
  for (long c = 0; c < nc; c++) {
    const double *a = acc + (size_t)c * as;
    sse += a[0];
    if (!want_J) continue;
    const double *Gc = a + 1;
    for (size_t i = 0; i < p; i++)
      for (size_t j = i; j < p; j++) Ht[i * p + j] += Gc[i * q + j];
    for (size_t j = 0; j < p; j++) gt[j] += Gc[j * q + p];
    if (a[1 + q * q] > rmax) rmax = a[1 + q * q];
  }
  *sse_out = sse;
  if (rowmax) *rowmax = rmax;
  if (!want_J) return MOELAB_OK;
  for (size_t i = 0; i < p; i++)
    for (size_t j = 0; j < i; j++) Ht[i * p + j] = Ht[j * p + i];
  to_phi_mat(P, Ht, H);
  to_phi_vec(P, gt, g);
  if (want_S) { /* the moments summed in chunk order, then S in φ-space */
    double *mom = tmp + p * p + p;
    memset(mom, 0, T * nm * sizeof(double));
    for (long c = 0; c < nc; c++) {
      const double *a = acc + (size_t)c * as + 2 + q * q;
      for (size_t t = 0; t < T * nm; t++) mom[t] += a[t];
    }
    assemble_curvature(P, mom, Ht);
    to_phi_mat(P, Ht, S);
  }
  return MOELAB_OK;
}

/*
 * Geodesic acceleration (Transtrum & Sethna): the second directional
 * derivative r_vv = vᵀ∇²f v of the residuals along the velocity v (θ-space,
 * analytic from the second-order coefficients), returned as
 * out = J_φᵀ diag(w) r_vv (np).  acc/tmp as in accumulate; cacheJ/cacheC as
 * written by accumulate at this θ, or NULL: then the kernel evaluates the
 * rows again and forms J_ᵀ w r_vv itself (ml_eval_out.v), so neither J nor
 * the coefficients leave it (measured 3–5 % faster per iteration than
 * writing them and running the quadratic form and dgemv over them).
 */
static int accel_pass(const fit_problem *P, const double *theta, const double *vt, double *out, double *acc,
                      double *tmp, const double *cacheJ, const double *cacheC) {
  const size_t p = P->s.p, q = p + 1, d = P->d, T = P->T, k = P->s.k, stride = P->s.stride;
  const int softmax = P->s.gate == MOELAB_GATE_SOFTMAX, constant = P->s.expert == MOELAB_EXPERT_CONSTANT;
  const size_t as = acc_stride(P);
  const long nc = (long)P->nchunks;
  const int cached = cacheJ && cacheC;
  int nomem = 0;
  int nt = P->threads > 1 && !omp_in_parallel() && nc > 1 ? P->threads : 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (long c = 0; c < nc; c++) {
    double *a = acc + (size_t)c * as;
    size_t r_begin = (size_t)c * P->chunk_rows;
    size_t r_end = r_begin + P->chunk_rows < P->n ? r_begin + P->chunk_rows : P->n;
    /* cached: the quadratic form over the kept blocks, then dgemv; else the kernel forms the term itself
     * (no J or C leaves it) into p × ML_LANES lane sums */
    size_t need = 8 + (cached ? (2 * k + 1) * FIT_BLOCK : ml_eval_work(&P->s) + p * ML_LANES);
    double *work = malloc(need * sizeof(double));
    if (!work) {
#pragma omp atomic write
      nomem = 1;
      continue;
    }
    memset(a, 0, p * sizeof(double));
    if (!cached) {
      double *va = ml_align64(work), *ew = va + p * ML_LANES;
      memset(va, 0, p * ML_LANES * sizeof(double));
      ml_eval_out o = {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, vt, va, P->w ? P->w + r_begin : NULL};
      ml_eval(&P->s, theta, P->X + r_begin * d, r_end - r_begin, &o, ew);
      for (size_t j = 0; j < p; j++) {
        double s = 0.0;
        for (size_t l = 0; l < ML_LANES; l++) s += va[j * ML_LANES + l];
        a[j] = s;
      }
      free(work);
      continue;
    }
    double *rv = ml_align64(work), *dz = rv + FIT_BLOCK, *du = dz + k * FIT_BLOCK;
    for (size_t r0 = r_begin; r0 < r_end; r0 += FIT_BLOCK) {
      size_t m = r_end - r0 < FIT_BLOCK ? r_end - r0 : FIT_BLOCK;
      const double *Xb = P->X + r0 * d;
      /* the blocks of the last Jacobian pass at this θ (rows √w J) */
      const double *A = cacheJ + r0 * q, *C = cacheC + r0 * T;
      /* the scores' directional derivatives dz_i = v_β0 + v_β1ᵀx, du_i = v_b + v_aᵀx (or v_c) */
      for (size_t i = 0; i < k; i++) {
        const double *v = vt + i * stride;
        double *zi = dz + i * m, *ui = du + i * m;
        for (size_t r = 0; r < m; r++) zi[r] = v[0];
        for (size_t j = 0; j < d; j++) {
          const double vj = v[1 + j];
          for (size_t r = 0; r < m; r++) zi[r] += vj * Xb[r * d + j];
        }
        if (constant) {
          for (size_t r = 0; r < m; r++) ui[r] = v[1 + d];
          continue;
        }
        for (size_t r = 0; r < m; r++) ui[r] = v[1 + 2 * d];
        for (size_t j = 0; j < d; j++) {
          const double vj = v[1 + d + j];
          for (size_t r = 0; r < m; r++) ui[r] += vj * Xb[r * d + j];
        }
      }
      for (size_t r = 0; r < m; r++) rv[r] = 0.0;
      if (!softmax) {
        for (size_t i = 0; i < k; i++) {
          const double *zi = dz + i * m, *ui = du + i * m;
          const double *czz = C + i * m, *czu = C + (k + i) * m, *cuu = C + (2 * k + i) * m;
          for (size_t r = 0; r < m; r++)
            rv[r] += czz[r] * zi[r] * zi[r] + 2.0 * czu[r] * zi[r] * ui[r] + cuu[r] * ui[r] * ui[r];
        }
      } else {
        for (size_t i = 0; i < k; i++) {
          const double *zi = dz + i * m, *ui = du + i * m;
          for (size_t j = 0; j < k; j++) {
            const double *zj = dz + j * m, *uj = du + j * m;
            const double *czz = C + ml_hess_zz(&P->s, i, j) * m, *czu = C + ml_hess_zu(&P->s, i, j) * m;
            for (size_t r = 0; r < m; r++) rv[r] += czz[r] * zi[r] * zj[r] + 2.0 * czu[r] * zi[r] * uj[r];
          }
          const double *cuu = C + ml_hess_uu(&P->s, i) * m;
          for (size_t r = 0; r < m; r++) rv[r] += cuu[r] * ui[r] * ui[r];
        }
      }
      /* J_ᵀ w f_vv: the kept rows already carry √w */
      if (P->w)
        for (size_t r = 0; r < m; r++) rv[r] *= sqrt(P->w[r0 + r]);
      cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)p, (blasint)m, 1.0, A, (blasint)m, rv, 1, 1.0, a, 1);
    }
    free(work);
  }
  if (nomem) return MOELAB_ENOMEM;
  memset(tmp, 0, p * sizeof(double));
  for (long c = 0; c < nc; c++) {
    const double *a = acc + (size_t)c * as;
    for (size_t j = 0; j < p; j++) tmp[j] += a[j];
  }
  to_phi_vec(P, tmp, out);
  return MOELAB_OK;
}

/* ------------------------------------------------------------ LM engine */

typedef struct lm_ws {
  double *theta, *H, *g, *H2, *g2, *cJ, *cC, *cJ2, *cC2, *A, *D, *step, *trial, *rhs, *acc, *tmp, *theta0, *vt, *av;
  double *S, *S2; /* the residual curvature (Newton model), or NULL */
  double *Ht;     /* ReLU (2p² + 5p): JᵀJ (p×p) and Jᵀe (p) in θ at the point of the last kink_stationary,
                     then kink_probe's scratch (a copy of JᵀJ, the scaling, the step, two points) */
  unsigned char *pheld; /* ReLU probe: parameters held at a bound (p) */
  double *cache;  /* one allocation behind cJ, cC, cJ2, cC2 (64-byte aligned views) */
  size_t *free_idx;
  unsigned char *held; /* 1: held at a bound this iteration */
} lm_ws;

static void lm_ws_free(lm_ws *w) {
  free(w->theta);
  free(w->H);
  free(w->g);
  free(w->A);
  free(w->D);
  free(w->step);
  free(w->trial);
  free(w->rhs);
  free(w->acc);
  free(w->tmp);
  free(w->free_idx);
  free(w->held);
  free(w->theta0);
  free(w->H2);
  free(w->g2);
  free(w->cache);
  free(w->vt);
  free(w->av);
  free(w->S);
  free(w->S2);
  free(w->Ht);
  free(w->pheld);
  memset(w, 0, sizeof *w);
}

static int lm_ws_alloc(const fit_problem *P, lm_ws *w) {
  memset(w, 0, sizeof *w);
  size_t np = P->np, p = P->s.p;
  w->theta = ml_alloc(p, sizeof(double));
  w->H = ml_alloc(np * np, sizeof(double));
  w->g = ml_alloc(np, sizeof(double));
  w->A = ml_alloc(np * np, sizeof(double));
  w->D = ml_alloc(np, sizeof(double));
  w->step = ml_alloc(np, sizeof(double));
  w->trial = ml_alloc(np, sizeof(double));
  w->rhs = ml_alloc(np, sizeof(double));
  w->acc = ml_alloc(P->nchunks, acc_stride(P) * sizeof(double));
  w->tmp = ml_alloc(p * p + p + P->T * n_moments(P->d), sizeof(double));
  if (P->newton) {
    w->S = ml_alloc(np * np, sizeof(double));
    w->S2 = ml_alloc(np * np, sizeof(double));
    if (!w->S || !w->S2) {
      lm_ws_free(w);
      return MOELAB_ENOMEM;
    }
  }
  w->free_idx = ml_alloc(np, sizeof(size_t));
  w->held = ml_alloc(np, 1);
  w->theta0 = ml_alloc(p, sizeof(double));
  w->H2 = ml_alloc(np * np, sizeof(double));
  w->g2 = ml_alloc(np, sizeof(double));
  if (P->use_cache) {
    /* each part starts on a cache line, so every full block's rows do too */
    size_t nJ = (P->n * (p + 1) + 7) / 8 * 8, nC = (P->n * P->T + 7) / 8 * 8;
    w->cache = ml_alloc(2 * (nJ + nC) + 8, sizeof(double));
    if (w->cache) { /* else no room: run without the cache */
      w->cJ = ml_align64(w->cache);
      w->cC = w->cJ + nJ;
      w->cJ2 = w->cC + nC;
      w->cC2 = w->cJ2 + nJ;
    }
  }
  w->vt = ml_alloc(p, sizeof(double));
  w->av = ml_alloc(np, sizeof(double));
  if (P->s.expert == MOELAB_EXPERT_RELU) {
    w->Ht = ml_alloc(2 * p * p + 5 * p, sizeof(double));
    w->pheld = ml_alloc(p, 1);
    if (!w->Ht || !w->pheld) {
      lm_ws_free(w);
      return MOELAB_ENOMEM;
    }
  }
  if (!w->theta0 || !w->H2 || !w->g2 || !w->vt || !w->av || !w->theta || !w->H || !w->g || !w->A || !w->D || !w->step || !w->trial || !w->rhs || !w->acc ||
      !w->tmp || !w->free_idx || !w->held) {
    lm_ws_free(w);
    return MOELAB_ENOMEM;
  }
  return MOELAB_OK;
}

static void swap_ptr(double **a, double **b) {
  double *t = *a;
  *a = *b;
  *b = t;
}

/* The trial point's H, g, S and cached blocks become the current point's. */
static void take_trial(lm_ws *w) {
  swap_ptr(&w->H, &w->H2);
  swap_ptr(&w->g, &w->g2);
  swap_ptr(&w->S, &w->S2);
  swap_ptr(&w->cJ, &w->cJ2);
  swap_ptr(&w->cC, &w->cC2);
}

/* 1 when φ_j sits on a bound and the descent direction -g_j points out of Θ. */
static int pushed_out(const fit_problem *P, const double *phi, const double *g, size_t j) {
  return (phi[j] <= P->lo[j] && g[j] > 0) || (phi[j] >= P->hi[j] && g[j] < 0);
}

/* ‖P∇L‖∞: the gradient with the components held at bounds removed, over W·s. */
static double projected_grad_norm(const fit_problem *P, const double *phi, const double *g) {
  double m = 0.0;
  for (size_t j = 0; j < P->np; j++) {
    if (pushed_out(P, phi, g, j)) continue;
    double a = fabs(g[j]);
    if (a > m || isnan(a)) m = a;
  }
  return m / P->scale;
}

/*
 * Solves (H_FF + μ D_FF) δ_F = -g_F on the free set (held[j] == 0), δ = 0
 * elsewhere; the Cholesky factor stays in w->A.  Returns 0, or -1 if the
 * matrix is not positive definite.
 */
static int lm_solve(const fit_problem *P, lm_ws *w, double mu) {
  size_t np = P->np, nf = 0;
  for (size_t j = 0; j < np; j++)
    if (!w->held[j]) w->free_idx[nf++] = j;
  memset(w->step, 0, np * sizeof(double));
  if (nf == 0) return 0;
  for (size_t a = 0; a < nf; a++) {
    size_t ia = w->free_idx[a];
    for (size_t b = 0; b < nf; b++) {
      size_t ib = w->free_idx[b];
      w->A[a * nf + b] = w->H[ia * np + ib] + (w->S ? w->S[ia * np + ib] : 0.0);
    }
    w->A[a * nf + a] += mu * w->D[ia];
    w->rhs[a] = -w->g[ia];
  }
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, w->A, (lapack_int)nf);
  if (info != 0) return -1;
  info = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, 1, w->A, (lapack_int)nf, w->rhs, 1);
  if (info != 0) return -1;
  for (size_t a = 0; a < nf; a++) {
    if (!isfinite(w->rhs[a])) return -1;
    w->step[w->free_idx[a]] = w->rhs[a];
  }
  return 0;
}

/*
 * The Gauss–Newton decrement gᵀ H_FF⁻¹ g on the free set: the decrease of SSE
 * a full Gauss–Newton step would predict.  A tiny damping (1e-14 · D, raised
 * until H_FF is numerically positive definite) regularises singular H.
 * Uses w->A, w->rhs, w->free_idx.  Returns +inf if no factorisation works.
 */
static double gn_decrement(const fit_problem *P, lm_ws *w, const double *phi) {
  size_t np = P->np, nf = 0;
  for (size_t j = 0; j < np; j++)
    if (!pushed_out(P, phi, w->g, j)) w->free_idx[nf++] = j;
  if (nf == 0) return 0.0;
  for (double eps = 1e-14; eps <= 1e-4; eps *= 100) {
    for (size_t a = 0; a < nf; a++) {
      size_t ia = w->free_idx[a];
      for (size_t b = 0; b < nf; b++) w->A[a * nf + b] = w->H[ia * np + w->free_idx[b]];
      w->A[a * nf + a] += eps * w->D[ia];
      w->rhs[a] = w->g[ia];
    }
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, w->A, (lapack_int)nf) != 0) continue;
    if (LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, 1, w->A, (lapack_int)nf, w->rhs, 1) != 0) continue;
    double dec = 0.0;
    for (size_t a = 0; a < nf; a++) dec += w->g[w->free_idx[a]] * w->rhs[a];
    if (isfinite(dec)) return dec > 0 ? dec : 0.0;
  }
  return INFINITY;
}

/* D_j = (JᵀJ)_jj from an n×n H, floored at 1e-12 of the largest (1 when all are 0): the
 * scaling of a fresh start (the method then keeps its running maximum). */
static void diag_scaling(const double *H, size_t n, double *D) {
  double md = 0.0;
  for (size_t j = 0; j < n; j++) {
    D[j] = H[j * n + j];
    if (D[j] > md) md = D[j];
  }
  if (!(md > 0)) md = 1.0;
  for (size_t j = 0; j < n; j++)
    if (D[j] < 1e-12 * md) D[j] = 1e-12 * md;
}

static double norm2(const double *v, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += v[i] * v[i];
  return sqrt(s);
}

/*
 * ReLU experts: SSE is not differentiable where a sample sits on a kink, and its
 * gradient jumps by up to one row's term there.  *within = 1 when the projected
 * gradient at φ is no larger than the largest single-row term max_i |e_i| ‖J_i‖∞
 * (Clarke stationarity up to one kink crossing), from one more pass at φ (into
 * the scratch H2, g2, theta; the current point's H, g and cache stay).
 * Returns MOELAB_OK or MOELAB_ENOMEM.
 */
static int kink_stationary(const fit_problem *P, lm_ws *w, const double *phi, int *within) {
  double rowmax = 0.0, s2;
  const size_t p = P->s.p;
  fit_phi_to_theta(P, phi, w->theta);
  if (accumulate(P, w->theta, &s2, w->H2, w->g2, NULL, &rowmax, w->acc, w->tmp, NULL, NULL)) return MOELAB_ENOMEM;
  memcpy(w->Ht, w->tmp, (p * p + p) * sizeof(double)); /* JᵀJ and Jᵀe in θ, for kink_probe */
  *within = projected_grad_norm(P, phi, w->g) <= rowmax / P->scale;
  return MOELAB_OK;
}

/*
 * ReLU experts: the Levenberg–Marquardt steps a fresh start would try from φ.
 * At the kinks' scale most small steps fail (a sample's expert switching on or off
 * is not in the Gauss–Newton model), so μ grows and the method can settle where a
 * larger step, or a more heavily damped one, still descends.  The steps
 * (JᵀJ + μ diag(JᵀJ)) δ = -Jᵀe in the model's coordinates θ (a softmax step is put
 * back in the sum-to-zero gauge), with the scaling of a fresh start (not the running
 * maximum), at μ = 1e-3 · 2^j, j = 0..KINK_PROBES-1 (the largest step first), are
 * evaluated with f only (one pass each).  In θ rather than through lm_solve's φ: for
 * softmax gates the gauge's φ-space scaling gives other steps, and on six softmax fits
 * (seeds 1–6, n = 1000 and 5000) φ-space steps with a fresh scaling moved none of them
 * (at μ = 1e-3·10^j), while the θ-space steps moved one to a lower SSE.  *found = 1 for
 * the first that lowers SSE by more than kink_tol · SSE; with weak_ok, *found = 2 for the
 * first that lowers it at all (a weak step), when none before it gained kink_tol (in 444
 * ends of the bench_oracle fits no step with a larger μ gained kink_tol after a weak one).
 * Its point is in w->trial, its μ in *mu_found.  Needs
 * w->Ht at φ (kink_stationary), whose first p² it overwrites.  μ up to 2^30·1e-3 ≈ 1e6:
 * the descent left on over-specified fits follows a flat direction (of the Newton model
 * JᵀJ + S, slightly negative curvature) that only heavily damped steps can take without
 * crossing kinks in the stiff ones (docs/fitting.md, "Fresh-start steps": with weak steps,
 * GSL's solver restarted from the end point still lowered 18 of 152 bench_oracle fits with
 * μ up to 2^20·1e-3, 7 with 2^30, 10 with 2^40).
 * Returns MOELAB_OK or MOELAB_ENOMEM.
 */
#define KINK_PROBES 31
static int kink_probe(const fit_problem *P, const moelab_fit_options *opt, lm_ws *w, const double *phi, double sse,
                      int weak_ok, int *found, double *mu_found) {
  const size_t p = P->s.p;
  /* w->Ht: JᵀJ (p², factorised in place from a copy), Jᵀe (p), the copy (p²), D, δ, θ0, θ (p each) */
  double *M = w->Ht, *gt = w->Ht + p * p, *H = gt + p, *D = H + p * p, *dx = D + p, *th0 = dx + p, *th = th0 + p;
  unsigned char *held = w->pheld;
  *found = 0;
  memcpy(H, M, p * p * sizeof(double));
  fit_phi_to_theta(P, phi, th0);
  diag_scaling(H, p, D);
  /* without the gauge θ = φ: a parameter on a bound pushed out of Θ stays */
  for (size_t j = 0; j < p; j++) held[j] = (unsigned char)(!P->gauge && pushed_out(P, phi, gt, j));
  for (int jj = 0; jj < KINK_PROBES && !(opt->stop_flag && *opt->stop_flag); jj++) {
    double mp = ldexp(1e-3, jj);
    for (size_t a = 0; a < p; a++) {
      for (size_t b = 0; b < p; b++) M[a * p + b] = held[a] || held[b] ? (double)(a == b) : H[a * p + b];
      if (!held[a]) M[a * p + a] += mp * D[a];
      dx[a] = held[a] ? 0.0 : -gt[a];
    }
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)p, M, (lapack_int)p) != 0 ||
        LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)p, 1, M, (lapack_int)p, dx, 1) != 0)
      continue;
    for (size_t j = 0; j < p; j++) th[j] = th0[j] + dx[j];
    fit_theta_to_phi(P, th, w->trial);
    fit_clamp(P, w->trial);
    double st;
    fit_phi_to_theta(P, w->trial, w->theta);
    if (accumulate(P, w->theta, &st, NULL, NULL, NULL, NULL, w->acc, w->tmp, NULL, NULL)) return MOELAB_ENOMEM;
    if (isfinite(st) && sse - st > opt->kink_tol * sse) {
      *found = 1;
      *mu_found = mp;
      return MOELAB_OK;
    }
    if (weak_ok && isfinite(st) && st < sse) {
      *found = 2;
      *mu_found = mp;
      return MOELAB_OK;
    }
  }
  return MOELAB_OK;
}

/*
 * kink_probe at φ; when it finds a step (or a weak one, when weak_ok), φ moves there
 * with its SSE, H and g (one more pass, as a trial point), D becomes the fresh scaling
 * and *mu the step's μ: the method goes on from there as a fresh start would.  *moved = 1
 * then (2 for a weak step), else 0.
 */
static int kink_escape(const fit_problem *P, const moelab_fit_options *opt, lm_ws *w, double *phi, double *sse,
                       double *mu, int *moved, int weak_ok) {
  const size_t np = P->np;
  int found = 0;
  double mf = 0.0;
  *moved = 0;
  if (kink_probe(P, opt, w, phi, *sse, weak_ok, &found, &mf)) return MOELAB_ENOMEM;
  if (!found) return MOELAB_OK;
  double st;
  fit_phi_to_theta(P, w->trial, w->theta);
  if (accumulate(P, w->theta, &st, w->H2, w->g2, w->S2, NULL, w->acc, w->tmp, w->cJ2, w->cC2)) return MOELAB_ENOMEM;
  if (!isfinite(st) || !isfinite(norm2(w->g2, np))) return MOELAB_OK;
  memcpy(phi, w->trial, np * sizeof(double));
  *sse = st;
  take_trial(w);
  diag_scaling(w->H, np, w->D);
  *mu = mf;
  *moved = found;
  return MOELAB_OK;
}

/* ReLU experts: the acceleration pass is skipped when the scaled ‖a‖/‖v‖, predicted from the
 * last measurement, is below this (the step v + a/2 would change by less than half of it).
 * Measured on one core (bench/ab.py, 3 rounds): sigmoid/ReLU d = 1, n = 1e5
 * from 7.0 to 4.6 ms per iteration; over 12 data sets and starts of that size the median fit
 * from 0.33 to 0.22 s, faster in 11.  For smooth experts the pass is always taken: there the
 * gain was small (GELU 1.04–1.13×) and the skipped corrections, each below 0.1 % of a step,
 * still moved where over-specified fits stop in their flat valleys (the sigmoid fits of the
 * constant-regime1 study: 11 instead of 26 on Θ's boundary, expert-rate slope −0.46 instead
 * of −0.29). */
#define ACCEL_NEGLIGIBLE 1e-3

/* δᵀAδ for a symmetric np×np A. */
static double quad(const double *A, const double *v, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == 0.0) continue;
    double row = 0.0;
    for (size_t j = 0; j < n; j++) row += A[i * n + j] * v[j];
    s += v[i] * row;
  }
  return s;
}

/*
 * Runs the method from φ (updated in place); info receives the outcome.
 * Returns MOELAB_OK or MOELAB_ENOMEM.
 */
static int lm_run(const fit_problem *P, const moelab_fit_options *opt, double *phi, lm_ws *w,
                  moelab_restart_info *info) {
  const size_t np = P->np;
  memset(info, 0, sizeof *info);
  double sse;
  fit_phi_to_theta(P, phi, w->theta);
  if (accumulate(P, w->theta, &sse, w->H, w->g, w->S, NULL, w->acc, w->tmp, w->cJ, w->cC)) return MOELAB_ENOMEM;
  if (!isfinite(sse) || !isfinite(norm2(w->g, np))) {
    info->sse = NAN;
    info->stop = MOELAB_STOP_NUMERIC;
    info->grad_norm = NAN;
    return MOELAB_OK;
  }
  diag_scaling(w->H, np, w->D);
  double mu = 1e-3, nu = 2.0; /* damping relative to D */
  /* zero residual: every residual below 1e-14 of the data's scale */
  double zero_sse = 1e-26 * P->W * (P->sum.ysd * P->sum.ysd + P->sum.ymean * P->sum.ymean);
  int small = 0;
  size_t it = 0, accepted_steps = 0, kink_next = 0, accel_skips = 0;
  double accel_ratio = INFINITY, accel_vn = 0.0; /* the last measured scaled ‖a‖/‖v‖, and its ‖v‖ */
  const int relu = P->s.expert == MOELAB_EXPERT_RELU;
  double hist[10]; /* SSE after the last 10 accepted steps (a ring) */
  int kink_checked = 0, kink_within = 0; /* kink_stationary already run at the end point, and its answer */
  int weak_on = 0, weak_ok = 1; /* ReLU: going on from a weak probe step; weak steps still allowed */
  double weak_sse0 = 0.0;       /* SSE before the weak step */
  moelab_stop stop = MOELAB_STOP_MAXITER;
  for (;;) {
    if (opt->stop_flag && *opt->stop_flag) {
      stop = MOELAB_STOP_INTERRUPTED;
      break;
    }
    if (sse <= zero_sse) {
      stop = MOELAB_STOP_ZERO;
      break;
    }
    if (projected_grad_norm(P, phi, w->g) <= opt->gtol && gn_decrement(P, w, phi) <= opt->dtol * sse) {
      stop = MOELAB_STOP_STATIONARY;
      break;
    }
    if (it >= opt->max_iter) {
      stop = MOELAB_STOP_MAXITER;
      break;
    }
    it++;
    for (size_t j = 0; j < np; j++) w->held[j] = (unsigned char)pushed_out(P, phi, w->g, j);
    int accepted = 0, quit = 0;
    while (!accepted && !quit) {
      /* solve; a free parameter on a bound whose step leaves Θ is held too */
      int ok = 0;
      for (int pass = 0; pass < 4; pass++) {
        if (lm_solve(P, w, mu)) {
          ok = -1;
          break;
        }
        int more = 0;
        for (size_t j = 0; j < np; j++) {
          if (w->held[j]) continue;
          if ((phi[j] <= P->lo[j] && w->step[j] < 0) || (phi[j] >= P->hi[j] && w->step[j] > 0)) {
            w->held[j] = 1;
            more = 1;
          }
        }
        if (!more) break;
      }
      if (ok) { /* not positive definite: more damping */
        mu = mu > 0 ? mu * nu : 1e-12;
        nu *= 2;
        if (!(mu < 1e32)) {
          stop = MOELAB_STOP_STALLED;
          quit = 1;
        }
        continue;
      }
      /* the velocity v, projected onto Θ, and its predicted decrease of SSE */
      for (size_t j = 0; j < np; j++) w->trial[j] = phi[j] + w->step[j];
      fit_clamp(P, w->trial);
      for (size_t j = 0; j < np; j++) w->av[j] = w->trial[j] - phi[j];
      double gd = 0.0;
      for (size_t j = 0; j < np; j++) gd += w->g[j] * w->av[j];
      double pred = -(2.0 * gd + quad(w->H, w->av, np) + (w->S ? quad(w->S, w->av, np) : 0.0));
      double snorm = norm2(w->av, np), pnorm = norm2(phi, np);
      if (snorm <= opt->xtol * (pnorm + opt->xtol)) {
        stop = MOELAB_STOP_XTOL;
        quit = 1;
        break;
      }
      double vn = 0.0; /* the scaled ‖v‖², Σ D_j v_j² (held parameters have no step) */
      for (size_t j = 0; j < np; j++) vn += w->D[j] * w->step[j] * w->step[j];
      /* ReLU experts: a ∝ ‖v‖² for a given curvature, so skip the pass when the last
       * measured ratio, scaled to this ‖v‖, puts ‖a‖ below ACCEL_NEGLIGIBLE ‖v‖ (measured
       * again after 10 skips).  Their r_vv has no term for the kinks, which are what limits
       * the steps of their long tails; smooth experts always take the pass (see the note
       * at ACCEL_NEGLIGIBLE) */
      int accel_now = opt->accel && !P->newton;
      if (accel_now && relu && accel_skips < 10 && accel_vn > 0 &&
          accel_ratio * sqrt(vn) / accel_vn <= ACCEL_NEGLIGIBLE) {
        accel_now = 0;
        accel_skips++;
      }
      if (accel_now) {
        /* geodesic acceleration a = -(model + μD)⁻¹ J_φᵀ r_vv on the free set (the
         * factor is reused); the step is v + a/2, taken only when the scaled
         * ‖a‖/‖v‖ <= 0.75 (GSL's lmaccel rule); ρ keeps the velocity's prediction */
        fit_phi_to_theta(P, phi, w->theta0);
        fit_phi_to_theta(P, w->step, w->vt);
        if (accel_pass(P, w->theta0, w->vt, w->av, w->acc, w->tmp, w->cJ, w->cC)) return MOELAB_ENOMEM;
        size_t nf = 0;
        for (size_t j = 0; j < np; j++)
          if (!w->held[j]) w->rhs[nf++] = -w->av[j];
        lapack_int inf2 = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, 1, w->A, (lapack_int)nf, w->rhs, 1);
        double an = 0.0;
        for (size_t a = 0; a < nf; a++) an += w->D[w->free_idx[a]] * w->rhs[a] * w->rhs[a];
        accel_skips = 0;
        accel_vn = sqrt(vn);
        accel_ratio = inf2 == 0 && isfinite(an) && vn > 0 ? sqrt(an / vn) : INFINITY;
        if (inf2 != 0 || !isfinite(an) || an > 0.75 * 0.75 * vn) {
          mu = mu > 0 ? mu * nu : 1e-12;
          nu *= 2;
          if (!(mu < 1e32)) {
            stop = MOELAB_STOP_STALLED;
            quit = 1;
          }
          continue;
        }
        for (size_t a = 0; a < nf; a++) w->step[w->free_idx[a]] += 0.5 * w->rhs[a];
        for (size_t j = 0; j < np; j++) w->trial[j] = phi[j] + w->step[j];
        fit_clamp(P, w->trial);
      }
      /* the trial point is evaluated with its Jacobian: most steps are accepted,
       * and then H and g at the new point are already there */
      double sse_t;
      fit_phi_to_theta(P, w->trial, w->theta);
      if (accumulate(P, w->theta, &sse_t, w->H2, w->g2, w->S2, NULL, w->acc, w->tmp, w->cJ2, w->cC2))
        return MOELAB_ENOMEM;
      double actual = sse - sse_t;
      double rho = (isfinite(sse_t) && pred > 0 && actual > 0) ? actual / pred : -1.0;
      if (rho > 0 && isfinite(norm2(w->g2, np))) {
        memcpy(phi, w->trial, np * sizeof(double));
        double sse_old = sse;
        sse = sse_t;
        take_trial(w);
        for (size_t j = 0; j < np; j++)
          if (w->H[j * np + j] > w->D[j]) w->D[j] = w->H[j * np + j];
        double t = 2.0 * rho - 1.0;
        double f = 1.0 - t * t * t;
        mu *= f > 1.0 / 3.0 ? f : 1.0 / 3.0;
        nu = 2.0;
        accepted = 1;
        /* noise-level stationarity: the last 10 nearly Gauss–Newton steps (little damping)
         * gained at most stat_tol · σ̂² together */
        const int full10 = accepted_steps >= 10;
        double gain10 = full10 ? hist[accepted_steps % 10] - sse : INFINITY;
        if (full10 && opt->stat_tol > 0 && P->W > (double)np && mu <= 1e-2 &&
            gain10 <= opt->stat_tol * sse / (P->W - (double)np)) {
          stop = MOELAB_STOP_NOISE;
          quit = 1;
        }
        hist[accepted_steps % 10] = sse;
        accepted_steps++;
        /* ReLU kink stationarity: 10 steps gained at most kink_tol · SSE together and the
         * gradient is within the largest single-row term (when it is not, the next try is
         * 10 steps later) */
        if (!quit && relu && full10 && opt->kink_tol > 0 && gain10 <= opt->kink_tol * sse &&
            accepted_steps >= kink_next) {
          int within;
          if (kink_stationary(P, w, phi, &within)) return MOELAB_ENOMEM;
          if (within) {
            stop = MOELAB_STOP_KINK;
            quit = 1;
          } else {
            kink_next = accepted_steps + 10;
          }
        }
        /* no progress: with heavy damping, damp less and go on; with little
         * damping (nearly Gauss–Newton steps), three such steps end the fit */
        if (!quit && sse_old - sse <= opt->ftol * sse_old) {
          if (mu > 1e-8)
            mu *= 1e-3;
          else if (++small >= 3) {
            stop = MOELAB_STOP_FTOL;
            quit = 1;
          }
        } else {
          small = 0;
        }
      } else {
        mu = mu > 0 ? mu * nu : 1e-12;
        nu *= 2;
        if (!(mu < 1e32)) {
          stop = MOELAB_STOP_STALLED;
          quit = 1;
        }
      }
    }
    /* ReLU experts: before the kink rule, xtol or ftol ends the fit, the steps a fresh
     * start would try (kink_probe); when one descends, the method goes on from there */
    if (quit && relu && opt->kink_tol > 0 && it < opt->max_iter &&
        (stop == MOELAB_STOP_KINK || stop == MOELAB_STOP_XTOL || stop == MOELAB_STOP_FTOL)) {
      int moved;
      if (stop != MOELAB_STOP_KINK) {
        if (kink_stationary(P, w, phi, &kink_within)) return MOELAB_ENOMEM;
        kink_checked = 1;
      }
      if (weak_on) { /* a weak step's run has ended: it must have gained kink_tol · SSE */
        weak_on = 0;
        if (!(weak_sse0 - sse > opt->kink_tol * weak_sse0)) weak_ok = 0;
      }
      double sse0 = sse;
      if (kink_escape(P, opt, w, phi, &sse, &mu, &moved, weak_ok)) return MOELAB_ENOMEM;
      if (moved == 1) weak_ok = 1;
      if (moved == 2) {
        weak_on = 1;
        weak_sse0 = sse0;
      }
      if (moved) {
        kink_checked = 0;
        quit = 0;
        nu = 2.0;
        small = 0;
        accel_ratio = INFINITY;
        accel_skips = 0;
        kink_next = accepted_steps + 10;
      }
    }
    if (quit) break;
  }
  info->sse = sse;
  info->iterations = it;
  info->stop = stop;
  info->grad_norm = projected_grad_norm(P, phi, w->g);
  info->decrement = sse > 0 ? gn_decrement(P, w, phi) / sse : 0.0;
  info->converged = stop == MOELAB_STOP_ZERO || stop == MOELAB_STOP_NOISE || stop == MOELAB_STOP_KINK ||
                    (info->grad_norm <= opt->gtol && info->decrement <= opt->dtol);
  /* ReLU experts: a fit that stops on a negligible step or decrease counts as
   * converged when its gradient is within one row's term (kink_stationary) */
  if (!info->converged && relu &&
      (stop == MOELAB_STOP_XTOL || stop == MOELAB_STOP_FTOL || stop == MOELAB_STOP_STALLED)) {
    if (!kink_checked && kink_stationary(P, w, phi, &kink_within)) return MOELAB_ENOMEM;
    if (kink_within) info->converged = 1;
  }
  return MOELAB_OK;
}

/* ------------------------------------------------------------- set-up */

static void problem_free(fit_problem *P) {
  free(P->lo);
  free(P->hi);
  free(P->sum.xmin);
  free(P->sum.xmax);
  free(P->sum.xmean);
  free(P->sum.xsd);
}

static int check_box(const moelab_box *b, moelab_error *err) {
  const double v[6] = {b->beta0_lo, b->beta0_hi, b->beta1_lo, b->beta1_hi, b->eta_lo, b->eta_hi};
  const char *names[3] = {"box.beta0", "box.beta1", "box.eta"};
  for (int i = 0; i < 3; i++) {
    if (!isfinite(v[2 * i]) || !isfinite(v[2 * i + 1]) || !(v[2 * i] < v[2 * i + 1]))
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, names[i], "the box needs finite lo < hi (got [%g, %g])", v[2 * i],
                     v[2 * i + 1]);
  }
  return MOELAB_OK;
}

static int problem_setup(const moelab_data_view *data, const moelab_fit_options *opt, fit_problem *P,
                         moelab_error *err) {
  memset(P, 0, sizeof *P);
  if (!data || !opt) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL argument");
  if (!data->y) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "y", "the data have no output column y");
  if (data->n < 1 || !data->X) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "no data rows");
  if (data->d < 1 || data->d > MOELAB_MAX_D) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "d", "bad input dimension");
  if (opt->k < 1) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "k must be >= 1");
  if (opt->k > MOELAB_MAX_K) return ml_fail(err, MOELAB_ELIMIT, NULL, 0, "k", "k exceeds the limit %d", MOELAB_MAX_K);
  if (opt->gate != MOELAB_GATE_SIGMOID && opt->gate != MOELAB_GATE_SOFTMAX)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "gate", "unknown gate");
  if ((unsigned)opt->expert > (unsigned)MOELAB_EXPERT_TANH)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "expert", "unknown expert family");
  if (opt->expert == MOELAB_EXPERT_POLY && (opt->degree < 1 || opt->degree > MOELAB_MAX_DEGREE))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "degree", "degree must be between 1 and %d", MOELAB_MAX_DEGREE);
  if (opt->restarts < 1) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "restarts", "restarts must be >= 1");
  if (!(opt->gtol >= 0) || !(opt->dtol >= 0) || !(opt->ftol >= 0) || !(opt->xtol >= 0) || !(opt->stat_tol >= 0) ||
      !(opt->kink_tol >= 0) || !isfinite(opt->gtol) || !isfinite(opt->dtol) || !isfinite(opt->ftol) ||
      !isfinite(opt->xtol) || !isfinite(opt->stat_tol))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "tol", "tolerances must be finite and >= 0");
  if (!(opt->kink_tol <= 1))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "kink_tol", "kink_tol must be in [0, 1] (0: off)");
  if (!(opt->split_fraction >= 0 && opt->split_fraction < 1))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "split_fraction", "the split fraction must be in (0, 1)");
  if (!(opt->perturb >= 0) || !isfinite(opt->perturb))
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "perturb", "perturb must be finite and >= 0");
  int st = check_box(&opt->box, err);
  if (st) return st;
  if (opt->init == MOELAB_INIT_MODEL) {
    const moelab_model *m0 = opt->init_model;
    if (!m0) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "init", "init = model needs a start model");
    if (m0->expert != opt->expert || (opt->expert == MOELAB_EXPERT_POLY && m0->degree != opt->degree))
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "init",
                     "the start model has %s experts but the fit has %s experts", moelab_expert_name(m0->expert),
                     moelab_expert_name(opt->expert));
    if (m0->d != data->d)
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "init", "the start model has d = %zu but the data have d = %zu",
                     m0->d, data->d);
    if (m0->k > opt->k)
      return ml_fail(err, MOELAB_EINVAL, NULL, 0, "k", "k = %zu is smaller than the start model's k = %zu", opt->k,
                     m0->k);
    for (size_t i = 0; opt->split && i < opt->nsplit && m0->k + i < opt->k; i++)
      if (opt->split[i] >= m0->k + i)
        return ml_fail(err, MOELAB_EINVAL, NULL, 0, "split",
                       "split %zu names atom %zu, but there are %zu atoms at that point", i + 1, opt->split[i],
                       m0->k + i);
  } else if ((unsigned)opt->init > (unsigned)MOELAB_INIT_MODEL) {
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "init", "unknown initialisation");
  }
  P->s = ml_shape_make(opt->gate, opt->expert, opt->degree, data->d, opt->k);
  P->n = data->n;
  P->d = data->d;
  P->X = data->X;
  P->y = data->y;
  P->w = opt->weights;
  P->gauge = opt->gate == MOELAB_GATE_SOFTMAX;
  P->np = P->s.p - (P->gauge ? 1 + P->d : 0);
  P->T = ml_hess_ntypes(&P->s);
  /* keep the Jacobian rows of the last pass for the acceleration pass when they fit in 64 MiB
   * (two copies: the current point and the trial) */
  P->newton = opt->newton != 0;
  /* Keep the blocks of the last Jacobian pass for the acceleration pass (two copies: the current point and
   * the trial) when they fit the budget; else the acceleration pass evaluates the rows again.  Keeping them
   * costs memory traffic, evaluating them again costs the kernel: bench_fit, one core, sigmoid gate, d = 1,
   * median fit times kept/evaluated again: relu n = 1e4 (3.5 MB kept) 0.036/0.049 s, n = 1e5 (35 MB)
   * 0.61/0.49 s; gelu n = 1e4 0.053/0.089 s, n = 1e5 2.97/3.18 s.  So 8 MiB for experts without
   * transcendental functions, 64 MiB for the others. */
  const int cheap = opt->expert == MOELAB_EXPERT_RELU || opt->expert == MOELAB_EXPERT_LINEAR ||
                    opt->expert == MOELAB_EXPERT_POLY || opt->expert == MOELAB_EXPERT_CONSTANT;
  const size_t budget = (size_t)(cheap ? 8 : 64) << 20;
  P->use_cache = opt->accel && !P->newton && P->n * (P->s.p + 1 + P->T) * 2 * sizeof(double) <= budget;
  P->threads = opt->threads > 0 ? opt->threads : omp_get_max_threads();
  /* weights, scale and summary */
  double W = 0.0, ymean = 0.0;
  for (size_t i = 0; i < P->n; i++) {
    double wi = P->w ? P->w[i] : 1.0;
    if (!(wi >= 0) || !isfinite(wi)) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "weights", "weight %zu is negative or not finite", i);
    if (!isfinite(P->y[i])) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "y", "y[%zu] is not finite", i);
    W += wi;
    if (W > 0) ymean += wi / W * (P->y[i] - ymean);
  }
  if (!(W > 0)) return ml_fail(err, MOELAB_EINVAL, NULL, 0, "weights", "the weights sum to zero");
  size_t nonzero = 0;
  double yvar = 0.0, ymin = INFINITY, ymax = -INFINITY;
  for (size_t i = 0; i < P->n; i++) {
    double wi = P->w ? P->w[i] : 1.0;
    if (wi > 0) nonzero++;
    double c = P->y[i] - ymean;
    yvar += wi * c * c;
    if (P->y[i] < ymin) ymin = P->y[i];
    if (P->y[i] > ymax) ymax = P->y[i];
  }
  yvar /= W;
  if (nonzero < P->np)
    return ml_fail(err, MOELAB_EINVAL, NULL, 0, "n",
                   "fewer rows (%zu) than free parameters (%zu): use fewer atoms or more data", nonzero, P->np);
  P->W = W;
  double s = yvar > 0 ? yvar : (ymean * ymean > 0 ? ymean * ymean : 1.0);
  P->scale = W * s;
  P->sum.ymean = ymean;
  P->sum.ysd = sqrt(yvar);
  P->sum.ymin = ymin;
  P->sum.ymax = ymax;
  size_t d = P->d;
  P->sum.xmin = ml_alloc(d, sizeof(double));
  P->sum.xmax = ml_alloc(d, sizeof(double));
  P->sum.xmean = ml_zalloc(d, sizeof(double));
  P->sum.xsd = ml_zalloc(d, sizeof(double));
  P->lo = ml_alloc(P->np, sizeof(double));
  P->hi = ml_alloc(P->np, sizeof(double));
  if (!P->sum.xmin || !P->sum.xmax || !P->sum.xmean || !P->sum.xsd || !P->lo || !P->hi) {
    problem_free(P);
    return ml_nomem(err);
  }
  for (size_t j = 0; j < d; j++) {
    P->sum.xmin[j] = INFINITY;
    P->sum.xmax[j] = -INFINITY;
  }
  for (size_t i = 0; i < P->n; i++)
    for (size_t j = 0; j < d; j++) {
      double x = P->X[i * d + j];
      if (!isfinite(x)) {
        problem_free(P);
        return ml_fail(err, MOELAB_EINVAL, NULL, 0, "X", "x[%zu][%zu] is not finite", i, j);
      }
      if (x < P->sum.xmin[j]) P->sum.xmin[j] = x;
      if (x > P->sum.xmax[j]) P->sum.xmax[j] = x;
      P->sum.xmean[j] += (x - P->sum.xmean[j]) / (double)(i + 1);
    }
  for (size_t i = 0; i < P->n; i++)
    for (size_t j = 0; j < d; j++) {
      double c = P->X[i * d + j] - P->sum.xmean[j];
      P->sum.xsd[j] += c * c;
    }
  for (size_t j = 0; j < d; j++) P->sum.xsd[j] = sqrt(P->sum.xsd[j] / (double)P->n);
  /* bounds of φ */
  size_t stride = P->s.stride;
  for (size_t j = 0; j < P->np; j++) {
    size_t atom = j / stride, c = j % stride;
    if (P->gauge && atom == P->s.k - 1) c += 1 + d; /* atom k's η only */
    if (c == 0) {
      P->lo[j] = opt->box.beta0_lo;
      P->hi[j] = opt->box.beta0_hi;
    } else if (c <= d) {
      P->lo[j] = opt->box.beta1_lo;
      P->hi[j] = opt->box.beta1_hi;
    } else {
      P->lo[j] = opt->box.eta_lo;
      P->hi[j] = opt->box.eta_hi;
    }
  }
  /* chunks: a function of n and np only */
  size_t blocks = (P->n + FIT_BLOCK - 1) / FIT_BLOCK;
  size_t nc = blocks < FIT_MAX_CHUNKS ? blocks : FIT_MAX_CHUNKS;
  size_t per = acc_stride(P) * sizeof(double);
  while (nc > 1 && nc * per > ((size_t)256 << 20)) nc /= 2;
  if (nc < 1) nc = 1;
  P->nchunks = nc;
  P->chunk_rows = ((P->n + nc - 1) / nc + FIT_BLOCK - 1) / FIT_BLOCK * FIT_BLOCK; /* whole blocks */
  P->nchunks = (P->n + P->chunk_rows - 1) / P->chunk_rows;
  return MOELAB_OK;
}

/* ------------------------------------------------- the model, for tests */

int fit_model_at(const moelab_data_view *data, const moelab_fit_options *opt, const double *theta, double *sse,
                 double *H, double *g, size_t *np, moelab_error *err) {
  fit_problem P;
  int st = problem_setup(data, opt, &P, err);
  if (st) return st;
  P.use_cache = 0;
  lm_ws w;
  if (lm_ws_alloc(&P, &w)) {
    problem_free(&P);
    return ml_nomem(err);
  }
  st = accumulate(&P, theta, sse, w.H, w.g, P.newton ? w.S : NULL, NULL, w.acc, w.tmp, NULL, NULL);
  if (!st) {
    for (size_t j = 0; j < P.np * P.np; j++) H[j] = w.H[j] + (P.newton ? w.S[j] : 0.0);
    memcpy(g, w.g, P.np * sizeof(double));
    *np = P.np;
  } else {
    st = ml_nomem(err);
  }
  lm_ws_free(&w);
  problem_free(&P);
  return st;
}

/* --------------------------------------------------- standard errors */

/* Fills report->se, rcond, se_available from H at φ (free set: not on a bound). */
static int standard_errors(const fit_problem *P, const moelab_fit_options *opt, const double *phi, const double *H,
                           moelab_fit_report *R) {
  size_t np = P->np, p = P->s.p;
  for (size_t j = 0; j < p; j++) R->se[j] = NAN;
  R->se_available = 0;
  R->rcond = 0.0;
  double dof = P->W - (double)np;
  R->sigma2 = dof > 0 ? R->sse / dof : NAN;
  size_t *idx = ml_alloc(np, sizeof(size_t));
  double *A = ml_alloc(np * np, sizeof(double)), *sc = ml_alloc(np, sizeof(double));
  double *cov = ml_zalloc(np * np, sizeof(double));
  if (!idx || !A || !sc || !cov) {
    free(idx);
    free(A);
    free(sc);
    free(cov);
    return MOELAB_ENOMEM;
  }
  size_t nf = 0;
  for (size_t j = 0; j < np; j++)
    if (phi[j] > P->lo[j] && phi[j] < P->hi[j]) idx[nf++] = j;
  int ok = nf > 0 && dof > 0;
  for (size_t a = 0; a < nf && ok; a++) {
    double h = H[idx[a] * np + idx[a]];
    if (!(h > 0)) ok = 0;
    sc[a] = ok ? 1.0 / sqrt(h) : 0.0;
  }
  if (ok) {
    for (size_t a = 0; a < nf; a++)
      for (size_t b = 0; b < nf; b++) A[a * nf + b] = sc[a] * sc[b] * H[idx[a] * np + idx[b]];
    double anorm = 0.0;
    for (size_t a = 0; a < nf; a++) {
      double s = 0.0;
      for (size_t b = 0; b < nf; b++) s += fabs(A[a * nf + b]);
      if (s > anorm) anorm = s;
    }
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, A, (lapack_int)nf) != 0) {
      ok = 0;
    } else {
      double rc = 0.0;
      if (LAPACKE_dpocon(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, A, (lapack_int)nf, anorm, &rc) != 0) rc = 0.0;
      R->rcond = rc;
      if (!(rc >= opt->se_rcond_min)) ok = 0;
    }
    if (ok && LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', (lapack_int)nf, A, (lapack_int)nf) != 0) ok = 0;
  }
  if (ok) {
    /* cov_φ on the free set; parameters on a bound have no standard error */
    for (size_t a = 0; a < nf; a++)
      for (size_t b = a; b < nf; b++) {
        double v = R->sigma2 * sc[a] * sc[b] * A[a * nf + b];
        cov[idx[a] * np + idx[b]] = v;
        cov[idx[b] * np + idx[a]] = v;
      }
    /* θ = Tφ: plain copies, and (softmax) atom k's gate parameters = -Σ of the others' */
    size_t stride = P->s.stride, k = P->s.k, g = 1 + P->d;
    for (size_t j = 0; j < p; j++) {
      size_t atom = j / stride, c = j % stride;
      double var;
      if (!P->gauge) {
        var = cov[j * np + j];
      } else if (atom + 1 < k) {
        var = cov[j * np + j];
      } else if (c >= g) {
        size_t pj = (k - 1) * stride + (c - g);
        var = cov[pj * np + pj];
      } else {
        var = 0.0;
        for (size_t a = 0; a + 1 < k; a++)
          for (size_t b = 0; b + 1 < k; b++) var += cov[(a * stride + c) * np + (b * stride + c)];
      }
      int on_bound = 0;
      if (!P->gauge || atom + 1 < k || c >= g) {
        size_t pj = (P->gauge && atom + 1 == k) ? (k - 1) * stride + (c - g) : j;
        on_bound = !(phi[pj] > P->lo[pj] && phi[pj] < P->hi[pj]);
      }
      R->se[j] = on_bound ? NAN : sqrt(var > 0 ? var : 0.0);
    }
    R->se_available = 1;
  }
  free(idx);
  free(A);
  free(sc);
  free(cov);
  return MOELAB_OK;
}

/* ------------------------------------------------------------ the fit */

void moelab_fit_report_free(moelab_fit_report *r) {
  if (!r) return;
  free(r->se);
  free(r->at_bound);
  free(r->restart);
  free(r);
}

int moelab_fit(const moelab_data_view *data, const moelab_fit_options *opt, moelab_model **model,
               moelab_fit_report **report, moelab_error *err) {
  double t0 = now_seconds();
  if (!model) return ml_fail(err, MOELAB_EINVAL, NULL, 0, NULL, "NULL model output");
  fit_problem P;
  int st = problem_setup(data, opt, &P, err);
  if (st) return st;
  const size_t R = opt->restarts, np = P.np, p = P.s.p;
  moelab_fit_report *rep = ml_zalloc(1, sizeof *rep);
  double *phis = ml_alloc(R * np, sizeof(double));
  int *rstatus = ml_zalloc(R, sizeof(int));
  moelab_model *m = NULL;
  lm_ws fin;
  memset(&fin, 0, sizeof fin);
  if (!rep || !phis || !rstatus) {
    st = ml_nomem(err);
    goto out;
  }
  rep->restart = ml_zalloc(R, sizeof(moelab_restart_info));
  rep->se = ml_alloc(p, sizeof(double));
  rep->at_bound = ml_zalloc(p, sizeof(int));
  if (!rep->restart || !rep->se || !rep->at_bound) {
    st = ml_nomem(err);
    goto out;
  }
  /* restarts in parallel when there are several; each one's inner passes
   * then run on one thread (and the other way round) */
  int outer = R > 1 && P.threads > 1 && !omp_in_parallel();
  int nt_outer = outer ? (P.threads < (int)R ? P.threads : (int)R) : 1;
  fit_problem Pin = P;
  if (outer) Pin.threads = 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt_outer) if (outer)
  for (long r = 0; r < (long)R; r++) {
    moelab_restart_info *info = &rep->restart[r];
    info->sse = NAN;
    info->stop = MOELAB_STOP_NUMERIC;
    if (opt->stop_flag && *opt->stop_flag) {
      info->stop = MOELAB_STOP_INTERRUPTED;
      rstatus[r] = MOELAB_EINTR;
      continue;
    }
    lm_ws w;
    gsl_rng *rng = ml_rng_alloc(opt->seed, opt->stream_base + (uint64_t)r);
    if (!rng || lm_ws_alloc(&Pin, &w)) {
      if (rng) gsl_rng_free(rng);
      rstatus[r] = MOELAB_ENOMEM;
      continue;
    }
    double *phi = phis + (size_t)r * np;
    int s2 = fit_init_theta(&Pin, opt, rng, w.theta, NULL);
    if (!s2) {
      fit_theta_to_phi(&Pin, w.theta, phi);
      fit_clamp(&Pin, phi);
      s2 = lm_run(&Pin, opt, phi, &w, info);
    }
    rstatus[r] = s2;
    lm_ws_free(&w);
    gsl_rng_free(rng);
  }
  /* the best restart: smallest finite SSE, ties to the lowest index */
  long best = -1;
  size_t nconv = 0, nfail = 0, ndone = 0;
  for (size_t r = 0; r < R; r++) {
    if (rstatus[r] == MOELAB_ENOMEM) {
      st = ml_nomem(err);
      goto out;
    }
    moelab_restart_info *info = &rep->restart[r];
    if (rstatus[r] == MOELAB_EINTR) continue;
    ndone++;
    if (!isfinite(info->sse)) {
      nfail++;
      continue;
    }
    if (info->converged) nconv++;
    if (best < 0 || info->sse < rep->restart[best].sse) best = (long)r;
  }
  if (best < 0) {
    if (ndone == 0)
      st = ml_fail(err, MOELAB_EINTR, NULL, 0, NULL, "interrupted before any restart finished");
    else
      st = ml_fail(err, MOELAB_ENUMERIC, NULL, 0, NULL,
                   "all %zu restarts failed: the objective became NaN or infinite (overflowing start or step)", R);
    goto out;
  }
  double *phi = phis + (size_t)best * np;
  st = moelab_model_new(opt->gate, opt->expert, opt->degree, P.d, opt->k, &m, err);
  if (st) goto out;
  fit_phi_to_theta(&P, phi, m->theta);
  fit_problem Pfin = P;
  Pfin.use_cache = 0;
  Pfin.newton = 0;
  if (lm_ws_alloc(&Pfin, &fin)) {
    st = ml_nomem(err);
    goto out;
  }
  double sse;
  if (accumulate(&Pfin, m->theta, &sse, fin.H, fin.g, NULL, NULL, fin.acc, fin.tmp, NULL, NULL)) {
    st = ml_nomem(err);
    goto out;
  }
  moelab_restart_info *bi = &rep->restart[best];
  rep->n = P.n;
  rep->d = P.d;
  rep->k = P.s.k;
  rep->p = p;
  rep->p_free = np;
  rep->sse = bi->sse;
  rep->mse = bi->sse / P.W;
  rep->grad_norm = bi->grad_norm;
  rep->decrement = bi->decrement;
  rep->iterations = bi->iterations;
  rep->stop = bi->stop;
  rep->converged = bi->converged;
  rep->restarts = R;
  rep->restarts_converged = nconv;
  rep->restarts_failed = nfail;
  rep->best_restart = (size_t)best;
  /* parameters on a bound (θ ordering; softmax atom k's gate parameters have none) */
  rep->n_at_bound = 0;
  for (size_t j = 0; j < p; j++) {
    size_t atom = j / P.s.stride, c = j % P.s.stride;
    long pj = (long)j;
    if (P.gauge && atom + 1 == P.s.k) pj = c >= 1 + P.d ? (long)((P.s.k - 1) * P.s.stride + c - 1 - P.d) : -1;
    int b = 0;
    if (pj >= 0) b = phi[pj] <= P.lo[pj] ? -1 : phi[pj] >= P.hi[pj] ? 1 : 0;
    rep->at_bound[j] = b;
    if (b) rep->n_at_bound++;
  }
  if (opt->compute_se) {
    if (standard_errors(&P, opt, phi, fin.H, rep)) {
      st = ml_nomem(err);
      goto out;
    }
  } else {
    for (size_t j = 0; j < p; j++) rep->se[j] = NAN;
    double dof = P.W - (double)np;
    rep->sigma2 = dof > 0 ? rep->sse / dof : NAN;
  }
  rep->seconds = now_seconds() - t0;
  char *rj = NULL;
  st = moelab_fit_report_json(rep, opt, &rj, err);
  if (st) goto out;
  size_t need = strlen(rj) + 16;
  char *extra = malloc(need);
  if (!extra) {
    free(rj);
    st = ml_nomem(err);
    goto out;
  }
  snprintf(extra, need, "{\"fit\": %s}", rj);
  free(rj);
  m->extra = extra;
  *model = m;
  m = NULL;
  if (report) {
    *report = rep;
    rep = NULL;
  }
  st = MOELAB_OK;
out:
  lm_ws_free(&fin);
  moelab_model_free(m);
  moelab_fit_report_free(rep);
  free(phis);
  free(rstatus);
  problem_free(&P);
  return st;
}
