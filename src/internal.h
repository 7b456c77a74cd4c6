/*
 * internal.h — declarations shared by the library's sources (not installed).
 */
#ifndef MOELAB_INTERNAL_H
#define MOELAB_INTERNAL_H

#include "moelab.h"

#include <stdarg.h>
#include <stddef.h>
#include <gsl/gsl_rng.h>

#if defined(__GNUC__)
#define ML_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ML_UNUSED __attribute__((unused))
#else
#define ML_PRINTF(a, b)
#define ML_UNUSED
#endif

#define ML_PI 3.14159265358979323846

/* ---- errors (error.c) ---- */

/*
 * Fills `err` (if not NULL) with status, location and a printf-style message;
 * returns `status` so that callers can write `return ml_fail(...)`.
 * `file` and `field` may be NULL; line 0 means no line.
 */
int ml_fail(moelab_error *err, int status, const char *file, long line, const char *field, const char *fmt, ...)
    ML_PRINTF(6, 7);
int ml_vfail(moelab_error *err, int status, const char *file, long line, const char *field, const char *fmt,
             va_list ap) ML_PRINTF(6, 0);
/* Sets err->status = MOELAB_ENOMEM with a standard message; returns MOELAB_ENOMEM. */
int ml_nomem(moelab_error *err);

/* ---- allocation with overflow checks (error.c) ---- */

/* malloc(n * size) / calloc; NULL on overflow or failure.  n == 0 allocates 1 byte. */
void *ml_alloc(size_t n, size_t size);
void *ml_zalloc(size_t n, size_t size);
void *ml_realloc(void *ptr, size_t n, size_t size);
char *ml_strdup(const char *s);

/* ---- expert families by property ---- */

/* Affine experts aᵀx + b: linear, and poly of degree 1 (the same functions). */
static inline int ml_expert_affine(moelab_expert e, int degree) {
  return e == MOELAB_EXPERT_LINEAR || (e == MOELAB_EXPERT_POLY && degree == 1);
}

/* Positively homogeneous experts (h(c·η) = c·h(η) for c > 0): ReLU, affine, constant.  Their
 * split atoms are identified only through the products weight · η (docs/theory.md §8). */
static inline int ml_expert_homogeneous(moelab_expert e, int degree) {
  return e == MOELAB_EXPERT_RELU || e == MOELAB_EXPERT_CONSTANT || ml_expert_affine(e, degree);
}

/* ---- the shape of a model: everything the kernels need but the parameters ---- */

typedef struct ml_shape {
  moelab_gate gate;
  moelab_expert expert;
  int degree;
  size_t d, k, q, stride, p;
} ml_shape;

ml_shape ml_shape_of(const moelab_model *m);
/* Fills the shape for (gate, expert, degree, d, k). */
ml_shape ml_shape_make(moelab_gate gate, moelab_expert expert, int degree, size_t d, size_t k);

/*
 * The model kernel (kernel.c).  Rows are evaluated ML_LANES at a time; a row's
 * results never depend on its position in the batch.
 */
#define ML_LANES 8

/* Where ml_eval writes, for rows r < n (any pointer may be NULL):
 *   f[r]                   f(x_r)
 *   J[j*js + r*rs]         ∂f(x_r)/∂θ_j, j < p
 *   C[t*cs + r*crs]        second-order coefficient t < ml_hess_ntypes (below)
 *   G[i*gs + r*grs]        g_i(x_r);  H[i*gs + r*grs]: h(x_r, η_i), i < k
 * Row-major J is js = 1, rs = ldj; the fitter's column-major blocks are
 * js = block length, rs = 1. */
typedef struct ml_eval_out {
  double *f;
  double *J;
  size_t js, rs;
  double *C;
  size_t cs, crs;
  double *G, *H;
  size_t gs, grs;
  /* The acceleration term without J or C leaving the kernel: with v (θ-space, p) given,
   * vacc[j*ML_LANES + l] += Σ_r ∂f(x_r)/∂θ_j · ω_r · vᵀ∇²f(x_r)v over the rows r ≡ l (mod
   * ML_LANES) of each tile, ω_r = wv[r] (or 1 when wv is NULL); vacc (p ML_LANES) is the caller's. */
  const double *v;
  double *vacc;
  const double *wv;
} ml_eval_out;

/* Scratch doubles ml_eval (and ml_eval_rows) need: L (d + 10k + 9). */
size_t ml_eval_work(const ml_shape *s);

/* G[a][b] += Σ_r A[a][r] A[b][r] for a <= b < q: the upper triangle of A Aᵀ, A q × m
 * (row-major, leading dimension m), G q × q row-major.  A fixed summation order. */
void ml_gram(size_t q, size_t m, const double *A, double *G);

/* p rounded up to a multiple of 64 bytes (allocate 8 doubles more). */
double *ml_align64(double *p);

/* Evaluates rows r < n of X (n×d, row-major) at theta (shape s) into o.
 * work: ml_eval_work(s) doubles. */
void ml_eval(const ml_shape *s, const double *theta, const double *X, size_t n, const ml_eval_out *o,
             double *work);

/*
 * The row-major forms of ml_eval.  For rows r < n of X (n×d, row-major) and
 * parameters theta (shape s):
 *   f[r]            = f(x_r)                         (f may be NULL)
 *   J[r*ldj + j]    = ∂f(x_r)/∂theta_j, j < s->p     (J may be NULL)
 *   G[r*k + i], H[r*k + i] = g_i(x_r), h(x_r, η_i)    (either may be NULL)
 * work: ml_eval_work(s) doubles.
 */
void ml_eval_rows(const ml_shape *s, const double *theta, const double *X, size_t n, double *f, double *J,
                  size_t ldj, double *G, double *H, double *work);

/*
 * Second-order terms (for the geodesic acceleration of the fitter).  The
 * Hessian of f at a row in the scores z_i and u_i has ml_hess_ntypes(s)
 * distinct coefficients
 *   sigmoid: zz_i, zu_i, uu_i (i < k)                       3k types
 *   softmax: zz_ij (i <= j, packed), zu_ij (all i, j), uu_i  k(k+1)/2 + k² + k
 * where z_i = β0_i + β1_iᵀx, u_i = a_iᵀx + b_i (for constant experts u_i
 * stands for c_i).  ml_eval writes them to ml_eval_out.C.
 */
size_t ml_hess_ntypes(const ml_shape *s);
/* Index of type zz_ij (i <= j), zu_ij, uu_i in the coefficient vector. */
size_t ml_hess_zz(const ml_shape *s, size_t i, size_t j);
size_t ml_hess_zu(const ml_shape *s, size_t i, size_t j);
size_t ml_hess_uu(const ml_shape *s, size_t i);


/* ---- random streams (rng.c) ---- */

/* A new Philox generator keyed by (seed, stream); NULL if out of memory.
 * Free with gsl_rng_free. */
gsl_rng *ml_rng_alloc(uint64_t seed, uint64_t stream);

/* ---- numbers (io.c) ---- */

/*
 * Parses a whole string as a finite double (surrounding blanks allowed).
 * Returns 0 on success, 1 if it is empty, 2 if not a number, 3 if NaN or Inf.
 */
int ml_parse_double(const char *s, double *out);

/* ---- input laws (simulate.c) ---- */

/* Checks a law's parameters (length d).  `what` names the field in messages. */
int ml_input_check(const moelab_input *law, size_t d, const char *file, const char *what, moelab_error *err);


/* ---- files (json.c) ---- */

struct cJSON;
/* Compact JSON text of a cJSON value with every number written so that it
 * reads back to the same double; a new string (free), NULL if out of memory. */
char *ml_json_exact_text(const struct cJSON *item);

/* Reads a whole file (at most MOELAB_MAX_JSON bytes) into a new NUL-terminated
 * buffer *text of *len bytes.  Errors: MOELAB_EIO, MOELAB_ELIMIT, MOELAB_ENOMEM. */
int ml_read_text_file(const char *path, char **text, size_t *len, moelab_error *err);

/* ---- parameter names (model.c) ---- */

/* "atoms[i].beta0", "atoms[i].beta1[j]" or "atoms[i].eta[j]" for parameter j
 * of shape s, into buf (>= 48 bytes).  Returns buf. */
char *ml_param_name(const ml_shape *s, size_t j, char *buf, size_t size);

/* ---- quadrature rules for μ (l2.c) ---- */

/* Nodes X (n × d) and weights w (n, summing to about 1) of a rule for E_μ. */
typedef struct ml_quad {
  size_t n, d;
  double *X, *w;
} ml_quad;

/*
 * A rule for μ (length-d parameters) suited to the models given (their ReLU
 * kinks split the pieces, d = 1): Gauss–Legendre with `nodes` points per piece
 * and the support cut into `pieces` equal parts (d = 1), Gauss–Hermite for a
 * normal law without kinks and pieces <= 1, or `qmc_points` Sobol points
 * (d > 1).  Errors: MOELAB_ENOMEM.
 */
int ml_quad_build(const moelab_input *mu, size_t d, const moelab_model *const *models, size_t nm, size_t nodes,
                  size_t pieces, size_t qmc_points, ml_quad *q);
void ml_quad_free(ml_quad *q);
/* contrib[i] = ‖g_i h_i‖_{L²(μ)} by the rule q.  Errors: MOELAB_ENOMEM. */
int ml_contributions(const moelab_model *m, const ml_quad *q, double *contrib);

#endif
