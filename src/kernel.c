/*
 * kernel.c — the model kernel: f, the Jacobian, the gates and expert values
 * and the second-order coefficients of many rows at once (the formulas are at
 * the top of model.c; the coefficient types in internal.h).
 *
 * Rows are taken ML_LANES = 8 at a time (a tile).  Every per-row quantity is
 * an array of 8 lanes and every lane loop has exactly 8 iterations, so the
 * compiler vectorises it whole at any vector width (2, 4 or 8 doubles): there
 * is no remainder loop and no peeling, and a row's results never depend on
 * where it sits in a block — a row evaluated alone (padded with copies of
 * itself) gets the same bits as in a batch of a million.
 *
 * The math functions of the lane loops (exp, erfc, tanh, cosh) are declared
 * as SIMD functions, so they run as glibc's vector math library (libmvec,
 * part of libc6) where the target has one; this file is compiled with
 * -fno-math-errno for that (no errno is ever read; -ffast-math is not used:
 * every other operation is IEEE, unreordered and uncontracted).  libmvec's
 * functions are accurate to a few ulp (glibc's manual, "Errors in Math
 * Functions"), as against < 1 ulp for the scalar libm.
 *
 * On x86-64 the tile loop is compiled three times (baseline SSE2, AVX2 and
 * AVX-512, by GCC's target_clones) and the widest the CPU has is chosen when
 * the library is loaded.  Results are bitwise identical for any number of
 * threads, processes or shards on one machine; on CPUs of a different
 * vector width the vector exp and erfc may differ in the last bits.  The
 * loop is also specialised for the gate and for d = 1 (constants folded).
 *
 * The Gram matrix kernel of the fitter's blocks (ml_gram) is here too, for
 * the same vector machinery.
 */
#include "experts.h"
#include "gates.h"
#include "internal.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(_OPENMP) && defined(__GLIBC__) && !defined(MOELAB_NO_MVEC)
/* As glibc's <bits/math-vector.h> declares them under -ffast-math. */
#pragma omp declare simd notinbranch
double exp(double);
#pragma omp declare simd notinbranch
double erfc(double);
#pragma omp declare simd notinbranch
double tanh(double);
#pragma omp declare simd notinbranch
double cosh(double);
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(MOELAB_NO_CLONES)
#define ML_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define ML_CLONES
#endif

#if defined(__GNUC__)
#define ML_INLINE static inline __attribute__((always_inline))
#else
#define ML_INLINE static inline
#endif

#define L ML_LANES
#if defined(__clang__) /* clang warns where it cannot vectorise a simd loop (its builds here are the fuzzers') */
#define LANES for (size_t l = 0; l < L; l++)
#else
#define LANES _Pragma("omp simd") for (size_t l = 0; l < L; l++)
#endif

size_t ml_eval_work(const ml_shape *s) { return (size_t)L * (s->d + 10 * s->k + 8) + L; }

double *ml_align64(double *p) { return (double *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* dst[l * rs] = v[l] for the mt valid lanes. */
ML_INLINE void put(double *dst, size_t rs, const double *v, size_t mt) {
  if (rs == 1 && mt == L) {
    LANES dst[l] = v[l];
    return;
  }
  for (size_t l = 0; l < mt; l++) dst[l * rs] = v[l];
}

/* dst[l * rs] = a[l] * b[l]. */
ML_INLINE void put_mul(double *dst, size_t rs, const double *a, const double *b, size_t mt) {
  if (rs == 1 && mt == L) {
    LANES dst[l] = a[l] * b[l];
    return;
  }
  for (size_t l = 0; l < mt; l++) dst[l * rs] = a[l] * b[l];
}

/* σ(z), σ'(z) = σ(z)σ(-z) and σ''(z) = σ'(z)(σ(-z) - σ(z)) of a tile, all from
 * exp(-|z|) (no overflow; σ' keeps its relative precision for large |z|): the
 * sigmoid gate and the sigmoid expert. */
ML_INLINE void tile_sigmoid(const double *z, double *g, double *dg, double *d2g) {
  LANES {
    double e = exp(-fabs(z[l]));
    double big = 1.0 / (1.0 + e), small = e * big;
    int pos = z[l] >= 0;
    double sz = pos ? big : small, smz = pos ? small : big;
    g[l] = sz;
    dg[l] = big * small;
    d2g[l] = big * small * (smz - sz);
  }
}

/* h, h', h'' of a tile of scores u (not for constant experts); see experts.h. */
ML_INLINE void tile_activation(moelab_expert e, int degree, const double *u, double *h, double *dh, double *d2h,
                               int want2) {
  switch (e) {
  case MOELAB_EXPERT_RELU:
    LANES {
      int pos = u[l] > 0;
      h[l] = pos ? u[l] : 0.0;
      dh[l] = pos ? 1.0 : 0.0;
      d2h[l] = 0.0;
    }
    return;
  case MOELAB_EXPERT_GELU:
    LANES {
      double Phi = 0.5 * erfc(-u[l] * ML_SQRT1_2);
      double phi = ML_INV_SQRT2PI * exp(-0.5 * u[l] * u[l]);
      h[l] = u[l] * Phi;
      dh[l] = Phi + u[l] * phi;
      d2h[l] = phi * (2.0 - u[l] * u[l]);
    }
    return;
  case MOELAB_EXPERT_LINEAR:
    LANES {
      h[l] = u[l];
      dh[l] = 1.0;
      d2h[l] = 0.0;
    }
    return;
  case MOELAB_EXPERT_POLY:
    if (degree <= 1) {
      LANES {
        h[l] = u[l];
        dh[l] = 1.0;
        d2h[l] = 0.0;
      }
    } else {
      LANES {
        double t2 = ml_ipow(u[l], degree - 2), t1 = t2 * u[l];
        h[l] = t1 * u[l];
        dh[l] = (double)degree * t1;
        d2h[l] = (double)degree * (double)(degree - 1) * t2;
      }
    }
    return;
  case MOELAB_EXPERT_SIGMOID:
    tile_sigmoid(u, h, dh, d2h);
    return;
  case MOELAB_EXPERT_TANH:
    if (want2) {
      LANES {
        double t = tanh(u[l]), c = 1.0 / cosh(u[l]);
        h[l] = t;
        dh[l] = c * c;
        d2h[l] = -2.0 * t * c * c;
      }
    } else {
      LANES {
        double t = tanh(u[l]), c = 1.0 / cosh(u[l]);
        h[l] = t;
        dh[l] = c * c;
        d2h[l] = 0.0;
      }
    }
    return;
  case MOELAB_EXPERT_CONSTANT:
    break;
  }
  LANES h[l] = dh[l] = d2h[l] = 0.0;
}

/* One tile: rows r0 .. r0 + mt - 1 (mt <= L); lanes past mt repeat the last row. */
ML_INLINE void eval_tile(const ml_shape *s, const double *theta, const double *X, size_t r0, size_t mt,
                         const ml_eval_out *o, double *work, const int softmax, const moelab_expert ex,
                         const size_t D) {
  const size_t d = D ? D : s->d, k = s->k;
  const size_t stride = D ? 1 + D + (ex == MOELAB_EXPERT_CONSTANT ? 1 : D + 1) : s->stride;
  const int constant = ex == MOELAB_EXPERT_CONSTANT;
  const int accel = o->v != NULL;
  const int want2 = o->C != NULL || accel;
  double *xt = work;                /* d × L */
  double *Z = xt + d * L;           /* scores z_i, k × L */
  double *U = Z + k * L;            /* u_i */
  double *Gv = U + k * L;           /* g_i */
  double *DG = Gv + k * L;          /* σ'(z_i) (sigmoid gate) */
  double *D2G = DG + k * L;         /* σ''(z_i) */
  double *Hv = D2G + k * L;         /* h_i */
  double *DH = Hv + k * L;          /* h'_i */
  double *D2H = DH + k * L;         /* h''_i */
  double *fv = D2H + k * L;         /* f */
  double *aux = fv + L;             /* L × 7 */
  double *DZ = aux + 7 * L;         /* vᵀ∇z_i (the acceleration term) */
  double *DU = DZ + k * L;          /* vᵀ∇u_i */
  /* the tile's inputs, lane-major; a whole tile is moved with vector loads and stores: 8 scalar stores
   * read back as one vector cannot be forwarded, and the stall cost up to a fifth of a pass */
  if (mt == L) {
    const double *x = X + r0 * d;
    if (d == 1) {
      LANES xt[l] = x[l];
    } else {
      for (size_t j = 0; j < d; j++) {
        double *xj = xt + j * L;
        LANES xj[l] = x[l * d + j];
      }
    }
  } else {
    for (size_t l = 0; l < L; l++) {
      const double *x = X + (r0 + (l < mt ? l : mt - 1)) * d;
      for (size_t j = 0; j < d; j++) xt[j * L + l] = x[j];
    }
  }
  /* scores, summed from 0 in the order j = 0..d-1, then the intercept added */
  for (size_t i = 0; i < k; i++) {
    const double *t = theta + i * stride;
    double *z = Z + i * L, *u = U + i * L;
    LANES z[l] = 0.0;
    for (size_t j = 0; j < d; j++) {
      const double bj = t[1 + j], *xj = xt + j * L;
      LANES z[l] += bj * xj[l];
    }
    const double b0 = t[0];
    LANES z[l] = b0 + z[l];
    double *h = Hv + i * L, *dh = DH + i * L, *d2h = D2H + i * L;
    if (constant) {
      const double c = t[1 + d];
      LANES {
        h[l] = c;
        dh[l] = 1.0; /* ∂h/∂c */
        d2h[l] = 0.0;
      }
      continue;
    }
    LANES u[l] = 0.0;
    for (size_t j = 0; j < d; j++) {
      const double aj = t[1 + d + j], *xj = xt + j * L;
      LANES u[l] += aj * xj[l];
    }
    const double b = t[1 + 2 * d];
    LANES u[l] = b + u[l];
    tile_activation(ex, s->degree, u, h, dh, d2h, want2);
  }
  /* gates */
  if (softmax) {
    double *mx = aux, *sum = aux + L, *inv = aux + 2 * L;
    LANES mx[l] = Z[l];
    for (size_t i = 1; i < k; i++) {
      const double *z = Z + i * L;
      LANES mx[l] = z[l] > mx[l] ? z[l] : mx[l];
    }
    LANES sum[l] = 0.0;
    for (size_t i = 0; i < k; i++) {
      const double *z = Z + i * L;
      double *g = Gv + i * L;
      LANES {
        g[l] = exp(z[l] - mx[l]);
        sum[l] += g[l];
      }
    }
    LANES inv[l] = 1.0 / sum[l];
    for (size_t i = 0; i < k; i++) {
      double *g = Gv + i * L;
      LANES g[l] *= inv[l];
    }
  } else {
    for (size_t i = 0; i < k; i++) {
      tile_sigmoid(Z + i * L, Gv + i * L, DG + i * L, D2G + i * L);
    }
  }
  LANES fv[l] = 0.0;
  for (size_t i = 0; i < k; i++) {
    const double *g = Gv + i * L, *h = Hv + i * L;
    LANES fv[l] += g[l] * h[l];
  }
  if (o->f) put(o->f + r0, 1, fv, mt);
  if (o->G)
    for (size_t i = 0; i < k; i++) put(o->G + i * o->gs + r0 * o->grs, o->grs, Gv + i * L, mt);
  if (o->H)
    for (size_t i = 0; i < k; i++) put(o->H + i * o->gs + r0 * o->grs, o->grs, Hv + i * L, mt);
  /* the acceleration term: the scores' derivatives along v, then r_vv = vᵀ∇²f v from the second-order
   * coefficients as they are formed (the quadratic form of fit.c's acceleration pass) */
  double *fvv = aux + 3 * L, *rv = aux + 4 * L;
  if (accel) {
    for (size_t i = 0; i < k; i++) {
      const double *v = o->v + i * stride;
      double *dz = DZ + i * L, *du = DU + i * L;
      const double v0 = v[0];
      LANES dz[l] = v0;
      for (size_t j = 0; j < d; j++) {
        const double vj = v[1 + j], *xj = xt + j * L;
        LANES dz[l] += vj * xj[l];
      }
      if (constant) {
        const double vc = v[1 + d];
        LANES du[l] = vc;
        continue;
      }
      const double vb = v[1 + 2 * d];
      LANES du[l] = vb;
      for (size_t j = 0; j < d; j++) {
        const double vj = v[1 + d + j], *xj = xt + j * L;
        LANES du[l] += vj * xj[l];
      }
    }
    LANES fvv[l] = 0.0;
  }
  if (o->C || accel) {
    double *c = aux;
    const size_t cs = o->cs, crs = o->crs;
    double *C = o->C ? o->C + r0 * crs : NULL;
    if (!softmax) {
      for (size_t i = 0; i < k; i++) {
        const double *g = Gv + i * L, *dg = DG + i * L, *d2g = D2G + i * L;
        const double *h = Hv + i * L, *dh = DH + i * L, *d2h = D2H + i * L;
        const double *dz = DZ + i * L, *du = DU + i * L;
        LANES c[l] = d2g[l] * h[l];
        if (C) put(C + i * cs, crs, c, mt); /* zz_i */
        if (accel) LANES fvv[l] += c[l] * dz[l] * dz[l];
        LANES c[l] = dg[l] * dh[l];
        if (C) put(C + (k + i) * cs, crs, c, mt); /* zu_i */
        if (accel) LANES fvv[l] += 2.0 * c[l] * dz[l] * du[l];
        LANES c[l] = g[l] * d2h[l];
        if (C) put(C + (2 * k + i) * cs, crs, c, mt); /* uu_i */
        if (accel) LANES fvv[l] += c[l] * du[l] * du[l];
      }
    } else {
      size_t t = 0;
      for (size_t i = 0; i < k; i++)
        for (size_t j = i; j < k; j++, t++) {
          const double *gi = Gv + i * L, *gj = Gv + j * L, *hi = Hv + i * L, *hj = Hv + j * L;
          if (i == j) {
            LANES c[l] = gi[l] * (hi[l] - fv[l]) - gi[l] * gj[l] * (hi[l] + hj[l] - 2.0 * fv[l]);
          } else {
            LANES c[l] = 0.0 - gi[l] * gj[l] * (hi[l] + hj[l] - 2.0 * fv[l]);
          }
          if (C) put(C + t * cs, crs, c, mt);
          if (accel) { /* zz_ij and zz_ji */
            const double *dzi = DZ + i * L, *dzj = DZ + j * L, mult = i == j ? 1.0 : 2.0;
            LANES fvv[l] += mult * c[l] * dzi[l] * dzj[l];
          }
        }
      for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++, t++) {
          const double *gi = Gv + i * L, *gj = Gv + j * L, *dhj = DH + j * L;
          const double kd = i == j ? 1.0 : 0.0;
          LANES c[l] = gi[l] * dhj[l] * (kd - gj[l]);
          if (C) put(C + t * cs, crs, c, mt);
          if (accel) {
            const double *dzi = DZ + i * L, *duj = DU + j * L;
            LANES fvv[l] += 2.0 * c[l] * dzi[l] * duj[l];
          }
        }
      for (size_t i = 0; i < k; i++, t++) {
        const double *g = Gv + i * L, *d2h = D2H + i * L;
        LANES c[l] = g[l] * d2h[l];
        if (C) put(C + t * cs, crs, c, mt);
        if (accel) {
          const double *dui = DU + i * L;
          LANES fvv[l] += c[l] * dui[l] * dui[l];
        }
      }
    }
  }
  if (accel) { /* ω r_vv, and nothing from the lanes past the tile's rows */
    for (size_t l = 0; l < L; l++) rv[l] = l < mt ? (o->wv ? o->wv[r0 + l] : 1.0) * fvv[l] : 0.0;
  }
  if (o->J || accel) {
    double *cs = aux, *cu = aux + L, *t2 = aux + 2 * L;
    const size_t js = o->js, rs = o->rs;
    double *va = o->vacc;
    for (size_t i = 0; i < k; i++) {
      const double *g = Gv + i * L, *h = Hv + i * L, *dg = DG + i * L, *dh = DH + i * L;
      double *Ji = o->J ? o->J + (i * stride) * js + r0 * rs : NULL;
      double *Vi = accel ? va + i * stride * L : NULL;
      if (softmax) {
        LANES cs[l] = g[l] * (h[l] - fv[l]);
      } else {
        LANES cs[l] = dg[l] * h[l];
      }
      if (Ji) {
        put(Ji, rs, cs, mt);
        for (size_t j = 0; j < d; j++) put_mul(Ji + (1 + j) * js, rs, cs, xt + j * L, mt);
      }
      if (Vi) {
        LANES Vi[l] += cs[l] * rv[l];
        for (size_t j = 0; j < d; j++) {
          const double *xj = xt + j * L;
          double *Vj = Vi + (1 + j) * L;
          LANES Vj[l] += cs[l] * xj[l] * rv[l];
        }
      }
      if (constant) {
        if (Ji) put(Ji + (1 + d) * js, rs, g, mt);
        if (Vi) {
          double *Vc = Vi + (1 + d) * L;
          LANES Vc[l] += g[l] * rv[l];
        }
        continue;
      }
      LANES cu[l] = g[l] * dh[l];
      if (Ji) {
        for (size_t j = 0; j < d; j++) put_mul(Ji + (1 + d + j) * js, rs, cu, xt + j * L, mt);
        put(Ji + (1 + 2 * d) * js, rs, cu, mt);
      }
      if (Vi) {
        for (size_t j = 0; j < d; j++) {
          const double *xj = xt + j * L;
          double *Vj = Vi + (1 + d + j) * L;
          LANES {
            t2[l] = cu[l] * xj[l];
            Vj[l] += t2[l] * rv[l];
          }
        }
        double *Vb = Vi + (1 + 2 * d) * L;
        LANES Vb[l] += cu[l] * rv[l];
      }
    }
  }
}

/* The tile loop for one gate and d = 1 or any d: the dispatcher below calls it with constants, so each gets
 * its own specialised loop (the same operations in the same order: the same bits). */
ML_INLINE void eval_loop(const ml_shape *s, const double *theta, const double *X, size_t n, const ml_eval_out *o,
                         double *work, const int softmax, const moelab_expert ex, const size_t D) {
  for (size_t r0 = 0; r0 < n; r0 += L) eval_tile(s, theta, X, r0, n - r0 < L ? n - r0 : L, o, work, softmax, ex, D);
}

ML_CLONES void ml_eval(const ml_shape *s, const double *theta, const double *X, size_t n, const ml_eval_out *o,
                       double *work) {
  work = ml_align64(work); /* whole cache lines for the lane arrays */
  const int softmax = s->gate == MOELAB_GATE_SOFTMAX, d1 = s->d == 1;
  /* the gate and d = 1 as constants (measured: a further loop per expert family gained under 5 %, for a
   * compile time 7 times as long) */
  if (softmax) {
    if (d1)
      eval_loop(s, theta, X, n, o, work, 1, s->expert, 1);
    else
      eval_loop(s, theta, X, n, o, work, 1, s->expert, 0);
  } else {
    if (d1)
      eval_loop(s, theta, X, n, o, work, 0, s->expert, 1);
    else
      eval_loop(s, theta, X, n, o, work, 0, s->expert, 0);
  }
}

/* ------------------------------------------------ the Gram matrix */

/* The Gram sums contract each product and sum into one fused multiply-add where the CPU has it
 * (the x86-64-v3 and v4 clones; ISO C allows the contraction, and it rounds once instead of twice):
 * on an Intel Xeon the separate multiply and add held [J e] at p = 12 to 38 % of dgemm's rate. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

typedef double ml_v4 __attribute__((vector_size(64)));

/* v = p[0..3] (no alignment assumed; a macro: a function returning a vector type changes the ABI) */
#define LOAD4(v, p) memcpy(&(v), (p), sizeof(ml_v4))
#define VL 8

/*
 * G[a][b] += Σ_r A[a][r] A[b][r] for a <= b < q (the upper triangle; G is q × q,
 * row-major), A q × m row-major with leading dimension m.  Tiles of 4 × 4
 * entries (4 × 5 where one row would be left over, and one 5 × 5 diagonal tile
 * for the last five rows rather than 4 × 5 and a lone 1 × 1, whose single sum
 * is a chain of dependent multiply-adds) keep their sums of 8 lanes in
 * registers; rows r ≡ l (mod 8) go to lane l, and the lanes are added in a
 * fixed order, so the result depends on q and m only: not on the tiling, nor
 * on the clone.  The rows are best 64-byte aligned (the fitter's blocks are,
 * and m = 256): on an Intel Xeon (AVX-512) 16-byte aligned rows, every load
 * split across two cache lines, cost a fifth to a third of the rate.
 * Measured against OpenBLAS 0.3.21 on one core (AMD EPYC, m = 256, ns per row): q = 12: this 4.3, dgemm 5.5, dsyrk 12.9; q = 30: 32, 47, 62;
 * q = 102: 327, 506, 374 — OpenBLAS's kernels are built for large matrices,
 * and at these sizes its call and packing overheads dominate.
 */
/* t[l] = ((v[l][0] + v[l][1]) + (v[l][2] + v[l][3])) + ((v[l][4] + v[l][5]) + (v[l][6] + v[l][7])) for
 * l < 8: eight lane sums at once, by a transposing tree whose additions are those of the scalar order
 * (an out-parameter: a function returning a vector type changes the ABI) */
ML_INLINE void lane_sums8(const ml_v4 *v, double *t) {
  ml_v4 c[4], e[2];
  for (int i = 0; i < 4; i++)
    c[i] = __builtin_shufflevector(v[2 * i], v[2 * i + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
           __builtin_shufflevector(v[2 * i], v[2 * i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  for (int i = 0; i < 2; i++)
    e[i] = __builtin_shufflevector(c[2 * i], c[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
           __builtin_shufflevector(c[2 * i], c[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15);
  const ml_v4 R = __builtin_shufflevector(e[0], e[1], 0, 1, 2, 3, 8, 9, 10, 11) +
                  __builtin_shufflevector(e[0], e[1], 4, 5, 6, 7, 12, 13, 14, 15);
  memcpy(t, &R, sizeof R);
}

/* One tile: rows a0.. (NA of them) against rows b0.. (NB), every entry of the tile (the caller keeps the
 * upper triangle); a diagonal tile (a0 = b0) sums only its upper triangle, with the same operations for
 * each entry (measured on an Intel Xeon, one 256-row block, p = 12: 5.19 → 4.58 ns per row).  Its sums
 * are reduced eight at a time by lane_sums8 (1–4 % on an Intel Xeon, q = 13 to 103, against one
 * reduction per sum), bit for bit the scalar tree. */
ML_INLINE void gram_tile(size_t q, size_t m, const double *A, double *G, size_t a0, size_t b0, const int NA,
                         const int NB) {
  const size_t m4 = m / VL * VL;
  ml_v4 s[5][5];
  const ml_v4 zero = {0};
  for (int i = 0; i < NA; i++)
    for (int j = 0; j < NB; j++) s[i][j] = zero;
  const double *Aa = A + a0 * m, *Ab = A + b0 * m;
  if (a0 == b0) { /* a diagonal tile: only its upper triangle, x = y (the same sums, fewer of them) */
    for (size_t r = 0; r < m4; r += VL) {
      ml_v4 y[5];
      for (int j = 0; j < NB; j++) LOAD4(y[j], Ab + (size_t)j * m + r);
      for (int i = 0; i < NA; i++)
        for (int j = i; j < NB; j++) s[i][j] += y[i] * y[j];
    }
  } else {
    for (size_t r = 0; r < m4; r += VL) {
      ml_v4 x[5], y[5];
      for (int i = 0; i < NA; i++) LOAD4(x[i], Aa + (size_t)i * m + r);
      for (int j = 0; j < NB; j++) LOAD4(y[j], Ab + (size_t)j * m + r);
      for (int i = 0; i < NA; i++)
        for (int j = 0; j < NB; j++) s[i][j] += x[i] * y[j];
    }
  }
  /* the tile's entries (its upper triangle on the diagonal), in groups of 8 */
  ml_v4 v[24];
  int ei[24], ej[24], E = 0;
  for (int i = 0; i < NA; i++)
    for (int j = 0; j < NB; j++)
      if (a0 != b0 || j >= i) {
        v[E] = s[i][j];
        ei[E] = i;
        ej[E] = j;
        E++;
      }
  for (int g = 0; g < E; g += 8) {
    for (int e = E; e < g + 8; e++) v[e] = zero;
    double t8[8];
    lane_sums8(v + g, t8);
    for (int e = g; e < E && e < g + 8; e++) {
      const size_t i = (size_t)ei[e], j = (size_t)ej[e];
      double t = t8[e - g];
      for (size_t r = m4; r < m; r++) t += Aa[i * m + r] * Ab[j * m + r];
      G[(a0 + i) * q + b0 + j] += t;
    }
  }
}

#define ML_TILE_NB(NA_)                                                                                        \
  switch (nb) {                                                                                                \
  case 5: gram_tile(q, m, A, G, a0, b0, NA_, 5); break;                                                        \
  case 4: gram_tile(q, m, A, G, a0, b0, NA_, 4); break;                                                        \
  case 3: gram_tile(q, m, A, G, a0, b0, NA_, 3); break;                                                        \
  case 2: gram_tile(q, m, A, G, a0, b0, NA_, 2); break;                                                        \
  default: gram_tile(q, m, A, G, a0, b0, NA_, 1); break;                                                       \
  }

ML_CLONES void ml_gram(size_t q, size_t m, const double *A, double *G) {
  for (size_t a0 = 0; a0 < q; a0 += 4) {
    if (q - a0 == 5) { /* the last five rows: one 5 × 5 diagonal tile, not 4 × 5 and a lone 1 × 1 */
      gram_tile(q, m, A, G, a0, a0, 5, 5);
      break;
    }
    const size_t na = q - a0 < 4 ? q - a0 : 4;
    for (size_t b0 = a0; b0 < q;) {
      /* a last single row joins the tile before it (4 × 5: 20 sums and 9 loads still fit the registers) */
      const size_t nb = q - b0 < 4 ? q - b0 : q - b0 == 5 ? 5 : 4;
      switch (na) { /* the tile's shape as constants: its loops unrolled */
      case 4: ML_TILE_NB(4) break;
      case 3: ML_TILE_NB(3) break;
      case 2: ML_TILE_NB(2) break;
      default: ML_TILE_NB(1) break;
      }
      b0 += nb;
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* ------------------------------------------------ the row-major forms */

void ml_eval_rows(const ml_shape *s, const double *theta, const double *X, size_t n, double *f, double *J,
                  size_t ldj, double *G, double *H, double *work) {
  ml_eval_out o = {f, J, 1, ldj, NULL, 0, 0, G, H, 1, s->k, NULL, NULL, NULL};
  ml_eval(s, theta, X, n, &o, work);
}
