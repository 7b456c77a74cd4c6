"""Models, model files, simulation and Voronoi losses."""

import contextlib
import ctypes
import json
import os
from ctypes import POINTER, byref, c_double, c_int, c_void_p

import numpy as np

from . import _capi as C
from ._capi import lib

# The parameters of each law in the model file's member names.
_LAW_KEYS = {"uniform": ("low", "high"), "grid": ("low", "high"), "normal": ("mean", "sd")}


def _enum(parse, kind, name):
    v = c_int()
    if not isinstance(name, str) or parse(name.encode(), byref(v)) != C.OK:
        raise ValueError(f"unknown {kind} {name!r}")
    return v.value


def _nparams(expert, d):
    return int(lib.moelab_expert_nparams(_enum(lib.moelab_expert_parse, "expert family", expert), d))


def _doubles(values, d, what):
    a = np.array(values, dtype=np.float64, ndmin=1).ravel()
    if a.size == 1 and d > 1:
        a = np.full(d, a[0])
    if a.size != d:
        raise ValueError(f"{what}: expected 1 or {d} numbers, got {a.size}")
    return a


class Model:
    """A k-atom mixture of experts, as in a model file (docs/file-formats.md).

    gate: "sigmoid" or "softmax"; expert: "relu", "gelu", "linear", "poly",
    "constant", "sigmoid" or "tanh"; degree: the poly degree (1 otherwise);
    d: input dimension; k: atoms; theta: the k * stride parameters, atom-major,
    each atom (beta0, beta1[0..d-1], eta[0..q-1]) with eta = (a[0..d-1], b), or
    (c) for constant experts; input: None or the input law as in the file,
    {"law": "uniform", "low": [...], "high": [...]}, {"law": "normal", "mean":
    [...], "sd": [...]} or {"law": "grid", ...}; noise: None or the noise
    variance; extra: None or the JSON object text of the file's other members
    (a fitted model's "fit" report), written back as it is.
    """

    def __init__(self, gate, expert, d, k, theta=None, degree=1, input=None, noise=None, extra=None):
        _enum(lib.moelab_gate_parse, "gate", gate)
        _enum(lib.moelab_expert_parse, "expert family", expert)
        self.gate = gate
        self.expert = expert
        self.degree = int(degree) if expert == "poly" else 1
        self.d = int(d)
        self.k = int(k)
        if self.d < 1 or self.k < 1:
            raise ValueError(f"d and k must be >= 1 (got d = {d}, k = {k})")
        p = self.k * self.stride
        self.theta = np.zeros(p) if theta is None else np.array(theta, dtype=np.float64).ravel()
        if self.theta.size != p:
            raise ValueError(f"theta: expected {p} parameters (k = {self.k}, stride = {self.stride}), "
                             f"got {self.theta.size}")
        if input is not None:
            law = input.get("law")
            if law not in _LAW_KEYS:
                raise ValueError(f"input: unknown law {law!r} (expected uniform, normal or grid)")
            ka, kb = _LAW_KEYS[law]
            input = {"law": law, ka: _doubles(input[ka], self.d, f"input.{ka}").tolist(),
                     kb: _doubles(input[kb], self.d, f"input.{kb}").tolist()}
        self.input = input
        self.noise = None if noise is None else float(noise)
        if extra is not None and not isinstance(extra, str):
            extra = json.dumps(extra)
        self.extra = extra

    # shape of the parameter vector
    @property
    def q(self):
        return _nparams(self.expert, self.d)

    @property
    def stride(self):
        return 1 + self.d + self.q

    @property
    def p(self):
        return self.k * self.stride

    @property
    def atoms(self):
        """The atoms as in the model file: [{"beta0": b0, "beta1": [...], "eta": [...]}, ...]."""
        t = self.theta.reshape(self.k, self.stride)
        return [{"beta0": float(a[0]), "beta1": a[1:1 + self.d].tolist(), "eta": a[1 + self.d:].tolist()}
                for a in t]

    @classmethod
    def from_atoms(cls, gate, expert, atoms, degree=1, input=None, noise=None, extra=None):
        """A model from a list of atoms {"beta0", "beta1", "eta"} (as in the file)."""
        if not atoms:
            raise ValueError("atoms: at least one atom is needed")
        d = len(np.ravel(atoms[0]["beta1"]))
        theta = np.concatenate([np.concatenate([[a["beta0"]], np.ravel(a["beta1"]), np.ravel(a["eta"])])
                                for a in atoms])
        return cls(gate, expert, d, len(atoms), theta, degree, input, noise, extra)

    @property
    def fit_report(self):
        """The "fit" member of a fitted model's file (a dict), or None."""
        if not self.extra:
            return None
        return json.loads(self.extra).get("fit")

    def to_json(self):
        """The model file's text, as the command-line tool writes it."""
        with c_model(self) as m:
            out = c_void_p()
            err = C.new_error()
            C.check(lib.moelab_model_to_string(m, byref(out), byref(err)), err)
            return C.take_string(out)

    @classmethod
    def from_json(cls, text, name="<string>"):
        """Parses a model file's text (errors name `name`)."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        ptr = C.MODEL()
        err = C.new_error()
        C.check(lib.moelab_model_read_buffer(data, len(data), name.encode(), byref(ptr), byref(err)), err)
        try:
            return from_c(ptr)
        finally:
            lib.moelab_model_free(ptr)

    def predict(self, X, threads=0):
        """f(x) at the rows of X (n x d)."""
        X = as_inputs(X, self.d)
        yhat = np.empty(X.shape[0])
        with c_model(self) as m:
            err = C.new_error()
            C.check(lib.moelab_model_predict(m, dptr(X), X.shape[0], dptr(yhat), int(threads), byref(err)), err)
        return yhat

    def components(self, X):
        """(gates, experts): the n x k arrays g_i(x) and h(x, eta_i) at the rows of X."""
        X = as_inputs(X, self.d)
        n = X.shape[0]
        g = np.empty((n, self.k))
        h = np.empty((n, self.k))
        with c_model(self) as m:
            err = C.new_error()
            C.check(lib.moelab_model_components(m, dptr(X), n, dptr(g), dptr(h), byref(err)), err)
        return g, h

    def copy(self):
        return Model(self.gate, self.expert, self.d, self.k, self.theta.copy(), self.degree,
                     None if self.input is None else dict(self.input), self.noise, self.extra)

    def __eq__(self, other):
        if not isinstance(other, Model):
            return NotImplemented
        return (self.gate, self.expert, self.degree, self.d, self.k, self.input, self.noise, self.extra) == \
               (other.gate, other.expert, other.degree, other.d, other.k, other.input, other.noise,
                other.extra) and np.array_equal(self.theta, other.theta)

    __hash__ = None

    def __repr__(self):
        extra = ", fitted" if self.fit_report is not None else ""
        law = f", input={self.input['law']}" if self.input else ""
        noise = f", noise={self.noise!r}" if self.noise is not None else ""
        deg = f", degree={self.degree}" if self.expert == "poly" else ""
        return f"Model(gate={self.gate!r}, expert={self.expert!r}{deg}, d={self.d}, k={self.k}{law}{noise}{extra})"


def dptr(a):
    return a.ctypes.data_as(POINTER(c_double))


def as_inputs(X, d=None):
    """X as a C-contiguous n x d float64 array; a 1-D X is one input column."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n samples x d inputs), got {X.ndim} dimensions")
    if d is not None and X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} input columns, the model has d = {d}")
    return np.ascontiguousarray(X)


@contextlib.contextmanager
def c_model(model):
    """A temporary C moelab_model * holding `model` (freed on exit)."""
    if not isinstance(model, Model):
        raise TypeError(f"expected a moelab.Model, got {type(model).__name__}")
    gate = _enum(lib.moelab_gate_parse, "gate", model.gate)
    expert = _enum(lib.moelab_expert_parse, "expert family", model.expert)
    ptr = C.MODEL()
    err = C.new_error()
    C.check(lib.moelab_model_new(gate, expert, model.degree if model.expert == "poly" else 1, model.d, model.k,
                                 byref(ptr), byref(err)), err)
    try:
        m = ptr.contents
        theta = np.ascontiguousarray(model.theta, dtype=np.float64)
        if theta.size != m.p:
            raise ValueError(f"theta: expected {m.p} parameters, got {theta.size}")
        ctypes.memmove(m.theta, theta.ctypes.data, theta.nbytes)
        if model.input is not None:
            law = _enum(lib.moelab_law_parse, "input law", model.input["law"])
            ka, kb = _LAW_KEYS[model.input["law"]]
            a = _doubles(model.input[ka], model.d, ka)
            b = _doubles(model.input[kb], model.d, kb)
            C.check(lib.moelab_model_set_input(ptr, law, dptr(a), dptr(b), byref(err)), err)
        if model.noise is not None:
            C.check(lib.moelab_model_set_noise(ptr, model.noise, byref(err)), err)
        if model.extra is not None:
            C.check(lib.moelab_model_set_extra(ptr, model.extra.encode(), byref(err)), err)
        yield ptr
    finally:
        lib.moelab_model_free(ptr)


def from_c(ptr):
    """A Model holding a copy of the C model *ptr."""
    m = ptr.contents
    theta = np.ctypeslib.as_array(m.theta, shape=(m.p,)).copy()
    law = None
    if m.has_input:
        name = lib.moelab_law_name(m.input.law).decode()
        ka, kb = _LAW_KEYS[name]
        law = {"law": name, ka: np.ctypeslib.as_array(m.input.a, shape=(m.d,)).tolist(),
               kb: np.ctypeslib.as_array(m.input.b, shape=(m.d,)).tolist()}
    return Model(lib.moelab_gate_name(m.gate).decode(), lib.moelab_expert_name(m.expert).decode(), m.d, m.k, theta,
                 m.degree, law, m.noise if m.has_noise else None, m.extra.decode() if m.extra else None)


def as_model(obj):
    """A Model from a Model, a fitted MoERegressor or a model file's path."""
    if isinstance(obj, Model):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return load_model(obj)
    model = getattr(obj, "model_", None)
    if isinstance(model, Model):
        return model
    raise TypeError(f"expected a moelab.Model, a fitted MoERegressor or a model file path, got {type(obj).__name__}")


def load_model(path):
    """Reads a model file (JSON) with the library's reader (the CLI's)."""
    ptr = C.MODEL()
    err = C.new_error()
    C.check(lib.moelab_model_read_file(os.fsencode(path), byref(ptr), byref(err)), err)
    try:
        return from_c(ptr)
    finally:
        lib.moelab_model_free(ptr)


def save_model(model, path):
    """Writes `model` to `path` with the library's writer, atomically (a
    temporary file renamed), byte for byte as the command-line tool would."""
    model = as_model(model)
    if os.fspath(path) == "-":
        raise ValueError("save_model: give a file path (use Model.to_json() for the text)")
    with c_model(model) as m:
        out = c_void_p()
        err = C.new_error()
        C.check(lib.moelab_outfile_new(os.fsencode(path), byref(out), byref(err)), err)
        try:
            C.check(lib.moelab_model_write(lib.moelab_outfile_stream(out), m, byref(err)), err)
            C.check(lib.moelab_outfile_commit(out, byref(err)), err)
        finally:
            lib.moelab_outfile_free(out)


def simulate(model, n, seed=0, stream=0):
    """Draws n samples from `model` (which needs an input law): returns (X, y),
    X of shape (n, d), y = f(X) + N(0, noise).  Inputs come from the random
    stream (seed, 2 stream), the noise from (seed, 2 stream + 1): the same as
    `moelab simulate --seed SEED --stream STREAM`."""
    model = as_model(model)
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    if seed < 0 or stream < 0:
        raise ValueError("seed and stream must be >= 0")
    with c_model(model) as m:
        data = POINTER(C.moelab_data)()
        err = C.new_error()
        C.check(lib.moelab_simulate(m, None, int(n), int(seed), int(stream), byref(data), byref(err)), err)
        try:
            D = data.contents
            X = np.ctypeslib.as_array(D.X, shape=(D.n, D.d)).copy()
            y = np.ctypeslib.as_array(D.y, shape=(D.n,)).copy()
        finally:
            lib.moelab_data_free(data)
    return X, y


def voronoi_loss(fit_model, ref_model, loss="D1", translate=True):
    """The Voronoi loss of a fitted model against a reference (the truth or
    Gbar): "D1", "D2:r", "D3" or "Lbar".  Returns the dict that `moelab loss
    --json` prints: loss, value, terms (mass, exact, overspecified), cells,
    expert_rate, e, e_max, empty_cells, canonical, translation (softmax)."""
    fit = as_model(fit_model)
    ref = as_model(ref_model)
    spec = C.moelab_loss_spec()
    err = C.new_error()
    C.check(lib.moelab_loss_parse(str(loss).encode(), byref(spec), byref(err)), err)
    spec.translate = 1 if translate else 0
    with c_model(fit) as f, c_model(ref) as r:
        res = POINTER(C.moelab_loss_result)()
        C.check(lib.moelab_loss(f, r, byref(spec), byref(res), byref(err)), err)
        try:
            text = c_void_p()
            C.check(lib.moelab_loss_result_json(res, byref(text), byref(err)), err)
            return json.loads(C.take_string(text))
        finally:
            lib.moelab_loss_result_free(res)
