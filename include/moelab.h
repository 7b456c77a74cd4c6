/*
 * moelab.h — the public interface of libmoelab.
 *
 * Mixture-of-experts (MoE) regression with sigmoid and softmax gating:
 * models, simulation, file formats and (in later sections) fitting, Voronoi
 * losses and convergence-rate studies.  The mathematics is documented in
 * docs/theory.md; file formats in docs/file-formats.md.
 *
 * Conventions that hold for every function below:
 *  - Fallible functions return a moelab_status (MOELAB_OK == 0 on success)
 *    and write results only through out-parameters.  On failure the
 *    out-parameters are left untouched unless stated otherwise.
 *  - The last argument `err` is optional (NULL allowed).  When given, it is
 *    filled with the status, a message and, for bad input, the file, line and
 *    field that caused the failure.
 *  - Objects come in _new/_free pairs; every _free accepts NULL.
 *  - Arrays are row-major.  "n×d" means n rows of d doubles each.
 *  - The library never prints, never exits and keeps no global mutable state.
 *    It uses GSL: applications should call gsl_set_error_handler_off() once
 *    (GSL's default handler aborts on allocation failure); every GSL status is
 *    checked by the library.
 */
#ifndef MOELAB_H
#define MOELAB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#ifdef MOELAB_HAVE_MPI
#include <mpi.h> /* moelab_study_run_mpi (built with -DMOELAB_MPI=ON) */
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MOELAB_BUILDING) && defined(__GNUC__)
#define MOELAB_API __attribute__((visibility("default")))
#else
#define MOELAB_API
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

#define MOELAB_VERSION_MAJOR 0
#define MOELAB_VERSION_MINOR 1
#define MOELAB_VERSION_PATCH 0
#define MOELAB_VERSION_STRING "0.1.0"
/* Incremented whenever a public declaration changes incompatibly. */
#define MOELAB_API_VERSION 1

/* The library's version string, e.g. "0.1.0" (static storage). */
MOELAB_API const char *moelab_version(void);
/* The API version the library was built with (compare to MOELAB_API_VERSION). */
MOELAB_API int moelab_api_version(void);

/* ------------------------------------------------------------------------ */
/* Limits (documented in docs/limits.md); beyond them: MOELAB_ELIMIT          */
/* ------------------------------------------------------------------------ */

#define MOELAB_MAX_D 1000          /* input dimension */
#define MOELAB_MAX_K 100           /* atoms (experts) */
#define MOELAB_MAX_DEGREE 16       /* degree of the poly expert */
#define MOELAB_MAX_LINE 1048576    /* bytes in one CSV line */
#define MOELAB_MAX_JSON 67108864   /* bytes in one JSON file (64 MiB) */
#define MOELAB_MAX_ROWS 2000000000 /* rows of one data set */

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                   */
/* ------------------------------------------------------------------------ */

typedef enum moelab_status {
  MOELAB_OK = 0,
  MOELAB_EINVAL = 1,   /* an argument or option is invalid */
  MOELAB_EPARSE = 2,   /* an input file is malformed */
  MOELAB_EIO = 3,      /* a file could not be read or written */
  MOELAB_ENOMEM = 4,   /* an allocation failed */
  MOELAB_ENUMERIC = 5, /* a computation produced NaN/Inf or failed numerically */
  MOELAB_ELIMIT = 6,   /* a documented limit was exceeded */
  MOELAB_EINTR = 7,    /* interrupted on request */
  MOELAB_ENOTFOUND = 8 /* a named item (file, preset, column) does not exist */
} moelab_status;

/* A short English description of `status` (static storage, never NULL). */
MOELAB_API const char *moelab_status_str(int status);

#define MOELAB_ERRMSG_MAX 512
#define MOELAB_ERRFILE_MAX 512
#define MOELAB_ERRFIELD_MAX 128

/*
 * Error details.  `file` is empty and `line` is 0 when the error is not tied
 * to a location; `field` names the offending field (a CSV column, a JSON path
 * such as "atoms[1].eta", an option) or is empty.
 */
typedef struct moelab_error {
  int status;
  char message[MOELAB_ERRMSG_MAX];
  char file[MOELAB_ERRFILE_MAX];
  long line;
  char field[MOELAB_ERRFIELD_MAX];
} moelab_error;

/* Resets `err` to MOELAB_OK with empty strings.  NULL is a no-op. */
MOELAB_API void moelab_error_clear(moelab_error *err);

/*
 * Formats `err` as "FILE:LINE: field 'F': MESSAGE" (omitting the parts that
 * are empty) into `buf` of `size` bytes (always NUL-terminated when size > 0).
 * Returns the number of characters that the full text has (as snprintf).
 */
MOELAB_API int moelab_error_format(const moelab_error *err, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Random streams                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Every random stream of moelab is keyed by (seed, stream): a counter-based
 * Philox4x64-10 generator (Random123) whose key is the pair, exposed as a GSL
 * generator so all of GSL's variates can be drawn from it.  The same key gives
 * the same numbers on every machine, thread count and process layout.
 *
 * moelab_rng_new: allocates a generator for key (seed, stream).  The result
 * is a `gsl_rng *` (declared here as void * so that this header does not need
 * GSL's); free it with moelab_rng_free.  Errors: MOELAB_ENOMEM.
 */
MOELAB_API int moelab_rng_new(uint64_t seed, uint64_t stream, void **rng, moelab_error *err);
MOELAB_API void moelab_rng_free(void *rng);

/* ------------------------------------------------------------------------ */
/* Models                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum moelab_gate { MOELAB_GATE_SIGMOID = 0, MOELAB_GATE_SOFTMAX = 1 } moelab_gate;

typedef enum moelab_expert {
  MOELAB_EXPERT_RELU = 0,     /* max(aᵀx + b, 0) */
  MOELAB_EXPERT_GELU = 1,     /* z Φ(z), z = aᵀx + b, exact erf form */
  MOELAB_EXPERT_LINEAR = 2,   /* aᵀx + b */
  MOELAB_EXPERT_POLY = 3,     /* (aᵀx + b)^p, p = degree >= 1 */
  MOELAB_EXPERT_CONSTANT = 4, /* c */
  MOELAB_EXPERT_SIGMOID = 5,  /* 1 / (1 + exp(-(aᵀx + b))) */
  MOELAB_EXPERT_TANH = 6      /* tanh(aᵀx + b) */
} moelab_expert;

typedef enum moelab_law {
  MOELAB_LAW_UNIFORM = 0, /* uniform on the box [low, high] */
  MOELAB_LAW_NORMAL = 1,  /* independent N(mean_j, sd_j²) coordinates */
  MOELAB_LAW_GRID = 2     /* d = 1: n evenly spaced points low..high (as a law: uniform) */
} moelab_law;

/* Names <-> enums.  _name returns static storage ("?" for an unknown value);
 * _parse returns MOELAB_EINVAL for an unknown name. */
MOELAB_API const char *moelab_gate_name(moelab_gate gate);
MOELAB_API const char *moelab_expert_name(moelab_expert expert);
MOELAB_API const char *moelab_law_name(moelab_law law);
MOELAB_API int moelab_gate_parse(const char *name, moelab_gate *gate);
MOELAB_API int moelab_expert_parse(const char *name, moelab_expert *expert);
MOELAB_API int moelab_law_parse(const char *name, moelab_law *law);

/*
 * Number of expert parameters per atom: 1 for constant, d + 1 (a_1..a_d, b)
 * for every other family.
 */
MOELAB_API size_t moelab_expert_nparams(moelab_expert expert, size_t d);

/*
 * The input law μ of a model: `a` holds the lows (uniform, grid) or means
 * (normal), `b` the highs or standard deviations; each of length d.
 */
typedef struct moelab_input {
  moelab_law law;
  double *a;
  double *b;
} moelab_input;

/*
 * A k-atom mixture of experts
 *
 *     f(x) = Σ_i g_i(x) h(x, η_i),
 *
 * sigmoid gate g_i(x) = σ(β1_iᵀx + β0_i), softmax gate
 * g_i(x) = exp(β1_iᵀx + β0_i) / Σ_j exp(β1_jᵀx + β0_j).
 *
 * Parameter ordering (used by `theta`, by every Jacobian and by the fitter):
 * atom-major, atom i occupies theta[i*stride .. (i+1)*stride - 1] as
 *     β0_i, β1_i[0..d-1], η_i[0..q-1]
 * with η = (a[0..d-1], b) for every family but constant, whose η = (c).
 * stride = 1 + d + q; p = k * stride parameters in all.
 *
 * The struct is transparent for reading; create it with moelab_model_new and
 * change parameters only through `theta`.  `extra` is NULL or a JSON object
 * text holding the unknown top-level members of the file the model was read
 * from (for example a fit report), written back verbatim by the writers.
 */
typedef struct moelab_model {
  moelab_gate gate;
  moelab_expert expert;
  int degree;      /* poly only; 1 for every other family */
  size_t d;        /* input dimension >= 1 */
  size_t k;        /* atoms >= 1 */
  size_t q;        /* expert parameters per atom */
  size_t stride;   /* parameters per atom: 1 + d + q */
  size_t p;        /* k * stride */
  double *theta;   /* p parameters, ordering above */
  int has_input;   /* 1 if `input` holds a simulation law */
  moelab_input input;
  int has_noise;   /* 1 if `noise` holds the noise variance ν */
  double noise;
  char *extra;
} moelab_model;

/*
 * moelab_model_new: a model with all parameters zero, no input law and no
 * noise.  `degree` matters only for MOELAB_EXPERT_POLY (1..MOELAB_MAX_DEGREE);
 * pass 1 otherwise.  Owns its arrays; free with moelab_model_free.
 * Errors: MOELAB_EINVAL (d < 1, k < 1, unknown gate/expert, degree out of
 * range), MOELAB_ELIMIT (d > MOELAB_MAX_D, k > MOELAB_MAX_K), MOELAB_ENOMEM.
 */
MOELAB_API int moelab_model_new(moelab_gate gate, moelab_expert expert, int degree, size_t d, size_t k,
                                moelab_model **model, moelab_error *err);
MOELAB_API void moelab_model_free(moelab_model *model);
/* Deep copy of `src` into a new model *out.  Errors: MOELAB_ENOMEM. */
MOELAB_API int moelab_model_copy(const moelab_model *src, moelab_model **out, moelab_error *err);

/*
 * Sets the model's input law: `a` and `b` are arrays of length model->d
 * (copied).  Errors: MOELAB_EINVAL (low >= high, sd <= 0, non-finite values,
 * grid with d != 1).
 */
MOELAB_API int moelab_model_set_input(moelab_model *model, moelab_law law, const double *a, const double *b,
                                      moelab_error *err);
/* Sets the noise variance ν >= 0.  Errors: MOELAB_EINVAL (negative or not finite). */
MOELAB_API int moelab_model_set_noise(moelab_model *model, double noise, moelab_error *err);
/* Replaces `extra` by a copy of `json_object_text` (NULL clears).  Errors:
 * MOELAB_EINVAL (not a JSON object), MOELAB_ENOMEM. */
MOELAB_API int moelab_model_set_extra(moelab_model *model, const char *json_object_text, moelab_error *err);

/* Checks that every parameter is finite.  Errors: MOELAB_ENUMERIC with the
 * field ("atoms[i].beta0" ...) of the first bad parameter. */
MOELAB_API int moelab_model_validate(const moelab_model *model, moelab_error *err);

/*
 * Evaluates f(x) at n rows of X (n×d) into yhat (n).  Gates use a stable
 * logistic and a log-sum-exp softmax, so scores up to ±1e300 neither overflow
 * nor give NaN.  Runs on up to `threads` OpenMP threads (0 = the OpenMP
 * default); the result does not depend on the thread count.
 * Errors: MOELAB_EINVAL (NULL arrays with n > 0).
 */
MOELAB_API int moelab_model_predict(const moelab_model *model, const double *X, size_t n, double *yhat,
                                    int threads, moelab_error *err);

/*
 * Per-atom values at n rows of X (n×d): gates (n×k, g_i(x)) and experts
 * (n×k, h(x, η_i)); either output may be NULL.  Errors: MOELAB_EINVAL.
 */
MOELAB_API int moelab_model_components(const moelab_model *model, const double *X, size_t n, double *gates,
                                       double *experts, moelab_error *err);

/*
 * The analytic Jacobian of f with respect to theta at n rows of X (n×d):
 * J is n×p row-major, J[r*p + j] = ∂f(x_r)/∂theta_j in the parameter ordering
 * above; f (n) receives f(x_r) when not NULL.
 * ReLU kink: at aᵀx + b = 0 exactly the derivative of max(z, 0) is taken as
 * 0, the left one-sided derivative (the function value is 0 there either way).
 * Errors: MOELAB_EINVAL.
 */
MOELAB_API int moelab_model_jacobian(const moelab_model *model, const double *X, size_t n, double *f, double *J,
                                     moelab_error *err);

/* ------------------------------------------------------------------------ */
/* Data                                                                       */
/* ------------------------------------------------------------------------ */

/* A borrowed view of a data set: X is n×d, y has n entries or is NULL. */
typedef struct moelab_data_view {
  size_t n;
  size_t d;
  const double *X;
  const double *y;
} moelab_data_view;

/*
 * An owned data set.  `names` holds the d input column names followed by the
 * output's name (d + 1 strings, owned).  y is NULL when the data has no output.
 */
typedef struct moelab_data {
  size_t n;
  size_t d;
  double *X;
  double *y;
  char **names;
} moelab_data;

/* A data set of n rows with zeroed values, names "x1".."xd" and "y"; y is
 * allocated when with_y != 0.  Errors: MOELAB_EINVAL (d < 1), MOELAB_ELIMIT,
 * MOELAB_ENOMEM. */
MOELAB_API int moelab_data_new(size_t n, size_t d, int with_y, moelab_data **data, moelab_error *err);
MOELAB_API void moelab_data_free(moelab_data *data);
/* A view of `data` (borrowing its arrays). */
MOELAB_API moelab_data_view moelab_data_as_view(const moelab_data *data);

/* ------------------------------------------------------------------------ */
/* Simulation                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Draws n inputs from `law` (with parameters a, b of length d) into X (n×d)
 * using the random stream (seed, stream).  The grid law is deterministic:
 * x_r = low + (high - low) r / (n - 1) (the midpoint when n = 1).
 * Errors: MOELAB_EINVAL, MOELAB_ENOMEM.
 */
MOELAB_API int moelab_draw_inputs(const moelab_input *law, size_t d, size_t n, uint64_t seed, uint64_t stream,
                                  double *X, moelab_error *err);

/*
 * Simulates n samples Y = f(X) + ε, ε ~ N(0, ν), X ~ the model's input law,
 * ν the model's noise (0 if absent).  Inputs are drawn from the stream
 * (seed, 2*stream) and noise from (seed, 2*stream + 1), so X and ε are
 * independent streams that other gates can share (matched protocol).
 * `law` overrides the model's input law when not NULL.  Returns a new data
 * set with y.  Errors: MOELAB_EINVAL (no input law, n < 1), MOELAB_ELIMIT,
 * MOELAB_ENOMEM.
 */
MOELAB_API int moelab_simulate(const moelab_model *model, const moelab_input *law, size_t n, uint64_t seed,
                               uint64_t stream, moelab_data **data, moelab_error *err);

/* ------------------------------------------------------------------------ */
/* L²(μ) distances                                                            */
/* ------------------------------------------------------------------------ */

typedef struct moelab_l2_options {
  size_t nodes;      /* d = 1: Gauss nodes per piece (0 = default 64) */
  size_t qmc_points; /* d > 1: Sobol points (0 = default 65536) */
} moelab_l2_options;

/*
 * ‖f_a − f_b‖_{L²(μ)} = sqrt(E_μ (f_a(X) − f_b(X))²) for two models with the
 * same d (b may be NULL: then ‖f_a‖).  μ (length-d parameters):
 *  - d = 1, uniform or grid: Gauss–Legendre on [low, high], split at every
 *    ReLU kink of either model, `nodes` points per piece;
 *  - d = 1, normal: Gauss–Hermite with `nodes` points when no ReLU kink is
 *    present; otherwise Gauss–Legendre on mean ± 12 sd split at the kinks
 *    (the mass outside is below 1e-32);
 *  - d > 1: a Sobol sequence (GSL; Halton above 40 dimensions) of
 *    `qmc_points` points mapped to μ.
 * `abs_err` (optional) receives an estimate of the absolute error: the
 * difference between the result and the same rule at half the resolution.
 * Errors: MOELAB_EINVAL (d mismatch, bad law), MOELAB_ENOMEM.
 */
MOELAB_API int moelab_l2_distance(const moelab_model *a, const moelab_model *b, const moelab_input *mu,
                                  const moelab_l2_options *opt, double *dist, double *abs_err, moelab_error *err);


/* ------------------------------------------------------------------------ */
/* Least squares fitting                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Θ, the compact box of the least squares estimator, one interval per
 * parameter block.  Defaults (moelab_fit_options_init): [-10, 10] for every
 * block, the box of docs/theory.md §8.  Bounds are enforced by projection:
 * every iterate lies in Θ and a parameter can sit exactly on a bound; the
 * report lists the parameters that do.
 * Softmax: the gate parameters are fixed to the sum-to-zero gauge
 * (Σ_i β0_i = 0, Σ_i β1_i = 0); the box applies to atoms 1..k-1, and atom k's
 * gate parameters are minus their sum.
 */
typedef struct moelab_box {
  double beta0_lo, beta0_hi; /* gate intercepts β0 */
  double beta1_lo, beta1_hi; /* gate slopes β1 */
  double eta_lo, eta_hi;     /* expert parameters η (a, b or c) */
} moelab_box;

typedef enum moelab_init {
  MOELAB_INIT_RANDOM = 0, /* random atoms from the data's ranges, within Θ */
  MOELAB_INIT_KMEANS = 1, /* k-means clusters of (x, y) seed the experts and gates */
  MOELAB_INIT_MODEL = 2   /* a given model; atoms split when k is larger */
} moelab_init;

typedef enum moelab_stop {
  MOELAB_STOP_STATIONARY = 0, /* gradient <= gtol and Gauss–Newton decrement <= dtol · SSE */
  MOELAB_STOP_ZERO = 1,       /* the residuals are zero to rounding */
  MOELAB_STOP_FTOL = 2,       /* the objective stopped decreasing (ftol, 3 steps in a row) */
  MOELAB_STOP_XTOL = 3,       /* the step became negligible (xtol) */
  MOELAB_STOP_MAXITER = 4,    /* the iteration limit was reached */
  MOELAB_STOP_STALLED = 5,    /* no step decreased the objective, even at maximal damping */
  MOELAB_STOP_NUMERIC = 6,    /* the objective became NaN or infinite: the restart failed */
  MOELAB_STOP_INTERRUPTED = 7, /* the caller's stop flag was raised */
  MOELAB_STOP_NOISE = 8,       /* SSE fell by <= stat_tol · σ̂² over 10 lightly damped steps */
  MOELAB_STOP_KINK = 9         /* ReLU experts: SSE fell by <= kink_tol · SSE over 10 steps at a point whose
                                  gradient is within one row's term (stationary up to one kink crossing) */
} moelab_stop;

/* "stationary", "zero-residual", "ftol", "xtol", "max-iter", "stalled", "numeric", "interrupted",
 * "noise-level", "kink". */
MOELAB_API const char *moelab_stop_name(moelab_stop stop);

typedef struct moelab_fit_options {
  moelab_gate gate;
  moelab_expert expert;
  int degree;      /* poly only */
  size_t k;        /* atoms to fit */
  moelab_init init;
  const moelab_model *init_model; /* MOELAB_INIT_MODEL: the start (borrowed); same expert and d */
  double perturb;  /* relative perturbation of a model start and of split atoms (default 0.1) */
  size_t restarts; /* independent starts, each on its own random stream (default 1) */
  int threads;     /* OpenMP threads (0 = OpenMP default); results do not depend on it */
  uint64_t seed;   /* restart r draws from the stream (seed, stream_base + r) */
  uint64_t stream_base;
  size_t max_iter; /* per restart (default 1000) */
  double gtol;     /* stationary when ‖P∇L‖∞ <= gtol, L = Σ w r² / (2 W s), s = weighted variance of y (default 1e-8) */
  double dtol;     /* ... and the Gauss–Newton decrement gᵀ(JᵀJ)⁻¹g <= dtol · SSE on the free set (default 1e-12):
                      what a full Gauss–Newton step could still gain, relative to the objective */
  double ftol;     /* relative decrease of the objective counted as no progress (default 1e-15) */
  double stat_tol; /* > 0: also converged ("noise-level") when SSE fell by at most stat_tol · σ̂² over the last 10
                      accepted steps, all with little damping (μ <= 1e-2), σ̂² = SSE / (W - p_free): the
                      objective is stationary up to a negligible fraction of one observation's noise, as in the
                      flat valleys of over-specified fits (default 0: off) */
  double xtol;     /* relative step counted as negligible (default 1e-15) */
  moelab_box box;
  int accel;       /* geodesic acceleration of the Levenberg–Marquardt step (default 1) */
  const double *weights;          /* n non-negative observation weights, or NULL for 1 */
  const size_t *split;            /* MOELAB_INIT_MODEL with k > the start's k: the atoms to split, in order
                                     (indices into the growing list); NULL: split the heaviest atom each time */
  size_t nsplit;
  double split_fraction;          /* the weight fraction of the first copy of a split atom (default 1/2) */
  int compute_se;                 /* standard errors from σ̂² (JᵀJ)⁻¹ (default 1) */
  double se_rcond_min;            /* JᵀJ (unit-diagonal scaled) counts as singular below this rcond (1e-12) */
  const volatile sig_atomic_t *stop_flag; /* optional: when *stop_flag != 0 the fit stops (interrupted) */
  int newton;     /* 1: damped Newton steps on the full model JᵀJ + Σ w (f - y) ∇²f (the residual curvature
                     from the analytic second derivatives; damping raised until positive definite), without
                     geodesic acceleration; it sees the negative curvature that the Gauss–Newton model JᵀJ
                     cannot, so it can leave saddle points of over-specified fits.  Default 0: Gauss–Newton */
  double kink_tol; /* ReLU experts (SSE not differentiable where a sample sits on a kink, so the gradient test
                      cannot be met exactly): converged (stop "kink") when the last 10 accepted steps decreased SSE
                      by at most kink_tol · SSE together and the projected gradient is no larger than the largest
                      single-row gradient term (Clarke stationarity up to one kink crossing).  Before a ReLU fit
                      ends this way (or on xtol or ftol), the Levenberg–Marquardt steps a fresh start would try
                      from the point (μ = 1e-3·2^j, j = 0..30, fresh diag(JᵀJ) scaling) are evaluated, and the
                      fit goes on from the first that lowers SSE; one that lowers it by at most kink_tol · SSE
                      (a weak step) is taken only while each run from such a step gains more than kink_tol · SSE
                      before the fit next ends (docs/fitting.md, "Fresh-start steps").  Default 1e-10, the
                      relative decrease the stationarity check allows a generic solver restarted from the end
                      point; 0: off (no rule, no such steps: fits run until xtol, ftol or max_iter).  In [0, 1].
                      Reference fits (moelab_reference) always run with 0 */
} moelab_fit_options;

/* Fills `opt` with the defaults documented above (sigmoid gate, relu
 * experts, k = 2, random init, 1 restart, seed 0). */
MOELAB_API void moelab_fit_options_init(moelab_fit_options *opt);

/* One restart's outcome. */
typedef struct moelab_restart_info {
  double sse;        /* NaN when the restart failed */
  size_t iterations;
  moelab_stop stop;
  double grad_norm;
  double decrement;
  int converged;
} moelab_restart_info;

/*
 * The report of a fit.  Arrays are owned by the report; se and at_bound
 * have model->p entries in the parameter ordering of moelab_model.
 */
typedef struct moelab_fit_report {
  size_t n;              /* rows */
  size_t d, k;           /* input dimension, atoms */
  size_t p;              /* parameters of the model */
  size_t p_free;         /* free parameters (p minus the softmax gauge) */
  double sse;            /* Σ w (y - f)² of the best restart */
  double mse;            /* sse / W, W = Σ w (= n without weights) */
  double grad_norm;      /* ‖P∇L‖∞ at the returned point (see gtol) */
  double decrement;      /* Gauss–Newton decrement / SSE at the returned point (see dtol) */
  size_t iterations;     /* of the best restart */
  moelab_stop stop;
  int converged;         /* stationary (grad_norm <= gtol and decrement <= dtol), zero residual, noise-level,
                            or (ReLU) kink-stationary: stop "kink", or xtol/ftol/stalled with the gradient
                            within one row's term */
  size_t restarts;
  size_t restarts_converged;
  size_t restarts_failed;
  size_t best_restart;
  double seconds;        /* wall time of the whole fit */
  int se_available;      /* 1 when JᵀJ was well conditioned */
  double rcond;          /* reciprocal condition number of the scaled JᵀJ on the free parameters */
  double sigma2;         /* σ̂² = sse / (W - p_free) when W > p_free */
  double *se;            /* standard errors (NaN where not available) */
  int *at_bound;         /* -1 on the lower bound, +1 on the upper, 0 inside */
  size_t n_at_bound;
  moelab_restart_info *restart; /* `restarts` entries */
} moelab_fit_report;

MOELAB_API void moelab_fit_report_free(moelab_fit_report *report);

/*
 * Least squares fit Ĝ = argmin Σ_i w_i (y_i - f_G(x_i))² over k-atom models
 * with parameters in Θ: a projected Levenberg–Marquardt method on the normal
 * equations with the analytic Jacobian, JᵀJ and Jᵀr accumulated in row blocks
 * (memory O(p² + block·p), never the n×p Jacobian).  `restarts` starts run in
 * parallel; the smallest objective wins (ties: the lowest restart index), so
 * the result is identical for any thread count.
 *
 * data: n >= 1 rows with y.  On success *model is a new model (caller frees)
 * carrying the fit report and options in its `extra` member, and *report
 * (optional, caller frees) the report.  A fit that ends without meeting gtol
 * is still returned, with converged = 0.
 * Errors: MOELAB_EINVAL (bad options, no y, weights < 0, model start of
 * another family or d, k smaller than the start's k, fewer rows than free
 * parameters),
 * MOELAB_ENUMERIC (every restart failed: NaN/Inf), MOELAB_EINTR (stopped
 * before any restart finished), MOELAB_ENOMEM.
 */
MOELAB_API int moelab_fit(const moelab_data_view *data, const moelab_fit_options *opt, moelab_model **model,
                          moelab_fit_report **report, moelab_error *err);

/*
 * The report as a JSON object text (new string, free with free()), the
 * "fit" member of fitted model files, with the options used.
 */
MOELAB_API int moelab_fit_report_json(const moelab_fit_report *report, const moelab_fit_options *opt,
                                      char **text, moelab_error *err);

/* Choosing k. */
typedef enum moelab_select { MOELAB_SELECT_BIC = 0, MOELAB_SELECT_CV = 1 } moelab_select;

typedef struct moelab_select_row {
  size_t k;
  double sse, mse;
  size_t p_free;
  double bic;    /* n log(SSE/n) + p_free log n (unweighted) */
  double cv_mse; /* mean held-out MSE over the folds (NaN unless CV) */
  int converged;
} moelab_select_row;

/*
 * Fits k = k_min..k_max (opt->k is ignored) and selects k by BIC, or by
 * `folds`-fold cross-validated MSE (folds from a permutation of the rows
 * drawn from stream (opt->seed, 2^62)).  rows (k_max - k_min + 1 entries,
 * caller-provided) receive the table; *best_k the choice; *model (optional)
 * the fit with the chosen k on all the data.  Errors: as moelab_fit.
 */
MOELAB_API int moelab_select_k(const moelab_data_view *data, const moelab_fit_options *opt, size_t k_min,
                               size_t k_max, moelab_select rule, size_t folds, moelab_select_row *rows,
                               size_t *best_k, moelab_model **model, moelab_error *err);


/* ------------------------------------------------------------------------ */
/* Voronoi losses and expert-rate measures (docs/theory.md §5)                */
/* ------------------------------------------------------------------------ */

/*
 * Voronoi cells of a fitted measure G (k atoms) against a reference G°
 * (k0 atoms): cell[i] = the reference atom j nearest to fitted atom i in
 * θ = (β1, η) (β0 excluded), Euclidean; a tie goes to the smallest j.
 * The models need the same d and expert family.  Errors: MOELAB_EINVAL.
 */
MOELAB_API int moelab_voronoi_cells(const moelab_model *fit, const moelab_model *ref, size_t *cell,
                                    moelab_error *err);

typedef enum moelab_loss_kind {
  MOELAB_LOSS_D1 = 0,  /* D_r with r = 2 */
  MOELAB_LOSS_D2 = 1,  /* D_r with a chosen r ("D2:r") */
  MOELAB_LOSS_D3 = 2,  /* against Ḡ: every cell at power 1 (one atom per cell when the cells are singletons) */
  MOELAB_LOSS_LBAR = 3 /* L̄: against G* plus switched-off atoms */
} moelab_loss_kind;

typedef struct moelab_loss_spec {
  moelab_loss_kind kind;
  double r;                /* D2 only (> 0) */
  int translate;           /* softmax: minimise over a common (t0, t1) of the fitted gate parameters (default 1) */
  const moelab_input *mu;  /* L̄: the law for the contributions ‖g_i h_i‖ (NULL: the reference's, else the fit's) */
} moelab_loss_spec;

/* "D1", "D2:r", "D3", "Lbar" -> spec (translate = 1, mu = NULL).  Errors: MOELAB_EINVAL. */
MOELAB_API int moelab_loss_parse(const char *name, moelab_loss_spec *spec, moelab_error *err);
/* The canonical name of spec ("D1", "D2:1.5", "D3", "Lbar") into buf (>= 32 bytes). */
MOELAB_API char *moelab_loss_name(const moelab_loss_spec *spec, char *buf);

/*
 * The loss and its parts.  For D1, D2, D3 (w = σ(β0) sigmoid, exp(β0) softmax):
 *   mass  = Σ_j |Σ_{i∈A_j} w_i - w°_j|
 *   exact = Σ_{j: |A_j| = 1} Σ_{i∈A_j} w_i (‖Δβ1_ij‖ + ‖Δη_ij‖)
 *   over  = Σ_{j: |A_j| > 1} Σ_{i∈A_j} w_i (‖Δβ1_ij‖^r + ‖Δη_ij‖^r)     (D3: r = 1)
 * For L̄: the k - k0 fitted atoms with the smallest contributions c_i =
 * ‖g_i h_i‖_{L²(μ)} are switched off, the others matched one-to-one to the
 * reference atoms by the assignment minimising Σ ‖θ_i - θ°_j‖;
 *   mass  = Σ_matched |w_i - w°_j|,  exact = Σ_matched (‖Δβ1‖ + ‖Δη‖),
 *   over  = Σ_off c_i.
 * Expert-rate measures, per reference atom j (NaN for an empty cell):
 *   e_j = sqrt(Σ_{A_j} w_i (‖Δβ1_ij‖² + ‖Δη_ij‖²) / Σ_{A_j} w_i),
 *   e_max_j = max_{i∈A_j} (‖Δβ1_ij‖ + ‖Δη_ij‖);
 * rate_all / rate_exact / rate_over = max_j e_j over all / one-atom /
 * several-atom cells, rate_all_unweighted = max_j e_max_j.
 * canonical: for relu, linear (poly of degree 1) and constant experts, the
 * loss with each cell whose reference slope β1°_j is 0 scored on the
 * identified products v_i = w_i η_i (docs/theory.md §5, "homogeneous
 * experts"); NaN for the other families.  Softmax: every quantity is taken
 * at the translation (t0, t1) that minimises the loss (GSL's Nelder–Mead
 * simplex, nmsimplex2, from two starts), reported in t0, t1.
 */
typedef struct moelab_loss_result {
  moelab_loss_spec spec;
  double value, mass, exact, over;
  double canonical;
  size_t k, k0, d;
  size_t *cell;         /* k entries: the reference atom of each fitted atom; SIZE_MAX: switched off (L̄) */
  double *contribution; /* k entries: c_i (L̄ only, else NULL) */
  double *e, *e_max;    /* k0 entries */
  double rate_all, rate_exact, rate_over, rate_all_unweighted;
  size_t empty_cells;
  double t0;
  double *t1;           /* d entries (zeros unless softmax) */
  const char *minimiser; /* "none" or "nmsimplex2" (static storage) */
} moelab_loss_result;

/*
 * Computes the loss `spec` of fit against ref into a new result (free with
 * moelab_loss_result_free).  Both models need the same gate, expert family
 * and d; L̄ needs k >= k0 and an input law.  Errors: MOELAB_EINVAL,
 * MOELAB_ENOMEM.
 */
MOELAB_API int moelab_loss(const moelab_model *fit, const moelab_model *ref, const moelab_loss_spec *spec,
                           moelab_loss_result **out, moelab_error *err);
MOELAB_API void moelab_loss_result_free(moelab_loss_result *r);
/* The result as one JSON object text (new string; free()). */
MOELAB_API int moelab_loss_result_json(const moelab_loss_result *r, char **text, moelab_error *err);

/* ------------------------------------------------------------------------ */
/* The reference measure Ḡ (docs/theory.md §3, §6)                           */
/* ------------------------------------------------------------------------ */

typedef enum moelab_ref_rule {
  MOELAB_REF_LOCAL = 0, /* from the study's start: the truth with atoms split, `restarts` perturbed starts */
  MOELAB_REF_GLOBAL = 1 /* the local starts plus `restarts` random and k-means starts: the best of all */
} moelab_ref_rule;

typedef struct moelab_reference_options {
  size_t k;
  moelab_gate gate;      /* the gate of Ḡ (default: the truth's; softmax Ḡ of a sigmoid truth for same-data) */
  moelab_box box;
  moelab_ref_rule rule;
  double perturb;        /* of the split start (default 0.1) */
  double split_fraction; /* weight fraction of the first copy of a split atom (default 1/2) */
  const size_t *split;   /* atoms to split (NULL: the heaviest each time) */
  size_t nsplit;
  size_t restarts;       /* default 8 */
  uint64_t seed;
  int threads;
  size_t nodes, pieces;  /* d = 1 design: Gauss–Legendre nodes per piece (16), equal pieces (64) */
  size_t qmc_points;     /* d > 1 design: Sobol points (16384) */
  size_t max_iter;       /* default 5000 */
} moelab_reference_options;

MOELAB_API void moelab_reference_options_init(moelab_reference_options *opt);

typedef struct moelab_reference_report {
  size_t k, p;
  double distance;       /* ‖f_Ḡ - f_G*‖_{L²(μ)} (accurate quadrature) */
  double truth_norm;     /* ‖f_G*‖_{L²(μ)} */
  double *contribution;  /* k: ‖g_i h_i‖_{L²(μ)} */
  size_t switched_off;   /* atoms with contribution <= 1e-3 · ‖f_G*‖ (off, or as far off as Θ allows) */
  int *at_bound;         /* p: -1, 0, +1 */
  size_t n_at_bound;
  double eig[3];         /* the smallest eigenvalues of JᵀJ on the design, divided by the largest */
  size_t neig;
  int degenerate;        /* smallest <= 1e-10: a non-isolated minimum */
  int converged;
  double sse;            /* weighted objective on the design: ‖f_Ḡ - f_G*‖² by the design's rule */
  size_t design_points;
} moelab_reference_report;

MOELAB_API void moelab_reference_report_free(moelab_reference_report *r);

/*
 * Ḡ: a k-atom model in Θ minimising ‖f_G - f_G*‖_{L²(μ)} (μ: the truth's input
 * law), by the fitter on a fixed noiseless design (quadrature nodes with
 * their weights for d = 1, Sobol points for d > 1).  Deterministic.
 * Errors: MOELAB_EINVAL (no input law, k < the truth's k), MOELAB_ENUMERIC,
 * MOELAB_ENOMEM.
 */
MOELAB_API int moelab_reference(const moelab_model *truth, const moelab_reference_options *opt, moelab_model **gbar,
                                moelab_reference_report **report, moelab_error *err);
/* The report as a JSON object text (new string; free()). */
MOELAB_API int moelab_reference_report_json(const moelab_reference_report *r, char **text, moelab_error *err);

/* ------------------------------------------------------------------------ */
/* Empirical rates (docs/theory.md §6)                                        */
/* ------------------------------------------------------------------------ */

typedef struct moelab_rate_options {
  size_t bootstrap;  /* bootstrap resamples (default 2000) */
  uint64_t seed;     /* their random stream (seed, 2^61) */
  double level;      /* interval level (default 0.95) */
} moelab_rate_options;

MOELAB_API void moelab_rate_options_init(moelab_rate_options *opt);

typedef struct moelab_rate_result {
  size_t groups;                 /* distinct n */
  double *n, *mean, *sd;         /* per group, sorted by n */
  size_t *count;
  double slope, intercept;       /* log(mean) = intercept + slope · log n (OLS) */
  double ci_low, ci_high;        /* bootstrap percentile interval of the slope (replicates resampled within n) */
  double lambda, log_c;          /* log(mean) = log_c - lambda · log(log n) */
  double lambda_ci_low, lambda_ci_high;
  double rss_power, rss_log;     /* residual sums of squares of the two fits (log scale) */
  int prefer_log;                /* 1 when C (log n)^(-λ) describes the means better (smaller RSS) */
} moelab_rate_result;

/*
 * Fits the rate of `value` against `n` from rows (n_r, value_r) (replicates
 * are the rows sharing an n; values must be >= 0, and the mean at every n
 * > 0: exact zeros count towards the means).  Needs >= 2 distinct n.  A
 * bootstrap resample whose mean is 0 at some n has no slope and is left out
 * of the interval.
 * Errors: MOELAB_EINVAL (fewer than 2 groups, negative or non-finite values,
 * every value 0 at some n), MOELAB_ENOMEM.
 */
MOELAB_API int moelab_rate_fit(const double *n, const double *value, size_t rows, const moelab_rate_options *opt,
                               moelab_rate_result *out, moelab_error *err);
MOELAB_API void moelab_rate_result_clear(moelab_rate_result *r);
/* The n at which the fitted curve reaches eps: the power law, or (use_log)
 * the log-rate fit.  NaN when the curve does not decrease. */
MOELAB_API double moelab_rate_n_for(const moelab_rate_result *r, double eps, int use_log);


/* ------------------------------------------------------------------------ */
/* Studies (docs/studies.md)                                                  */
/* ------------------------------------------------------------------------ */

/* A study read from a study file (opaque). */
typedef struct moelab_study moelab_study;

/*
 * Reads a study file (JSON, docs/studies.md).  quick != 0 applies the file's
 * "quick" overrides (a smaller grid for a fast run).  `name` names the file
 * in errors.  Errors: MOELAB_EIO, MOELAB_EPARSE / MOELAB_EINVAL (with file,
 * line and JSON path), MOELAB_ELIMIT, MOELAB_ENOMEM.
 */
MOELAB_API int moelab_study_read_file(const char *path, int quick, moelab_study **study, moelab_error *err);
MOELAB_API int moelab_study_read_buffer(const char *text, size_t len, const char *name, int quick,
                                        moelab_study **study, moelab_error *err);
MOELAB_API void moelab_study_free(moelab_study *study);
/* The study's name and description (static for the study's lifetime). */
MOELAB_API const char *moelab_study_name(const moelab_study *study);
MOELAB_API const char *moelab_study_description(const moelab_study *study);
/* A 64-bit hash of the study file's content and the quick flag: shards and
 * resumed runs must carry the same one.  Hex into buf (>= 17 bytes). */
MOELAB_API char *moelab_study_hash(const moelab_study *study, char *buf);
/* Number of tasks (one fit each). */
MOELAB_API size_t moelab_study_ntasks(const moelab_study *study);

typedef struct moelab_study_progress {
  size_t done;      /* tasks finished in this run */
  size_t todo;      /* tasks this run will do */
  size_t skipped;   /* tasks found done in the results (resume) */
  size_t failed;    /* tasks whose fit failed (a row with NaN and the reason) */
  double seconds;   /* wall time since the run started */
  double cost_done, cost_todo; /* estimated cost (rows · iterations), for an ETA */
} moelab_study_progress;

typedef struct moelab_study_options {
  const char *out_dir;       /* results directory (created) */
  int threads;               /* tasks in parallel (0: OpenMP default) */
  int resume;                /* skip tasks already in results.csv */
  size_t shard_index, shard_count; /* run only shard i of N (N = 0 or 1: everything) */
  const volatile sig_atomic_t *stop_flag; /* stop starting tasks when set: in-flight tasks finish */
  void (*progress)(void *ctx, const moelab_study_progress *p); /* called after each task (serialised) */
  void *progress_ctx;
} moelab_study_options;

MOELAB_API void moelab_study_options_init(moelab_study_options *opt);

/*
 * Runs the study's tasks into out_dir: results.csv (one row per fit, appended
 * and flushed row by row), timings.csv (seconds per task, not part of the
 * results so that results are bitwise reproducible), manifest.json, and the
 * reference measures in out_dir/references/.  Every task has its own random
 * keys, so results are identical for any thread count and shard layout.
 * Errors: MOELAB_EIO, MOELAB_EINVAL (results of another study in out_dir,
 * results present without resume), MOELAB_EINTR (stopped: what finished is
 * written), MOELAB_ENOMEM.
 */
MOELAB_API int moelab_study_run(moelab_study *study, const moelab_study_options *opt, moelab_study_progress *stats,
                                moelab_error *err);

/*
 * Reads out_dir/results.csv and writes out_dir/summary.csv, summary.md and
 * the figure data and gnuplot scripts (figures/NAME.dat and .gp; the caller runs
 * gnuplot).  Errors: MOELAB_EIO, MOELAB_EPARSE, MOELAB_ENOMEM.
 */
MOELAB_API int moelab_study_summarise(const moelab_study *study, const char *out_dir, moelab_error *err);

/*
 * Merges the results directories of a study's shards (moelab_study_run with
 * shard_index/shard_count, one directory each, in any order) into out_dir.
 * The n directories must hold one study (the hash and quick flag of their
 * manifest.json, the same study.json), one shard layout N, every shard
 * 0..N-1 exactly once, and together every task of the study exactly once;
 * otherwise nothing is written and err names the directories and the missing
 * or duplicated shards and tasks (a few ids and a count).  Writes
 * out_dir/results.csv (the header, then every row byte for byte in task-list
 * order: equal to a single run's results after sorting), timings.csv (every
 * shard's), manifest.json (shard [0, 1]), study.json, references/ (the
 * shards' reference measures) and the summary of moelab_study_summarise (the
 * caller runs gnuplot).  Errors: MOELAB_EIO (a directory without
 * manifest.json, study.json or results.csv; writing), MOELAB_EPARSE (a
 * malformed manifest or row), MOELAB_EINVAL (the checks above; results
 * already in out_dir), MOELAB_ENOMEM.
 */
MOELAB_API int moelab_study_merge(const char *const *dirs, size_t n, const char *out_dir, moelab_error *err);

#ifdef MOELAB_HAVE_MPI
/*
 * moelab_study_run over the ranks of `comm` (built with -DMOELAB_MPI=ON;
 * collective: every rank calls it with the same study and options, after
 * MPI_Init_thread, MPI_THREAD_SERIALIZED for opt->threads > 1).  Rank 0
 * coordinates: it prepares out_dir as moelab_study_run does (manifest,
 * resume, shard), computes the reference measures, then hands out the tasks,
 * largest cost first, to whichever worker asks and appends each row it gets
 * back to results.csv (flushed row by row, so --resume works) and
 * timings.csv; only rank 0 calls opt->progress and watches opt->stop_flag.
 * Ranks 1.. run the tasks, opt->threads at once each (0: one), reading the
 * references from out_dir/references/ (a directory every rank sees, or they
 * are recomputed).  The results equal a single run's after sorting.  Every
 * rank returns the same status and error (a worker's prefixed "rank R:") and
 * rank 0's progress in *stats.  One rank: moelab_study_run.  Errors: as
 * moelab_study_run; MOELAB_EINVAL (MPI not initialised, a rank holds another
 * study).
 */
MOELAB_API int moelab_study_run_mpi(moelab_study *study, const moelab_study_options *opt, MPI_Comm comm,
                                    moelab_study_progress *stats, moelab_error *err);
#endif

/* ------------------------------------------------------------------------ */
/* Files                                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Model files (JSON, docs/file-formats.md).  _read_file reads `path`;
 * _read_buffer parses `len` bytes of `text`, naming them `name` in errors.
 * Errors: MOELAB_EIO (unreadable), MOELAB_EPARSE (invalid JSON, unknown
 * gate/family, wrong array lengths, non-finite numbers; err names the line
 * and the JSON path), MOELAB_EINVAL (k < 1, d < 1, negative noise ...),
 * MOELAB_ELIMIT, MOELAB_ENOMEM.
 */
MOELAB_API int moelab_model_read_file(const char *path, moelab_model **model, moelab_error *err);
MOELAB_API int moelab_model_read_buffer(const char *text, size_t len, const char *name, moelab_model **model,
                                        moelab_error *err);
/* Writes `model` as JSON to `fp`.  Doubles are written in the shortest form
 * that reads back bit for bit.  Errors: MOELAB_EIO, MOELAB_ENUMERIC (a
 * parameter is not finite). */
MOELAB_API int moelab_model_write(FILE *fp, const moelab_model *model, moelab_error *err);
/* The JSON text of `model` in a new string (*text, free with free()). */
MOELAB_API int moelab_model_to_string(const moelab_model *model, char **text, moelab_error *err);

/*
 * CSV data files: a header line then one row per sample.  By default the
 * input columns are the ones named x1..xd (in any order, all of them) and the
 * output is the column named y; other columns are ignored.  `x_names`
 * (nx names) and `y_name` select other columns.  Fields may be enclosed in
 * double quotes; no field may contain a comma.  Blank lines are skipped; CRLF
 * line ends are accepted.
 */
typedef struct moelab_csv_spec {
  const char *const *x_names; /* NULL: the x1..xd columns */
  size_t nx;
  const char *y_name;         /* NULL: "y" */
  size_t expect_d;            /* 0: any; else the number of inputs required */
  int require_y;              /* 1: the output column must be present */
} moelab_csv_spec;

/*
 * Reads a CSV stream `fp` named `name` (used in messages) into a new data set.
 * `spec` may be NULL (defaults above, y optional).  Streaming: memory is the
 * data itself plus one line.  Errors: MOELAB_EPARSE (empty file, bad header,
 * non-numeric, empty, NaN or Inf fields, ragged rows; err names the line and
 * column), MOELAB_ELIMIT (line longer than MOELAB_MAX_LINE, too many rows),
 * MOELAB_EIO, MOELAB_ENOMEM.
 */
MOELAB_API int moelab_csv_read(FILE *fp, const char *name, const moelab_csv_spec *spec, moelab_data **data,
                               moelab_error *err);
MOELAB_API int moelab_csv_read_file(const char *path, const moelab_csv_spec *spec, moelab_data **data,
                                    moelab_error *err);

/*
 * Generic CSV tables (for results files): a header of unique names, then rows
 * of fields kept as strings.  Same syntax rules as data files (commas, no
 * quoted commas, blank lines skipped, CRLF accepted).  Errors: MOELAB_EIO,
 * MOELAB_EPARSE (empty file, ragged row, duplicate or empty column name;
 * err names the line), MOELAB_ELIMIT, MOELAB_ENOMEM.
 */
typedef struct moelab_table {
  size_t ncol, nrow;
  char **names; /* ncol */
  char **cells; /* nrow × ncol, row-major */
  long *lines;  /* nrow: the line number of each row in the file */
} moelab_table;

MOELAB_API int moelab_table_read(FILE *fp, const char *name, moelab_table **table, moelab_error *err);
MOELAB_API int moelab_table_read_file(const char *path, moelab_table **table, moelab_error *err);
MOELAB_API void moelab_table_free(moelab_table *table);
/* The index of column `name`, or -1. */
MOELAB_API long moelab_table_column(const moelab_table *table, const char *name);

/*
 * Writes a CSV: the header "names[0..d-1]" (or x1..xd), then "y" when y is not
 * NULL, then one column per extra (extra_names[j], values extra[j][0..n-1]).
 * Doubles are written in the shortest round-trip form.  Errors: MOELAB_EIO.
 */
MOELAB_API int moelab_csv_write(FILE *fp, const moelab_data_view *view, const char *const *names, size_t nextra,
                                const char *const *extra_names, const double *const *extra, moelab_error *err);

/*
 * Writes `x` into buf (>= 32 bytes) in the shortest of %.15g, %.16g, %.17g
 * that reads back to the same double.  Non-finite values give "nan", "inf",
 * "-inf".  Returns buf.
 */
MOELAB_API char *moelab_format_double(double x, char *buf);

/*
 * Atomic output files: writes go to a temporary file in the same directory;
 * moelab_outfile_commit flushes, fsyncs and renames it over `path`, so a
 * crash never leaves a half-written result.  Path "-" writes to stdout
 * directly; a path naming an existing device, FIFO or socket (/dev/null,
 * /dev/stdout) is written in place, so it stays what it is.
 * moelab_outfile_free without a commit removes the temporary file.
 * Errors: MOELAB_EIO (cannot create, write, sync or rename), MOELAB_ENOMEM.
 */
typedef struct moelab_outfile moelab_outfile;
MOELAB_API int moelab_outfile_new(const char *path, moelab_outfile **out, moelab_error *err);
MOELAB_API FILE *moelab_outfile_stream(moelab_outfile *out);
MOELAB_API int moelab_outfile_commit(moelab_outfile *out, moelab_error *err);
MOELAB_API void moelab_outfile_free(moelab_outfile *out);

#ifdef __cplusplus
}
#endif
#endif /* MOELAB_H */
