"""moelab: mixture-of-experts regression with sigmoid and softmax gating.

Python bindings of libmoelab (ctypes over the shared library, NumPy arrays):

    MoERegressor      least squares fits with scikit-learn conventions
    Model             a mixture of experts as in a model file
    load_model, save_model   model files, byte for byte as the CLI writes them
    simulate          draw (X, y) from a model, as `moelab simulate`
    voronoi_loss      the Voronoi loss of a fit against a reference, as `moelab loss --json`
    select_k          choose k by BIC or cross-validation, as `moelab fit --k K1..K2`

The shared library is found through $MOELAB_LIBRARY (a path), then beside this
package, then in the build tree (build/libmoelab.so), then on the system's
library path.  Errors of the library raise MoelabError (InvalidInputError, a
ValueError, for bad input) with its status, message, file, line and field.
"""

from ._capi import InvalidInputError, MoelabError, MoelabIOError, MoelabMemoryError, lib as _lib
from ._model import Model, load_model, save_model, simulate, voronoi_loss
from ._regressor import MoERegressor, NotFittedError, select_k

__version__ = _lib.moelab_version().decode()
library_path = _lib.path

__all__ = ["MoERegressor", "Model", "load_model", "save_model", "simulate", "voronoi_loss", "select_k",
           "MoelabError", "InvalidInputError", "MoelabIOError", "MoelabMemoryError", "NotFittedError",
           "library_path", "__version__"]
