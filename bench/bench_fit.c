/*
 * bench_fit.c — the fitter's figures: time per iteration, iterations per
 * fit, total fit time and convergence for d in {1, 4, 16}, k = 3 (sigmoid
 * gate; ReLU experts, and GELU for d = 1), n in {1e3, 1e4, 1e5, 1e6}; the
 * GFLOP/s of the JᵀJ accumulation (dsyrk over FIT_BLOCK-row blocks, two
 * layouts) next to the machine's dgemm; peak memory next to the size of the
 * data; the per-row cost of the model kernels.
 *
 * Every fit: data simulated from the 2-atom truth of bench_common.h (noise
 * variance 1e-2, X ~ U[-1,1]^d), k = 3 from a near-truth start (the truth,
 * its heaviest atom split, perturb 0.1), 1 restart, threads = 1, OpenBLAS on
 * one thread.  Each case runs in its own child process, so its peak memory
 * (ru_maxrss) is its own.  Times are medians over repetitions of the same fit.
 *
 * Usage: bench_fit [--quick] [--max-n N] [--cap M | --full] [--only D:EXPERT:N] [--dgemm-n N] [--no-fork]
 *                  [--kink-tol T] [--no-accel]
 * (bench_fit --help explains them).
 */
#include "bench_common.h"
#include "bench_wrap.h"

#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REPS 15
#define SYRK_BLOCKS 8 /* J buffer of the dsyrk loop: 8 blocks, cycled (stays in L2 as in the fit) */

static int no_fork = 0;
static double kink_tol = -1; /* < 0: the library's default */
static int no_accel = 0;

static void one_thread(void) {
  omp_set_num_threads(1);
  openblas_set_num_threads(1);
}

/* Runs fn(arg, out) in a child process (or in place with --no-fork); the
 * child sends `size` bytes of *out back through a pipe.  Returns 0 on success. */
typedef int (*child_fn)(const void *arg, void *out);
static int run_child(child_fn fn, const void *arg, void *out, size_t size) {
  if (no_fork) {
    one_thread();
    return fn(arg, out);
  }
  int fd[2];
  if (pipe(fd)) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(fd[0]);
    one_thread();
    int rc = fn(arg, out);
    const char *b = out;
    size_t left = size;
    while (left > 0) {
      ssize_t w = write(fd[1], b, left);
      if (w <= 0) _exit(3);
      b += w;
      left -= (size_t)w;
    }
    _exit(rc ? 2 : 0);
  }
  close(fd[1]);
  char *b = out;
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd[0], b + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got == size && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void fill_uniform(double *v, size_t n, unsigned seed) {
  void *vr = NULL;
  moelab_rng_new(seed, 77, &vr, NULL);
  gsl_rng *r = vr;
  for (size_t i = 0; i < n; i++) v[i] = 2.0 * gsl_rng_uniform(r) - 1.0;
  moelab_rng_free(vr);
}

/* ------------------------------------------------------------ dgemm */

typedef struct dgemm_res {
  double gflops, lo, hi;
  char core[64];
} dgemm_res;

static int dgemm_child(const void *arg, void *out) {
  size_t N = *(const size_t *)arg;
  dgemm_res *R = out;
  double *A = malloc(N * N * sizeof(double)), *B = malloc(N * N * sizeof(double)), *C = malloc(N * N * sizeof(double));
  if (!A || !B || !C) return 1;
  fill_uniform(A, N * N, 1);
  fill_uniform(B, N * N, 2);
  double g[7];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)N, (blasint)N, (blasint)N, 1.0, A, (blasint)N, B,
              (blasint)N, 0.0, C, (blasint)N); /* warm-up */
  for (int rep = 0; rep < 7; rep++) {
    double t0 = bench_now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)N, (blasint)N, (blasint)N, 1.0, A, (blasint)N,
                B, (blasint)N, 0.0, C, (blasint)N);
    g[rep] = 2.0 * (double)N * (double)N * (double)N / (bench_now() - t0) / 1e9;
  }
  R->gflops = bench_median(g, 7);
  R->lo = g[0];
  R->hi = g[6];
  snprintf(R->core, sizeof R->core, "%s", openblas_get_corename());
  free(A);
  free(B);
  free(C);
  return 0;
}

/* ------------------------------------------------------------ dsyrk */

typedef struct syrk_res {
  double row_trans, col_notrans, plain, fitter; /* GFLOP/s, p² flops per row */
} syrk_res;

/* JᵀJ by a plain loop over the rows (upper triangle, row-major m×p block):
 * the reference for small p, where the BLAS call overhead dominates. */
static void plain_syrk(size_t p, size_t m, const double *J, double *C) {
  for (size_t r = 0; r < m; r++) {
    const double *row = J + r * p;
    for (size_t i = 0; i < p; i++) {
      double a = row[i];
      double *c = C + i * p;
      for (size_t j = i; j < p; j++) c[j] += a * row[j];
    }
  }
}

static int syrk_child(const void *arg, void *out) {
  size_t p = *(const size_t *)arg, m = FIT_BLOCK;
  syrk_res *R = out;
  /* 64-byte aligned blocks, as the fitter's (accumulate in fit.c): with malloc's 16-byte alignment every
   * 512-bit load of ml_gram splits two cache lines, which cost it a fifth to a third of its rate on an
   * Intel Xeon; the sizes are multiples of 64 bytes (m = 256) */
  double *J = aligned_alloc(64, SYRK_BLOCKS * m * p * sizeof(double));
  double *Jt = aligned_alloc(64, SYRK_BLOCKS * m * p * sizeof(double));
  size_t q = p + 1; /* the fitter's block [J e]: p + 1 rows of the block length */
  double *Je = aligned_alloc(64, SYRK_BLOCKS * m * q * sizeof(double));
  double *C = calloc(q * q, sizeof(double));
  if (!J || !Jt || !C) return 1;
  fill_uniform(J, SYRK_BLOCKS * m * p, 3);
  for (size_t b = 0; b < SYRK_BLOCKS; b++)
    for (size_t r = 0; r < m; r++)
      for (size_t j = 0; j < p; j++) Jt[b * m * p + j * m + r] = J[b * m * p + r * p + j];
  if (!Je) return 1;
  fill_uniform(Je, SYRK_BLOCKS * m * q, 5);
  double flops_call = (double)m * (double)p * (double)p;
  size_t calls = (size_t)(1.5e8 / flops_call) + 8;
  double g[4][5];
  for (int rep = 0; rep < 5; rep++)
    for (int lay = 0; lay < 4; lay++) {
      memset(C, 0, q * q * sizeof(double));
      double t0 = bench_now();
      for (size_t c = 0; c < calls; c++) {
        size_t b = c % SYRK_BLOCKS;
        if (lay == 0)
          __real_cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)p, (blasint)m, 1.0, J + b * m * p, (blasint)p,
                      1.0, C, (blasint)p);
        else if (lay == 1)
          __real_cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (blasint)p, (blasint)m, 1.0, Jt + b * m * p,
                      (blasint)m, 1.0, C, (blasint)p);
        else if (lay == 2)
          plain_syrk(p, m, J + b * m * p, C);
        else if (q < FIT_GRAM_MAX) /* as fit.c's gram_update */
          __real_ml_gram(q, m, Je + b * m * q, C);
        else
          __real_cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (blasint)q, (blasint)m, 1.0, Je + b * m * q,
                             (blasint)m, 1.0, C, (blasint)q);
      }
      g[lay][rep] = flops_call * (double)calls / (bench_now() - t0) / 1e9;
    }
  R->row_trans = bench_median(g[0], 5);
  R->col_notrans = bench_median(g[1], 5);
  R->plain = bench_median(g[2], 5);
  R->fitter = bench_median(g[3], 5);
  free(Je);
  free(J);
  free(Jt);
  free(C);
  return 0;
}

/* ------------------------------------------------------------ fits */

typedef struct fit_case {
  size_t d, n;
  moelab_expert expert;
  int max_reps;      /* repetitions: as many as fit in ~2 s, at most this */
  size_t max_iter;   /* 0: the default (1000) */
} fit_case;

typedef struct fit_res {
  double t[MAX_REPS];
  int reps;
  double seconds; /* median */
  size_t iterations, n_at_bound;
  int converged;
  char stop[16];
  double sse, mse;
  double rss_base, rss_peak; /* bytes: before the data, after the fits */
  double cpu_per_wall;       /* CPU seconds / wall seconds of the fits */
  double ns_f, ns_j, ns_j2;  /* kernel ns per row: f only, f + J, f + J + second order */
  size_t p;
  prof pr; /* the counters of the first repetition */
  double pr_seconds;
} fit_res;

/* ns per row of one kernel variant over the data, cycling until >= 2e5 rows; median of 5. */
static double kernel_ns(const ml_shape *s, const double *theta, const double *X, size_t n, int variant) {
  size_t p = s->p, T = ml_hess_ntypes(s);
  /* 64-byte aligned, as the fitter's blocks and work space (all sizes are multiples of 8 doubles) */
  double *J = aligned_alloc(64, FIT_BLOCK * p * sizeof(double));
  double *C = aligned_alloc(64, FIT_BLOCK * T * sizeof(double));
  double *work = aligned_alloc(64, ml_eval_work(s) * sizeof(double));
  double f[FIT_BLOCK], t[5];
  size_t passes = n >= 200000 ? 1 : (200000 + n - 1) / n;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = bench_now();
    for (size_t ps = 0; ps < passes; ps++)
      for (size_t r0 = 0; r0 < n; r0 += FIT_BLOCK) {
        size_t m = n - r0 < FIT_BLOCK ? n - r0 : FIT_BLOCK;
        const double *Xb = X + r0 * s->d;
        /* the fitter's column-major blocks */
        ml_eval_out o = {f, variant >= 1 ? J : NULL, m, 1, variant == 2 ? C : NULL, m, 1, NULL, NULL, 0, 0,
                         NULL, NULL, NULL};
        __real_ml_eval(s, theta, Xb, m, &o, work);
      }
    t[rep] = (bench_now() - t0) / (double)(passes * n) * 1e9;
  }
  free(J);
  free(C);
  free(work);
  return bench_median(t, 5);
}

static int fit_child(const void *arg, void *out) {
  const fit_case *c = arg;
  fit_res *R = out;
  memset(R, 0, sizeof *R);
  R->rss_base = bench_maxrss_bytes();
  moelab_model *truth = bench_truth2(MOELAB_GATE_SIGMOID, c->expert, c->d, 1e-2);
  moelab_data *D = NULL;
  if (!truth || moelab_simulate(truth, NULL, c->n, 2024, 0, &D, NULL)) return 1;
  moelab_fit_options o;
  moelab_fit_options_init(&o);
  o.gate = MOELAB_GATE_SIGMOID;
  o.expert = c->expert;
  o.k = 3;
  o.init = MOELAB_INIT_MODEL;
  o.init_model = truth;
  o.perturb = 0.1;
  o.restarts = 1;
  o.threads = 1;
  if (c->max_iter) o.max_iter = c->max_iter;
  if (kink_tol >= 0) o.kink_tol = kink_tol;
  if (no_accel) o.accel = 0;
  moelab_data_view v = moelab_data_as_view(D);
  moelab_model *fit = NULL;
  moelab_fit_report *rep = NULL;
  double cpu0 = bench_cpu_seconds(), w0 = bench_now();
  int max_reps = c->max_reps < MAX_REPS ? c->max_reps : MAX_REPS;
  for (int r = 0; r < max_reps; r++) {
    moelab_model_free(fit);
    moelab_fit_report_free(rep);
    fit = NULL;
    rep = NULL;
    /* the first repetition runs with the counters of bench_wrap.h on (two clock
     * reads per 256-row block: well below 0.1% of an iteration) */
    if (r == 0) {
      memset(&PR, 0, sizeof PR);
      PR.on = 1;
    }
    double t0 = bench_now();
    moelab_error err;
    if (moelab_fit(&v, &o, &fit, &rep, &err)) {
      fprintf(stderr, "bench_fit: fit failed: %s\n", err.message);
      return 1;
    }
    R->t[r] = bench_now() - t0;
    if (r == 0) {
      PR.on = 0;
      R->pr = PR;
      R->pr_seconds = R->t[0];
    }
    R->reps = r + 1;
    if (r == 0 && R->t[0] > 0) { /* as many repetitions as fit in about 2 s */
      int want = (int)(2.0 / R->t[0]);
      if (want < max_reps) max_reps = want < 1 ? 1 : want;
    }
  }
  R->cpu_per_wall = (bench_cpu_seconds() - cpu0) / (bench_now() - w0);
  R->rss_peak = bench_maxrss_bytes();
  double tt[MAX_REPS];
  memcpy(tt, R->t, sizeof tt);
  R->seconds = bench_median(tt, (size_t)R->reps);
  R->iterations = rep->iterations;
  R->converged = rep->converged;
  snprintf(R->stop, sizeof R->stop, "%s", moelab_stop_name(rep->stop));
  R->sse = rep->sse;
  R->mse = rep->mse;
  R->n_at_bound = rep->n_at_bound;
  R->p = fit->p;
  ml_shape s = ml_shape_of(fit);
  R->ns_f = kernel_ns(&s, fit->theta, D->X, D->n, 0);
  R->ns_j = kernel_ns(&s, fit->theta, D->X, D->n, 1);
  R->ns_j2 = kernel_ns(&s, fit->theta, D->X, D->n, 2);
  moelab_model_free(fit);
  moelab_fit_report_free(rep);
  moelab_data_free(D);
  moelab_model_free(truth);
  return 0;
}

/* ------------------------------------------------------------ main */

static void human_bytes(double b, char *buf, size_t size) {
  if (b >= 1e9)
    snprintf(buf, size, "%.2f GB", b / 1e9);
  else if (b >= 1e6)
    snprintf(buf, size, "%.1f MB", b / 1e6);
  else
    snprintf(buf, size, "%.0f kB", b / 1e3);
}

static int parse_only(const char *s, fit_case *c) {
  char e[32];
  double n;
  if (sscanf(s, "%zu:%31[a-z]:%lf", &c->d, e, &n) != 3 || moelab_expert_parse(e, &c->expert) || n < 10) return -1;
  c->n = (size_t)n;
  return 0;
}

int main(int argc, char **argv) {
  int quick = 0;
  size_t max_n = 1000000, dgemm_n = 1000, cap = 20;
  fit_case only;
  int have_only = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    else if (strcmp(argv[i], "--kink-tol") == 0 && i + 1 < argc)
      kink_tol = atof(argv[++i]);
    else if (strcmp(argv[i], "--no-accel") == 0)
      no_accel = 1;
    else if (strcmp(argv[i], "--no-fork") == 0)
      no_fork = 1;
    else if (strcmp(argv[i], "--full") == 0)
      cap = 0;
    else if (strcmp(argv[i], "--cap") == 0 && i + 1 < argc)
      cap = (size_t)atol(argv[++i]);
    else if (strcmp(argv[i], "--max-n") == 0 && i + 1 < argc)
      max_n = (size_t)atof(argv[++i]);
    else if (strcmp(argv[i], "--dgemm-n") == 0 && i + 1 < argc)
      dgemm_n = (size_t)atol(argv[++i]);
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && parse_only(argv[++i], &only) == 0)
      have_only = 1;
    else {
      int help = strcmp(argv[i], "--help") == 0;
      fprintf(help ? stdout : stderr,
              "usage: bench_fit [--quick] [--max-n N] [--cap M | --full] [--only D:EXPERT:N] [--dgemm-n N] "
              "[--no-fork] [--kink-tol T] [--no-accel]\n"
              "  --quick        n <= 1e4 plus the headline case (d = 1, relu, n = 1e5); about 30 s\n"
              "  --max-n N      largest n (default 1e6)\n"
              "  --cap M        n = 1e6 fits stop after M iterations (default 20): time per iteration and\n"
              "                 memory; --full runs them to convergence (many minutes)\n"
              "  --only D:EXPERT:N  one case, e.g. 1:relu:1e5\n"
              "  --no-fork      run in this process (peak memory is then cumulative)\n"
              "  --kink-tol T   the fits' kink_tol (default: the library's, 1e-10; 0: ReLU fits crawl to xtol)\n"
              "  --no-accel     the fits without geodesic acceleration\n");
      return help ? 0 : 2;
    }
  }

  printf("# moelab fitter benchmark: sigmoid gate, k = 3 fitted to a 2-atom truth (noise 1e-2, X ~ U[-1,1]^d),\n"
         "# near-truth start (split + perturb 0.1), 1 restart, threads = 1, OpenBLAS on 1 thread.\n"
         "# Each case runs in its own process; fit times are medians over repetitions.\n");
  moelab_fit_options defaults;
  moelab_fit_options_init(&defaults);
  printf("# fit options: the library's defaults; kink_tol %g, %s\n\n", kink_tol >= 0 ? kink_tol : defaults.kink_tol,
         no_accel ? "no acceleration" : "geodesic acceleration");

  /* the machine's dgemm */
  dgemm_res G;
  memset(&G, 0, sizeof G);
  if (run_child(dgemm_child, &dgemm_n, &G, sizeof G)) {
    fprintf(stderr, "bench_fit: dgemm child failed\n");
    return 1;
  }
  printf("## machine: dgemm %zux%zu, 1 thread: %.2f GFLOP/s (median of 7; range %.2f..%.2f); OpenBLAS core: %s\n",
         dgemm_n, dgemm_n, G.gflops, G.lo, G.hi, G.core);
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  if ((strcmp(G.core, "Prescott") == 0 || strcmp(G.core, "Core2") == 0 || strcmp(G.core, "Nehalem") == 0) &&
      (__builtin_cpu_supports("avx2") || __builtin_cpu_supports("avx512f")))
    printf("## note: OpenBLAS did not recognise this CPU and runs its generic %s kernels although the CPU has\n"
           "## %s; OPENBLAS_CORETYPE=%s in the environment selects faster ones (not used here)\n",
           G.core, __builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2",
           __builtin_cpu_supports("avx512f") ? "SkylakeX (or Cooperlake)" : "Haswell");
#endif
  printf("\n");

  /* the JᵀJ accumulation, per p */
  const size_t dims[3] = {1, 4, 16};
  printf("## J'J accumulation over %d-row blocks, p^2 flops per row (the useful ones), 1 thread (median of 5);\n"
         "## the fitter: the (p+1) x block matrix [J e] (J'J and J'e together) by ml_gram for p + 1 < %d, else dsyrk\n",
         FIT_BLOCK, FIT_GRAM_MAX);
  printf("%4s %5s %24s %24s %24s %24s\n", "d", "p", "dsyrk, J rows, Trans", "dsyrk, J^T, NoTrans", "plain C loop (ref.)",
         "the fitter's [J e]");
  for (int di = 0; di < 3; di++) {
    size_t d = dims[di], p = 3 * (1 + d + d + 1);
    if (have_only && only.d != d) continue;
    syrk_res S;
    if (run_child(syrk_child, &p, &S, sizeof S)) {
      fprintf(stderr, "bench_fit: dsyrk child failed\n");
      return 1;
    }
    printf("%4zu %5zu %7.2f GF/s %5.1f%% dgemm %7.2f GF/s %5.1f%% dgemm %7.2f GF/s %5.1f%% dgemm %7.2f GF/s %5.1f%% dgemm\n",
           d, p, S.row_trans, 100 * S.row_trans / G.gflops, S.col_notrans, 100 * S.col_notrans / G.gflops, S.plain,
           100 * S.plain / G.gflops, S.fitter, 100 * S.fitter / G.gflops);
  }
  printf("\n");

  /* the fits */
  fit_case cases[32];
  size_t nc = 0;
  const size_t ns[4] = {1000, 10000, 100000, 1000000};
  if (have_only) {
    only.max_reps = 9;
    only.max_iter = only.n >= 1000000 ? cap : 0;
    cases[nc++] = only;
  } else {
    for (int di = 0; di < 3; di++)
      for (int e = 0; e < 2; e++) {
        if (e == 1 && dims[di] != 1) continue;
        for (int ni = 0; ni < 4; ni++) {
          if (ns[ni] > max_n) continue;
          fit_case c = {dims[di], ns[ni], e ? MOELAB_EXPERT_GELU : MOELAB_EXPERT_RELU, 9, 0};
          int headline_case = c.d == 1 && c.expert == MOELAB_EXPERT_RELU && c.n == 100000;
          if (quick && c.n > 10000 && !headline_case) continue;
          if (quick) c.max_reps = 5;
          if (c.n >= 1000000) c.max_iter = cap;
          cases[nc++] = c;
        }
      }
  }
  printf("## fits (fit s: median over reps, as many as fit in ~2 s; s/iteration = fit s / iterations)\n");
  if (cap) printf("## n = 1e6: at most %zu iterations (stop max-iter): per-iteration time and memory only\n", cap);
  printf("%4s %-6s %8s %4s %4s %10s %12s %6s %-10s %5s %14s %8s\n", "d", "expert", "n", "p", "reps", "fit s",
         "s/iteration", "iters", "stop", "conv", "MSE", "at bound");
  fit_res res[32];
  double headline = NAN;
  for (size_t i = 0; i < nc; i++) {
    fit_case *c = &cases[i];
    fit_res *R = &res[i];
    if (run_child(fit_child, c, R, sizeof *R)) {
      printf("%4zu %-6s %8zu  failed\n", c->d, moelab_expert_name(c->expert), c->n);
      R->reps = 0;
      continue;
    }
    printf("%4zu %-6s %8zu %4zu %4d %10.4f %12.3e %6zu %-10s %5s %14.8g %8zu\n", c->d, moelab_expert_name(c->expert),
           c->n, R->p, R->reps, R->seconds, R->iterations ? R->seconds / (double)R->iterations : NAN, R->iterations,
           R->stop, R->converged ? "yes" : "NO", R->mse, R->n_at_bound);
    fflush(stdout);
    if (c->d == 1 && c->expert == MOELAB_EXPERT_RELU && c->n == 100000) headline = R->seconds;
  }

  printf("\n## memory: peak RSS of the case's process (ru_maxrss) vs the data, n (d+1) 8 bytes\n");
  printf("## (process base: the RSS before the data were simulated; CPU/wall < 1: the machine was busy)\n");
  printf("%4s %-6s %8s %12s %12s %10s %14s %9s\n", "d", "expert", "n", "peak RSS", "data", "peak/data",
         "process base", "CPU/wall");
  for (size_t i = 0; i < nc; i++) {
    if (!res[i].reps) continue;
    double data = (double)cases[i].n * (double)(cases[i].d + 1) * 8.0;
    char a[32], b[32], e[32];
    human_bytes(res[i].rss_peak, a, sizeof a);
    human_bytes(data, b, sizeof b);
    human_bytes(res[i].rss_base, e, sizeof e);
    printf("%4zu %-6s %8zu %12s %12s %10.2f %14s %9.2f\n", cases[i].d, moelab_expert_name(cases[i].expert),
           cases[i].n, a, b, res[i].rss_peak / data, e, res[i].cpu_per_wall);
  }

  printf("\n## model kernels at the fitted point, ns per row, 1 thread (median of 5)\n");
  printf("%4s %-6s %8s %10s %10s %14s\n", "d", "expert", "n", "f only", "f + J", "f + J + 2nd");
  for (size_t i = 0; i < nc; i++) {
    if (!res[i].reps) continue;
    printf("%4zu %-6s %8zu %10.1f %10.1f %14.1f\n", cases[i].d, moelab_expert_name(cases[i].expert), cases[i].n,
           res[i].ns_f, res[i].ns_j, res[i].ns_j2);
  }

  printf("\n## where an iteration goes (first repetition): passes over the data per iteration and ns per row\n");
  printf("## per iteration in the kernel (eval: f and J, eval2: with the second-order terms), the Gram matrices\n"
         "## (dgemm and dsyrk), dgemv, Cholesky and the rest of the fitter\n");
  printf("%4s %-6s %8s %7s %7s %7s | %9s %8s %8s %8s %8s %8s %8s\n", "d", "expert", "n", "f", "f+J", "f+J+2",
         "ns/row/it", "eval", "eval2", "gram", "dgemv", "chol", "other");
  for (size_t i = 0; i < nc; i++) {
    fit_res *R = &res[i];
    if (!R->reps || !R->iterations) continue;
    double ni = (double)cases[i].n * (double)R->iterations, per = 1e9 / ni;
    const prof *q = &R->pr;
    double other = R->pr_seconds - q->t_eval - q->t_eval2 - q->t_syrk - q->t_gemv - q->t_lapack;
    printf("%4zu %-6s %8zu %7.2f %7.2f %7.2f | %9.1f %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f\n", cases[i].d,
           moelab_expert_name(cases[i].expert), cases[i].n, q->rows_f / ni, q->rows_j / ni, q->rows_j2 / ni,
           R->pr_seconds * per, q->t_eval * per, q->t_eval2 * per, q->t_syrk * per, q->t_gemv * per,
           q->t_lapack * per, other * per);
  }

  printf("\n");
  if (isfinite(headline))
    printf("headline: sigmoid/ReLU, d = 1, k = 3, n = 1e5, near-truth start, one core: %.3f s (target <= 0.2 s): %s\n",
           headline, headline <= 0.2 ? "met" : "NOT met");
  else
    printf("headline: sigmoid/ReLU, d = 1, k = 3, n = 1e5 was not run\n");
  return 0;
}
