/*
 * abi_layout.c — prints the size and the field offsets of the public structs of
 * moelab.h as JSON, so that the Python bindings' ctypes declarations can be
 * checked against the C compiler's layout (python/tests/test_abi.py).
 */
#include "moelab.h"

#include <stddef.h>
#include <stdio.h>

static int first_struct = 1, first_field;

static void begin(const char *name, size_t size) {
  printf("%s\n  \"%s\": {\"size\": %zu, \"fields\": [", first_struct ? "{" : ",", name, size);
  first_struct = 0;
  first_field = 1;
}

static void field(const char *name, size_t offset, size_t size) {
  printf("%s[\"%s\", %zu, %zu]", first_field ? "" : ", ", name, offset, size);
  first_field = 0;
}

static void end(void) { printf("]}"); }

#define S(T) begin(#T, sizeof(T))
#define F(T, m) field(#m, offsetof(T, m), sizeof(((T *)0)->m))

int main(void) {
  S(moelab_error); F(moelab_error, status); F(moelab_error, message); F(moelab_error, file); F(moelab_error, line);
  F(moelab_error, field); end();
  S(moelab_input); F(moelab_input, law); F(moelab_input, a); F(moelab_input, b); end();
  S(moelab_model); F(moelab_model, gate); F(moelab_model, expert); F(moelab_model, degree); F(moelab_model, d);
  F(moelab_model, k); F(moelab_model, q); F(moelab_model, stride); F(moelab_model, p); F(moelab_model, theta);
  F(moelab_model, has_input); F(moelab_model, input); F(moelab_model, has_noise); F(moelab_model, noise);
  F(moelab_model, extra); end();
  S(moelab_data_view); F(moelab_data_view, n); F(moelab_data_view, d); F(moelab_data_view, X);
  F(moelab_data_view, y); end();
  S(moelab_data); F(moelab_data, n); F(moelab_data, d); F(moelab_data, X); F(moelab_data, y);
  F(moelab_data, names); end();
  S(moelab_box); F(moelab_box, beta0_lo); F(moelab_box, beta0_hi); F(moelab_box, beta1_lo); F(moelab_box, beta1_hi);
  F(moelab_box, eta_lo); F(moelab_box, eta_hi); end();
  S(moelab_fit_options); F(moelab_fit_options, gate); F(moelab_fit_options, expert); F(moelab_fit_options, degree);
  F(moelab_fit_options, k); F(moelab_fit_options, init); F(moelab_fit_options, init_model);
  F(moelab_fit_options, perturb); F(moelab_fit_options, restarts); F(moelab_fit_options, threads);
  F(moelab_fit_options, seed); F(moelab_fit_options, stream_base); F(moelab_fit_options, max_iter);
  F(moelab_fit_options, gtol); F(moelab_fit_options, dtol); F(moelab_fit_options, ftol);
  F(moelab_fit_options, stat_tol); F(moelab_fit_options, xtol); F(moelab_fit_options, box);
  F(moelab_fit_options, accel); F(moelab_fit_options, weights); F(moelab_fit_options, split);
  F(moelab_fit_options, nsplit); F(moelab_fit_options, split_fraction); F(moelab_fit_options, compute_se);
  F(moelab_fit_options, se_rcond_min); F(moelab_fit_options, stop_flag);
  F(moelab_fit_options, newton); F(moelab_fit_options, kink_tol); end();
  S(moelab_restart_info); F(moelab_restart_info, sse); F(moelab_restart_info, iterations);
  F(moelab_restart_info, stop); F(moelab_restart_info, grad_norm); F(moelab_restart_info, decrement);
  F(moelab_restart_info, converged); end();
  S(moelab_fit_report); F(moelab_fit_report, n); F(moelab_fit_report, d); F(moelab_fit_report, k);
  F(moelab_fit_report, p); F(moelab_fit_report, p_free); F(moelab_fit_report, sse); F(moelab_fit_report, mse);
  F(moelab_fit_report, grad_norm); F(moelab_fit_report, decrement); F(moelab_fit_report, iterations);
  F(moelab_fit_report, stop); F(moelab_fit_report, converged); F(moelab_fit_report, restarts);
  F(moelab_fit_report, restarts_converged); F(moelab_fit_report, restarts_failed);
  F(moelab_fit_report, best_restart); F(moelab_fit_report, seconds); F(moelab_fit_report, se_available);
  F(moelab_fit_report, rcond); F(moelab_fit_report, sigma2); F(moelab_fit_report, se);
  F(moelab_fit_report, at_bound); F(moelab_fit_report, n_at_bound); F(moelab_fit_report, restart); end();
  S(moelab_select_row); F(moelab_select_row, k); F(moelab_select_row, sse); F(moelab_select_row, mse);
  F(moelab_select_row, p_free); F(moelab_select_row, bic); F(moelab_select_row, cv_mse);
  F(moelab_select_row, converged); end();
  S(moelab_loss_spec); F(moelab_loss_spec, kind); F(moelab_loss_spec, r); F(moelab_loss_spec, translate);
  F(moelab_loss_spec, mu); end();
  S(moelab_loss_result); F(moelab_loss_result, spec); F(moelab_loss_result, value); F(moelab_loss_result, mass);
  F(moelab_loss_result, exact); F(moelab_loss_result, over); F(moelab_loss_result, canonical);
  F(moelab_loss_result, k); F(moelab_loss_result, k0); F(moelab_loss_result, d); F(moelab_loss_result, cell);
  F(moelab_loss_result, contribution); F(moelab_loss_result, e); F(moelab_loss_result, e_max);
  F(moelab_loss_result, rate_all); F(moelab_loss_result, rate_exact); F(moelab_loss_result, rate_over);
  F(moelab_loss_result, rate_all_unweighted); F(moelab_loss_result, empty_cells); F(moelab_loss_result, t0);
  F(moelab_loss_result, t1); F(moelab_loss_result, minimiser); end();
  printf("\n}\n");
  return 0;
}
