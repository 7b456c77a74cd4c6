/*
 * check.h — a minimal test harness: CHECK macros count failures and report
 * file:line; main() runs the listed tests and exits non-zero on any failure.
 */
#ifndef MOELAB_CHECK_H
#define MOELAB_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                                                  \
  do {                                                                                                               \
    check_count++;                                                                                                   \
    if (!(cond)) {                                                                                                   \
      check_failures++;                                                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                      \
    }                                                                                                                \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                                         \
  do {                                                                                                               \
    check_count++;                                                                                                   \
    if (!(cond)) {                                                                                                   \
      check_failures++;                                                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                                       \
      fprintf(stderr, __VA_ARGS__);                                                                                  \
      fputc('\n', stderr);                                                                                           \
    }                                                                                                                \
  } while (0)

/* |a - b| <= tol */
#define CHECK_NEAR(a, b, tol)                                                                                        \
  do {                                                                                                               \
    double ca_ = (double)(a), cb_ = (double)(b), ct_ = (double)(tol);                                                \
    check_count++;                                                                                                   \
    if (!(fabs(ca_ - cb_) <= ct_)) {                                                                                 \
      check_failures++;                                                                                              \
      fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g, |diff| = %.3g > %.3g\n", __FILE__,         \
              __LINE__, #a, ca_, #b, cb_, fabs(ca_ - cb_), ct_);                                                     \
    }                                                                                                                \
  } while (0)

/* bitwise-identical doubles */
#define CHECK_SAME(a, b)                                                                                             \
  do {                                                                                                               \
    double ca_ = (double)(a), cb_ = (double)(b);                                                                     \
    check_count++;                                                                                                   \
    if (memcmp(&ca_, &cb_, sizeof(double)) != 0) {                                                                   \
      check_failures++;                                                                                              \
      fprintf(stderr, "%s:%d: CHECK_SAME failed: %s = %.17g, %s = %.17g\n", __FILE__, __LINE__, #a, ca_, #b, cb_);  \
    }                                                                                                                \
  } while (0)

#define CHECK_STATUS(expr, want)                                                                                     \
  do {                                                                                                               \
    int got_ = (expr);                                                                                               \
    check_count++;                                                                                                   \
    if (got_ != (want)) {                                                                                            \
      check_failures++;                                                                                              \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d\n", __FILE__, __LINE__, #expr, got_,                 \
              moelab_status_str(got_), (int)(want));                                                                 \
    }                                                                                                                \
  } while (0)

typedef struct check_test {
  const char *name;
  void (*fn)(void);
} check_test;

static int check_run(const check_test *tests, size_t n, int argc, char **argv) {
  for (size_t i = 0; i < n; i++) {
    if (argc > 1 && strcmp(argv[1], tests[i].name) != 0) continue;
    int before = check_failures;
    tests[i].fn();
    fprintf(stderr, "%s %s\n", check_failures == before ? "ok  " : "FAIL", tests[i].name);
  }
  fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : (check_count ? 0 : 1);
}

#define CHECK_MAIN(...)                                                                                              \
  int main(int argc, char **argv) {                                                                                  \
    static const check_test tests_[] = {__VA_ARGS__};                                                                \
    return check_run(tests_, sizeof tests_ / sizeof tests_[0], argc, argv);                                          \
  }

#define T(fn) {#fn, fn}

#endif
