/*
 * bench_wrap.h — counters around the library's calls to the model kernels,
 * dsyrk, dgemv and the Cholesky routines.  A benchmark that includes this
 * header (in exactly one source file) is linked with -Wl,--wrap=SYMBOL for
 * each of them (bench/CMakeLists.txt), so the calls the static library makes
 * pass through the functions below; __real_SYMBOL is the original.  The
 * counters run only while PR.on is set.
 */
#ifndef MOELAB_BENCH_WRAP_H
#define MOELAB_BENCH_WRAP_H

#include "bench_common.h"
#include "fit_internal.h"

/* GSL's CBLAS header and OpenBLAS's declare the same enums and cannot both be
 * included: a source that uses GSL's defines BENCH_GSL_CBLAS first (the ABI is
 * the same; OpenBLAS is what the program is linked with either way). */
#ifdef BENCH_GSL_CBLAS
#include <gsl/gsl_cblas.h>
typedef int blasint;
void openblas_set_num_threads(int num_threads);
#else
#include <cblas.h>
#endif
#include <lapacke.h>

typedef struct prof {
  int on;
  double rows_f, rows_j, rows_j2; /* rows evaluated: f only, f + J, f + J + second order */
  double t_eval, t_eval2, t_syrk, t_gemv, t_lapack;
} prof;
static prof PR;

void __real_ml_eval(const ml_shape *s, const double *theta, const double *X, size_t n, const ml_eval_out *o,
                    double *work);
void __wrap_ml_eval(const ml_shape *s, const double *theta, const double *X, size_t n, const ml_eval_out *o,
                    double *work) {
  if (!PR.on) {
    __real_ml_eval(s, theta, X, n, o, work);
    return;
  }
  double t0 = bench_now();
  __real_ml_eval(s, theta, X, n, o, work);
  double dt = bench_now() - t0;
  if (o->C || o->v) { /* with the second-order terms: kept, or the acceleration term formed inside */
    PR.t_eval2 += dt;
    PR.rows_j2 += (double)n;
  } else {
    PR.t_eval += dt;
    if (o->J)
      PR.rows_j += (double)n;
    else
      PR.rows_f += (double)n;
  }
}
void __real_ml_gram(size_t q, size_t m, const double *A, double *G);
void __wrap_ml_gram(size_t q, size_t m, const double *A, double *G) {
  double t0 = PR.on ? bench_now() : 0.0;
  __real_ml_gram(q, m, A, G);
  if (PR.on) PR.t_syrk += bench_now() - t0;
}
void __real_cblas_dgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint m, blasint n,
                        blasint k, double alpha, const double *A, blasint lda, const double *B, blasint ldb,
                        double beta, double *C, blasint ldc);
void __wrap_cblas_dgemm(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint m, blasint n,
                        blasint k, double alpha, const double *A, blasint lda, const double *B, blasint ldb,
                        double beta, double *C, blasint ldc) {
  double t0 = PR.on ? bench_now() : 0.0;
  __real_cblas_dgemm(o, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  if (PR.on) PR.t_syrk += bench_now() - t0;
}
void __real_cblas_dsyrk(enum CBLAS_ORDER o, enum CBLAS_UPLO u, enum CBLAS_TRANSPOSE t, blasint n, blasint k,
                        double alpha, const double *A, blasint lda, double beta, double *C, blasint ldc);
void __wrap_cblas_dsyrk(enum CBLAS_ORDER o, enum CBLAS_UPLO u, enum CBLAS_TRANSPOSE t, blasint n, blasint k,
                        double alpha, const double *A, blasint lda, double beta, double *C, blasint ldc) {
  double t0 = PR.on ? bench_now() : 0.0;
  __real_cblas_dsyrk(o, u, t, n, k, alpha, A, lda, beta, C, ldc);
  if (PR.on) PR.t_syrk += bench_now() - t0;
}
void __real_cblas_dgemv(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE t, blasint m, blasint n, double alpha,
                        const double *A, blasint lda, const double *x, blasint incx, double beta, double *y,
                        blasint incy);
void __wrap_cblas_dgemv(enum CBLAS_ORDER o, enum CBLAS_TRANSPOSE t, blasint m, blasint n, double alpha,
                        const double *A, blasint lda, const double *x, blasint incx, double beta, double *y,
                        blasint incy) {
  double t0 = PR.on ? bench_now() : 0.0;
  __real_cblas_dgemv(o, t, m, n, alpha, A, lda, x, incx, beta, y, incy);
  if (PR.on) PR.t_gemv += bench_now() - t0;
}
lapack_int __real_LAPACKE_dpotrf(int layout, char uplo, lapack_int n, double *a, lapack_int lda);
lapack_int __wrap_LAPACKE_dpotrf(int layout, char uplo, lapack_int n, double *a, lapack_int lda) {
  double t0 = PR.on ? bench_now() : 0.0;
  lapack_int r = __real_LAPACKE_dpotrf(layout, uplo, n, a, lda);
  if (PR.on) PR.t_lapack += bench_now() - t0;
  return r;
}
lapack_int __real_LAPACKE_dpotrs(int layout, char uplo, lapack_int n, lapack_int nrhs, const double *a, lapack_int lda,
                                 double *b, lapack_int ldb);
lapack_int __wrap_LAPACKE_dpotrs(int layout, char uplo, lapack_int n, lapack_int nrhs, const double *a, lapack_int lda,
                                 double *b, lapack_int ldb) {
  double t0 = PR.on ? bench_now() : 0.0;
  lapack_int r = __real_LAPACKE_dpotrs(layout, uplo, n, nrhs, a, lda, b, ldb);
  if (PR.on) PR.t_lapack += bench_now() - t0;
  return r;
}

#endif
