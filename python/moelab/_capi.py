"""ctypes declarations of libmoelab (include/moelab.h) and the library loader.

Every structure below mirrors its C declaration field for field, in the same
order and with the same types (size_t -> c_size_t, enums -> c_int, uint64_t ->
c_uint64, pointers to sig_atomic_t and callbacks -> c_void_p); the tests
compare their sizes and offsets with the C compiler's (tests/abi_layout.c).
"""

import ctypes
import ctypes.util
import glob
import os
from ctypes import (POINTER, Structure, byref, c_char, c_char_p, c_double, c_int, c_long, c_size_t, c_uint64,
                    c_void_p)

API_VERSION = 1  # MOELAB_API_VERSION of the header these declarations follow

ERRMSG_MAX = 512
ERRFILE_MAX = 512
ERRFIELD_MAX = 128

# moelab_status
OK, EINVAL, EPARSE, EIO, ENOMEM, ENUMERIC, ELIMIT, EINTR, ENOTFOUND = range(9)

GATES = ("sigmoid", "softmax")
EXPERTS = ("relu", "gelu", "linear", "poly", "constant", "sigmoid", "tanh")
LAWS = ("uniform", "normal", "grid")
INITS = ("random", "kmeans", "model")
STOPS = ("stationary", "zero-residual", "ftol", "xtol", "max-iter", "stalled", "numeric", "interrupted",
         "noise-level", "kink")
EXPERT_POLY = 3
INIT_MODEL = 2


class moelab_error(Structure):
    _fields_ = [("status", c_int),
                ("message", c_char * ERRMSG_MAX),
                ("file", c_char * ERRFILE_MAX),
                ("line", c_long),
                ("field", c_char * ERRFIELD_MAX)]


class moelab_input(Structure):
    _fields_ = [("law", c_int),
                ("a", POINTER(c_double)),
                ("b", POINTER(c_double))]


class moelab_model(Structure):
    _fields_ = [("gate", c_int),
                ("expert", c_int),
                ("degree", c_int),
                ("d", c_size_t),
                ("k", c_size_t),
                ("q", c_size_t),
                ("stride", c_size_t),
                ("p", c_size_t),
                ("theta", POINTER(c_double)),
                ("has_input", c_int),
                ("input", moelab_input),
                ("has_noise", c_int),
                ("noise", c_double),
                ("extra", c_char_p)]


class moelab_data_view(Structure):
    _fields_ = [("n", c_size_t),
                ("d", c_size_t),
                ("X", POINTER(c_double)),
                ("y", POINTER(c_double))]


class moelab_data(Structure):
    _fields_ = [("n", c_size_t),
                ("d", c_size_t),
                ("X", POINTER(c_double)),
                ("y", POINTER(c_double)),
                ("names", POINTER(c_char_p))]


class moelab_box(Structure):
    _fields_ = [("beta0_lo", c_double), ("beta0_hi", c_double),
                ("beta1_lo", c_double), ("beta1_hi", c_double),
                ("eta_lo", c_double), ("eta_hi", c_double)]


class moelab_fit_options(Structure):
    _fields_ = [("gate", c_int),
                ("expert", c_int),
                ("degree", c_int),
                ("k", c_size_t),
                ("init", c_int),
                ("init_model", POINTER(moelab_model)),
                ("perturb", c_double),
                ("restarts", c_size_t),
                ("threads", c_int),
                ("seed", c_uint64),
                ("stream_base", c_uint64),
                ("max_iter", c_size_t),
                ("gtol", c_double),
                ("dtol", c_double),
                ("ftol", c_double),
                ("stat_tol", c_double),
                ("xtol", c_double),
                ("box", moelab_box),
                ("accel", c_int),
                ("weights", POINTER(c_double)),
                ("split", POINTER(c_size_t)),
                ("nsplit", c_size_t),
                ("split_fraction", c_double),
                ("compute_se", c_int),
                ("se_rcond_min", c_double),
                ("stop_flag", c_void_p),  # const volatile sig_atomic_t *
                ("newton", c_int),
                ("kink_tol", c_double)]


class moelab_restart_info(Structure):
    _fields_ = [("sse", c_double),
                ("iterations", c_size_t),
                ("stop", c_int),
                ("grad_norm", c_double),
                ("decrement", c_double),
                ("converged", c_int)]


class moelab_fit_report(Structure):
    _fields_ = [("n", c_size_t),
                ("d", c_size_t),
                ("k", c_size_t),
                ("p", c_size_t),
                ("p_free", c_size_t),
                ("sse", c_double),
                ("mse", c_double),
                ("grad_norm", c_double),
                ("decrement", c_double),
                ("iterations", c_size_t),
                ("stop", c_int),
                ("converged", c_int),
                ("restarts", c_size_t),
                ("restarts_converged", c_size_t),
                ("restarts_failed", c_size_t),
                ("best_restart", c_size_t),
                ("seconds", c_double),
                ("se_available", c_int),
                ("rcond", c_double),
                ("sigma2", c_double),
                ("se", POINTER(c_double)),
                ("at_bound", POINTER(c_int)),
                ("n_at_bound", c_size_t),
                ("restart", POINTER(moelab_restart_info))]


class moelab_select_row(Structure):
    _fields_ = [("k", c_size_t),
                ("sse", c_double),
                ("mse", c_double),
                ("p_free", c_size_t),
                ("bic", c_double),
                ("cv_mse", c_double),
                ("converged", c_int)]


class moelab_loss_spec(Structure):
    _fields_ = [("kind", c_int),
                ("r", c_double),
                ("translate", c_int),
                ("mu", POINTER(moelab_input))]


class moelab_loss_result(Structure):
    _fields_ = [("spec", moelab_loss_spec),
                ("value", c_double),
                ("mass", c_double),
                ("exact", c_double),
                ("over", c_double),
                ("canonical", c_double),
                ("k", c_size_t),
                ("k0", c_size_t),
                ("d", c_size_t),
                ("cell", POINTER(c_size_t)),
                ("contribution", POINTER(c_double)),
                ("e", POINTER(c_double)),
                ("e_max", POINTER(c_double)),
                ("rate_all", c_double),
                ("rate_exact", c_double),
                ("rate_over", c_double),
                ("rate_all_unweighted", c_double),
                ("empty_cells", c_size_t),
                ("t0", c_double),
                ("t1", POINTER(c_double)),
                ("minimiser", c_char_p)]


# Structures whose layout the tests compare with the C compiler's.
STRUCTS = {c.__name__: c for c in (moelab_error, moelab_input, moelab_model, moelab_data_view, moelab_data,
                                   moelab_box, moelab_fit_options, moelab_restart_info, moelab_fit_report,
                                   moelab_select_row, moelab_loss_spec, moelab_loss_result)}

P = POINTER
ERR = P(moelab_error)
MODEL = P(moelab_model)

# name: (restype, argtypes)
PROTOTYPES = {
    "moelab_version": (c_char_p, []),
    "moelab_api_version": (c_int, []),
    "moelab_status_str": (c_char_p, [c_int]),
    "moelab_error_clear": (None, [ERR]),
    "moelab_error_format": (c_int, [ERR, c_char_p, c_size_t]),
    "moelab_gate_name": (c_char_p, [c_int]),
    "moelab_expert_name": (c_char_p, [c_int]),
    "moelab_law_name": (c_char_p, [c_int]),
    "moelab_gate_parse": (c_int, [c_char_p, P(c_int)]),
    "moelab_expert_parse": (c_int, [c_char_p, P(c_int)]),
    "moelab_law_parse": (c_int, [c_char_p, P(c_int)]),
    "moelab_expert_nparams": (c_size_t, [c_int, c_size_t]),
    "moelab_model_new": (c_int, [c_int, c_int, c_int, c_size_t, c_size_t, P(MODEL), ERR]),
    "moelab_model_free": (None, [MODEL]),
    "moelab_model_set_input": (c_int, [MODEL, c_int, P(c_double), P(c_double), ERR]),
    "moelab_model_set_noise": (c_int, [MODEL, c_double, ERR]),
    "moelab_model_set_extra": (c_int, [MODEL, c_char_p, ERR]),
    "moelab_model_validate": (c_int, [MODEL, ERR]),
    "moelab_model_predict": (c_int, [MODEL, P(c_double), c_size_t, P(c_double), c_int, ERR]),
    "moelab_model_components": (c_int, [MODEL, P(c_double), c_size_t, P(c_double), P(c_double), ERR]),
    "moelab_data_free": (None, [P(moelab_data)]),
    "moelab_simulate": (c_int, [MODEL, P(moelab_input), c_size_t, c_uint64, c_uint64, P(P(moelab_data)), ERR]),
    "moelab_fit_options_init": (None, [P(moelab_fit_options)]),
    "moelab_fit": (c_int, [P(moelab_data_view), P(moelab_fit_options), P(MODEL), P(P(moelab_fit_report)), ERR]),
    "moelab_fit_report_free": (None, [P(moelab_fit_report)]),
    "moelab_stop_name": (c_char_p, [c_int]),
    "moelab_select_k": (c_int, [P(moelab_data_view), P(moelab_fit_options), c_size_t, c_size_t, c_int, c_size_t,
                                P(moelab_select_row), P(c_size_t), P(MODEL), ERR]),
    "moelab_loss_parse": (c_int, [c_char_p, P(moelab_loss_spec), ERR]),
    "moelab_loss": (c_int, [MODEL, MODEL, P(moelab_loss_spec), P(P(moelab_loss_result)), ERR]),
    "moelab_loss_result_free": (None, [P(moelab_loss_result)]),
    # returns a malloc'ed string through char **: read as c_void_p and freed with free()
    "moelab_loss_result_json": (c_int, [P(moelab_loss_result), P(c_void_p), ERR]),
    "moelab_model_read_file": (c_int, [c_char_p, P(MODEL), ERR]),
    "moelab_model_read_buffer": (c_int, [c_char_p, c_size_t, c_char_p, P(MODEL), ERR]),
    "moelab_model_to_string": (c_int, [MODEL, P(c_void_p), ERR]),
    "moelab_model_write": (c_int, [c_void_p, MODEL, ERR]),
    "moelab_outfile_new": (c_int, [c_char_p, P(c_void_p), ERR]),
    "moelab_outfile_stream": (c_void_p, [c_void_p]),
    "moelab_outfile_commit": (c_int, [c_void_p, ERR]),
    "moelab_outfile_free": (None, [c_void_p]),
}


class MoelabError(Exception):
    """An error reported by libmoelab: status, message, file, line and field
    (file is empty and line 0 when the error is not tied to a place in a file;
    field names the offending option, CSV column or JSON path, or is empty)."""

    def __init__(self, status, message, file="", line=0, field="", text=None):
        self.status = status
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(text if text is not None else message)


class InvalidInputError(MoelabError, ValueError):
    """Bad input: an invalid argument or option, a malformed file, a limit exceeded."""


class MoelabIOError(MoelabError, OSError):
    """A file could not be read or written, or a named item does not exist."""


class MoelabMemoryError(MoelabError, MemoryError):
    """An allocation failed inside the library."""


_ERROR_CLASSES = {EINVAL: InvalidInputError, EPARSE: InvalidInputError, ELIMIT: InvalidInputError,
                  EIO: MoelabIOError, ENOTFOUND: MoelabIOError, ENOMEM: MoelabMemoryError}


def _candidates(here):
    env = os.environ.get("MOELAB_LIBRARY")
    if env:
        return [env], True
    found = sorted(glob.glob(os.path.join(here, "libmoelab.so*")), key=len)
    build = os.path.normpath(os.path.join(here, "..", "..", "build", "libmoelab.so"))
    if os.path.exists(build):
        found.append(build)
    system = ctypes.util.find_library("moelab")
    found += [system] if system else []
    found.append("libmoelab.so.0")
    return found, False


def load_library():
    """Loads libmoelab: $MOELAB_LIBRARY (a path), else a libmoelab.so* beside the
    package, else the build tree (../../build/libmoelab.so), else the system's
    loader path.  Raises ImportError when none loads."""
    here = os.path.dirname(os.path.abspath(__file__))
    paths, from_env = _candidates(here)
    errors = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            errors.append(f"{path}: {e}")
            if from_env:
                raise ImportError(f"moelab: cannot load $MOELAB_LIBRARY={path}: {e}") from e
    else:
        raise ImportError("moelab: cannot find libmoelab (set MOELAB_LIBRARY to its path); tried:\n  " +
                          "\n  ".join(errors))
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    if lib.moelab_api_version() != API_VERSION:
        raise ImportError(f"moelab: {lib._name} has API version {lib.moelab_api_version()}, "
                          f"these bindings follow version {API_VERSION}")
    lib.path = lib._name
    _gsl_error_handler_off(lib)
    return lib


def _gsl_error_handler_off(lib):
    # GSL's default error handler aborts the process (on an allocation failure,
    # for instance); the library checks every GSL status, so, as moelab.h asks of
    # applications, switch the handler off, in the GSL that libmoelab loaded.
    try:
        fn = lib.gsl_set_error_handler_off  # dlsym on the handle searches its dependencies
    except AttributeError:
        name = ctypes.util.find_library("gsl")
        if not name:
            return
        fn = ctypes.CDLL(name).gsl_set_error_handler_off
    fn.restype = c_void_p
    fn.argtypes = []
    fn()


lib = load_library()
libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None


def new_error():
    return moelab_error()


def raise_error(status, err):
    """Raises the exception for `status` with the details of `err`."""
    buf = ctypes.create_string_buffer(2048)
    lib.moelab_error_format(byref(err), buf, len(buf))
    text = buf.value.decode("utf-8", "replace")
    message = err.message.decode("utf-8", "replace") or lib.moelab_status_str(status).decode()
    cls = _ERROR_CLASSES.get(status, MoelabError)
    raise cls(status, message, err.file.decode("utf-8", "replace"), err.line,
              err.field.decode("utf-8", "replace"), text or message)


def check(status, err):
    if status != OK:
        raise_error(status, err)


def take_string(ptr):
    """The text of a malloc'ed char * (c_void_p), freed."""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        libc.free(ptr)
