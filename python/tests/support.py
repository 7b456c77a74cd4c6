"""Shared helpers of the Python tests: where the package, the CLI and the
example files are, running the CLI, CSV files."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402

import moelab  # noqa: E402,F401

# The command-line tool: $MOELAB_CLI (set by ctest), else the build tree's.
CLI = os.environ.get("MOELAB_CLI") or os.path.join(ROOT, "build", "moelab")
EXAMPLE = os.path.join(ROOT, "examples", "model-sigmoid-relu.json")
BAD = os.path.join(ROOT, "tests", "bad")


def cli(*args, check=True):
    """Runs the CLI; returns the CompletedProcess (text)."""
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"moelab {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}")
    return r


def write_csv(path, X, y=None):
    """A data file with columns x1..xd (and y), each double in its shortest round-trip form."""
    X = np.asarray(X).reshape(len(X), -1)
    names = [f"x{j + 1}" for j in range(X.shape[1])] + (["y"] if y is not None else [])
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(X.shape[0]):
            row = [repr(float(v)) for v in X[i]] + ([repr(float(y[i]))] if y is not None else [])
            f.write(",".join(row) + "\n")


def read_csv(path):
    """The columns of a CSV written by the CLI, as a dict of float arrays."""
    with open(path) as f:
        names = f.readline().strip().split(",")
        rows = [[float(v) for v in line.strip().split(",")] for line in f if line.strip()]
    a = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    return {name: a[:, j] for j, name in enumerate(names)}
