"""MoERegressor: least squares mixtures of experts with scikit-learn conventions."""

import inspect
import math
from ctypes import POINTER, byref, c_size_t

import numpy as np

from . import _capi as C
from ._capi import lib
from ._model import Model, as_inputs, as_model, c_model, dptr, from_c

_BOX_DEFAULT = (-10.0, 10.0)


class NotFittedError(ValueError, AttributeError):
    """predict or score before fit."""


def _range(box, key):
    lo, hi = box.get(key, _BOX_DEFAULT) if isinstance(box, dict) else _BOX_DEFAULT
    return float(lo), float(hi)


class MoERegressor:
    """A k-atom mixture of experts f(x) = sum_i g_i(x) h(x, eta_i) fitted by
    least squares (libmoelab's moelab_fit: projected Levenberg-Marquardt with
    restarts, the box Theta and, for softmax, the sum-to-zero gauge).

    The parameters are those of `moelab fit` (docs/fitting.md):
      gate        "sigmoid" or "softmax"
      expert      "relu", "gelu", "linear", "poly", "constant", "sigmoid", "tanh"
      k           atoms
      degree      the poly degree (ignored by the other families)
      restarts    independent starts; the smallest objective wins
      seed        restart r draws from the random stream (seed, stream_base + r)
      init        "random", "kmeans", or a Model (or model file path) to start from
      perturb     model start: relative perturbation of every parameter
      max_iter    iterations per restart
      threads     OpenMP threads, 0 = all cores (the result does not depend on it)
      box         None (every block in [-10, 10]) or a dict {"beta0": (lo, hi),
                  "beta1": (lo, hi), "eta": (lo, hi)} (missing blocks: [-10, 10])
      gtol, dtol, ftol, xtol, stat_tol, kink_tol   stopping rules (--gtol ... of moelab fit)
      accel       geodesic acceleration
      newton      damped Newton steps on the full second-order model (moelab fit --newton)
      compute_se  standard errors
      split       model start with a larger k: the atoms to split (None: the heaviest)
      split_fraction  weight share of the first copy of a split atom
      stream_base first random stream of the restarts

    Fitted attributes: model_ (a Model, with the fit report in its "fit"
    member, as `moelab fit -o` writes it), atoms_ (list of dicts as in the
    model file), theta_ (the parameter vector), report_ (dict), se_ (standard
    errors, NaN where unavailable), n_features_in_.
    """

    def __init__(self, gate="sigmoid", expert="relu", k=3, degree=1, restarts=8, seed=0, init="random",
                 perturb=0.1, max_iter=1000, threads=0, box=None, gtol=1e-8, dtol=1e-12, ftol=1e-15, xtol=1e-15,
                 stat_tol=0.0, accel=True, compute_se=True, split=None, split_fraction=0.5, stream_base=0,
                 newton=False, kink_tol=1e-10):
        self.gate = gate
        self.expert = expert
        self.k = k
        self.degree = degree
        self.restarts = restarts
        self.seed = seed
        self.init = init
        self.perturb = perturb
        self.max_iter = max_iter
        self.threads = threads
        self.box = box
        self.gtol = gtol
        self.dtol = dtol
        self.ftol = ftol
        self.xtol = xtol
        self.stat_tol = stat_tol
        self.accel = accel
        self.newton = newton
        self.kink_tol = kink_tol
        self.compute_se = compute_se
        self.split = split
        self.split_fraction = split_fraction
        self.stream_base = stream_base

    # -- scikit-learn parameter protocol ---------------------------------------------------
    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values() if p.name != "self")

    def get_params(self, deep=True):
        """The constructor's parameters as a dict (deep is accepted for
        compatibility; no parameter is itself an estimator)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Sets parameters by name; returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for MoERegressor; valid parameters: {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name in self._get_param_names():
            value = getattr(self, name)
            default = defaults[name]
            same = value is default or (not isinstance(value, (Model, np.ndarray)) and value == default)
            if not same:
                changed.append(f"{name}={value!r}")
        return f"MoERegressor({', '.join(changed)})"

    def _more_tags(self):
        return {"requires_y": True}

    # -- options ------------------------------------------------------------------------------
    def _options(self, keep):
        """A moelab_fit_options from the parameters; `keep` collects the
        objects the options point to (they must outlive the fit)."""
        o = C.moelab_fit_options()
        lib.moelab_fit_options_init(byref(o))
        o.gate = self._enum(lib.moelab_gate_parse, "gate", self.gate)
        o.expert = self._enum(lib.moelab_expert_parse, "expert", self.expert)
        o.degree = int(self.degree) if o.expert == C.EXPERT_POLY else 1
        o.k = self._whole("k", self.k, 1)
        o.restarts = self._whole("restarts", self.restarts, 1)
        o.seed = self._whole("seed", self.seed, 0)
        o.stream_base = self._whole("stream_base", self.stream_base, 0)
        o.max_iter = self._whole("max_iter", self.max_iter, 0)
        o.threads = self._whole("threads", self.threads, 0)
        o.perturb = float(self.perturb)
        o.gtol, o.dtol, o.ftol = float(self.gtol), float(self.dtol), float(self.ftol)
        o.xtol, o.stat_tol, o.kink_tol = float(self.xtol), float(self.stat_tol), float(self.kink_tol)
        o.split_fraction = float(self.split_fraction)
        o.accel = 1 if self.accel else 0
        o.newton = 1 if self.newton else 0
        o.compute_se = 1 if self.compute_se else 0
        if self.box is not None:
            if not isinstance(self.box, dict) or set(self.box) - {"beta0", "beta1", "eta"}:
                raise ValueError(f"box: expected None or a dict with keys beta0, beta1, eta; got {self.box!r}")
            o.box.beta0_lo, o.box.beta0_hi = _range(self.box, "beta0")
            o.box.beta1_lo, o.box.beta1_hi = _range(self.box, "beta1")
            o.box.eta_lo, o.box.eta_hi = _range(self.box, "eta")
        init = self.init
        if isinstance(init, str) and init in ("random", "kmeans"):
            o.init = C.INITS.index(init)
        elif isinstance(init, str) and init.startswith("model:") and len(init) > 6:
            o.init = C.INIT_MODEL
            keep.append(as_model(init[6:]))
        elif init is not None and not isinstance(init, (str, bytes)):
            o.init = C.INIT_MODEL
            keep.append(as_model(init))
        else:
            raise ValueError(f"init: expected 'random', 'kmeans', 'model:PATH' or a Model; got {init!r}")
        if self.split is not None:
            split = np.ascontiguousarray(np.ravel(self.split), dtype=np.uintp)
            keep.append(split)
            o.split = split.ctypes.data_as(POINTER(c_size_t))
            o.nsplit = split.size
        return o

    @staticmethod
    def _enum(parse, kind, name):
        from ._model import _enum
        return _enum(parse, kind, name)

    @staticmethod
    def _whole(name, value, minimum):
        if isinstance(value, bool) or int(value) != value or value < minimum:
            raise ValueError(f"{name}: expected a whole number >= {minimum}, got {value!r}")
        return int(value)

    @staticmethod
    def _data(X, y, sample_weight):
        X = as_inputs(X)
        y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).ravel())
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
        w = None
        if sample_weight is not None:
            w = np.ascontiguousarray(np.asarray(sample_weight, dtype=np.float64).ravel())
            if w.shape[0] != X.shape[0]:
                raise ValueError(f"sample_weight has {w.shape[0]} entries, X has {X.shape[0]} rows")
        view = C.moelab_data_view(X.shape[0], X.shape[1], dptr(X), dptr(y))
        return X, y, w, view

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fits the model to X (n x d; a 1-D X is one input) and y (n); returns self."""
        X, y, w, view = self._data(X, y, sample_weight)
        keep = []
        opt = self._options(keep)
        if w is not None:
            opt.weights = dptr(w)
        start = next((m for m in keep if isinstance(m, Model)), None)
        err = C.new_error()
        ptr = C.MODEL()
        rep = POINTER(C.moelab_fit_report)()
        if start is not None:
            with c_model(start) as m0:
                opt.init_model = m0
                status = lib.moelab_fit(byref(view), byref(opt), byref(ptr), byref(rep), byref(err))
        else:
            status = lib.moelab_fit(byref(view), byref(opt), byref(ptr), byref(rep), byref(err))
        C.check(status, err)
        try:
            self.model_ = from_c(ptr)
            self.report_ = _report(rep.contents)
        finally:
            lib.moelab_model_free(ptr)
            lib.moelab_fit_report_free(rep)
        self.n_features_in_ = X.shape[1]
        self.theta_ = self.model_.theta.copy()
        self.atoms_ = self.model_.atoms
        self.se_ = self.report_["se"]
        return self

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise NotFittedError("this MoERegressor is not fitted yet: call fit(X, y) first")

    def predict(self, X):
        """f(x) at the rows of X."""
        self._check_fitted()
        return self.model_.predict(as_inputs(X, self.n_features_in_), threads=int(self.threads))

    def score(self, X, y, sample_weight=None):
        """The coefficient of determination R^2 of predict(X) against y."""
        y = np.asarray(y, dtype=np.float64).ravel()
        yhat = self.predict(X)
        w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
        ybar = np.average(y, weights=w)
        ss_res = float(np.sum(w * (y - yhat) ** 2))
        ss_tot = float(np.sum(w * (y - ybar) ** 2))
        if ss_tot == 0.0:
            return 1.0 if ss_res == 0.0 else 0.0
        return 1.0 - ss_res / ss_tot

    def components(self, X):
        """(gates, experts): n x k arrays of g_i(x) and h(x, eta_i)."""
        self._check_fitted()
        return self.model_.components(as_inputs(X, self.n_features_in_))


def _report(r):
    """The fit report as a dict (the members of the "fit" member of fitted model files)."""
    p = r.p
    se = np.ctypeslib.as_array(r.se, shape=(p,)).copy() if r.se and p else np.full(p, math.nan)
    at_bound = np.ctypeslib.as_array(r.at_bound, shape=(p,)).copy() if r.at_bound and p else np.zeros(p, int)
    restarts = [{"sse": x.sse, "iterations": x.iterations, "stop": lib.moelab_stop_name(x.stop).decode(), "grad_norm": x.grad_norm,
                 "decrement": x.decrement, "converged": bool(x.converged)}
                for x in (r.restart[i] for i in range(r.restarts))] if r.restart else []
    return {"n": r.n, "d": r.d, "k": r.k, "p": p, "p_free": r.p_free, "sse": r.sse, "mse": r.mse,
            "grad_norm": r.grad_norm, "decrement": r.decrement, "iterations": r.iterations,
            "stop": lib.moelab_stop_name(r.stop).decode(), "converged": bool(r.converged),
            "restarts": r.restarts, "restarts_converged": r.restarts_converged,
            "restarts_failed": r.restarts_failed, "best_restart": r.best_restart, "seconds": r.seconds,
            "se_available": bool(r.se_available), "rcond": r.rcond, "sigma2": r.sigma2, "se": se,
            "at_bound": at_bound, "n_at_bound": r.n_at_bound, "restart": restarts}


def select_k(X, y, k_min, k_max, rule="bic", folds=5, sample_weight=None, **params):
    """Fits k = k_min..k_max with the MoERegressor parameters `params` and
    chooses k by BIC (n log(SSE/n) + p_free log n) or by `folds`-fold
    cross-validated MSE (rule="cv"), as `moelab fit --k K1..K2 --select RULE`.
    Returns (best_k, table): table has one dict per k (k, sse, mse, p_free,
    bic, cv_mse, converged)."""
    if rule not in ("bic", "cv"):
        raise ValueError(f"rule: expected 'bic' or 'cv', got {rule!r}")
    est = MoERegressor(**params)
    X, y, w, view = est._data(X, y, sample_weight)
    k_min = est._whole("k_min", k_min, 1)
    k_max = est._whole("k_max", k_max, k_min)
    keep = []
    opt = est._options(keep)
    if w is not None:
        opt.weights = dptr(w)
    rows = (C.moelab_select_row * (k_max - k_min + 1))()
    best = c_size_t()
    err = C.new_error()
    start = next((m for m in keep if isinstance(m, Model)), None)
    args = (k_min, k_max, 0 if rule == "bic" else 1, est._whole("folds", folds, 2), rows, byref(best), None,
            byref(err))
    if start is not None:
        with c_model(start) as m0:
            opt.init_model = m0
            status = lib.moelab_select_k(byref(view), byref(opt), *args)
    else:
        status = lib.moelab_select_k(byref(view), byref(opt), *args)
    C.check(status, err)
    table = [{"k": r.k, "sse": r.sse, "mse": r.mse, "p_free": r.p_free, "bic": r.bic, "cv_mse": r.cv_mse,
              "converged": bool(r.converged)} for r in rows]
    return best.value, table
