"""MoERegressor: the same fit as the command-line tool, scikit-learn conventions, errors."""

import os
import shutil
import tempfile
import unittest

import numpy as np

import support
from support import cli, read_csv, write_csv
import moelab
from moelab import InvalidInputError, MoERegressor, MoelabError, NotFittedError


def cli_args(params):
    """`moelab fit` options equivalent to MoERegressor parameters: every option explicit
    (the CLI's own defaults differ: --degree 2, --k 2, --restarts 1)."""
    p = dict(params)
    box = p["box"] or {}
    init = p["init"]
    args = ["--gate", p["gate"], "--expert", p["expert"], "--degree", p["degree"], "--k", p["k"],
            "--init", init if isinstance(init, str) else "model:" + init.path, "--perturb", repr(p["perturb"]),
            "--restarts", p["restarts"], "--seed", p["seed"], "--max-iter", p["max_iter"],
            "--threads", p["threads"], "--gtol", repr(p["gtol"]), "--dtol", repr(p["dtol"]),
            "--ftol", repr(p["ftol"]), "--xtol", repr(p["xtol"]), "--stat-tol", repr(p["stat_tol"]),
            "--kink-tol", repr(p["kink_tol"]), "--split-fraction", repr(p["split_fraction"])]
    for key in ("beta0", "beta1", "eta"):
        lo, hi = box.get(key, (-10.0, 10.0))
        args.append(f"--box-{key}={lo!r},{hi!r}")
    if not p["accel"]:
        args.append("--no-accel")
    if not p["compute_se"]:
        args.append("--no-se")
    if p["newton"]:
        args.append("--newton")
    return args


def without_seconds(path):
    with open(path) as f:
        return [line for line in f if '"seconds"' not in line]


class TestAgainstCLI(unittest.TestCase):
    """fit(X, y).predict(X) equals `moelab fit` + `moelab predict` on the same data and seed."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        truth = moelab.load_model(support.EXAMPLE)
        cls.X, cls.y = moelab.simulate(truth, 1500, seed=11)
        cls.data = os.path.join(cls.tmp, "data.csv")
        write_csv(cls.data, cls.X, cls.y)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def check_same_as_cli(self, est, tag):
        fit_path = os.path.join(self.tmp, f"fit-{tag}.json")
        pred_path = os.path.join(self.tmp, f"pred-{tag}.csv")
        cli("fit", self.data, *cli_args(est.get_params()), "-q", "-o", fit_path)
        cli("predict", "--model", fit_path, self.data, "-o", pred_path)
        yhat_cli = read_csv(pred_path)["yhat"]
        yhat = est.fit(self.X, self.y).predict(self.X)
        self.assertEqual(yhat.shape, yhat_cli.shape)
        self.assertLessEqual(float(np.max(np.abs(yhat - yhat_cli))), 1e-12)
        fitted = moelab.load_model(fit_path)
        np.testing.assert_allclose(est.theta_, fitted.theta, rtol=0, atol=1e-12)
        # the Python fit's model file is the CLI's, but for the wall time
        mine = os.path.join(self.tmp, f"mine-{tag}.json")
        moelab.save_model(est.model_, mine)
        self.assertEqual(without_seconds(mine), without_seconds(fit_path))
        return fitted

    def test_sigmoid_relu_random_start(self):
        est = MoERegressor(gate="sigmoid", expert="relu", k=3, degree=1, restarts=8, seed=0, init="random")
        self.check_same_as_cli(est, "sigmoid-relu")
        self.assertEqual(est.report_["restarts"], 8)

    def test_softmax_linear_kmeans_box(self):
        est = MoERegressor(gate="softmax", expert="linear", k=2, restarts=3, seed=5, init="kmeans",
                           box={"beta0": (-5.0, 5.0), "eta": (-8.0, 8.0)}, stat_tol=1e-3, threads=1)
        self.check_same_as_cli(est, "softmax-linear")

    def test_poly_degree_and_plain_steps(self):
        est = MoERegressor(gate="sigmoid", expert="poly", degree=3, k=2, restarts=2, seed=9, max_iter=200,
                           accel=False, compute_se=False)
        self.check_same_as_cli(est, "poly")
        self.assertEqual(est.model_.degree, 3)
        self.assertTrue(np.all(np.isnan(est.se_)))

    def test_model_start(self):
        start = moelab.load_model(support.EXAMPLE)
        start.path = support.EXAMPLE
        est = MoERegressor(gate="sigmoid", expert="relu", k=3, restarts=2, seed=1, init=start, perturb=0.2)
        self.check_same_as_cli(est, "model-start")

    def test_relu_crawl_and_newton(self):
        start = moelab.load_model(support.EXAMPLE)
        start.path = support.EXAMPLE
        est = MoERegressor(gate="sigmoid", expert="relu", k=3, restarts=1, seed=3, init=start, kink_tol=0.0)
        self.check_same_as_cli(est, "relu-crawl")
        self.assertNotEqual(est.report_["stop"], "kink")
        est = MoERegressor(gate="sigmoid", expert="relu", k=3, restarts=1, seed=3, init=start, newton=True)
        self.check_same_as_cli(est, "relu-newton")

    def test_select_k_matches_cli_table(self):
        best, table = moelab.select_k(self.X, self.y, 1, 3, gate="sigmoid", expert="relu", restarts=2, seed=0)
        r = cli("fit", self.data, "--gate", "sigmoid", "--expert", "relu", "--k", "1..3", "--restarts", 2,
                "--seed", 0, "--init", "random", "-o", os.path.join(self.tmp, "sel.json"))
        rows = [line.split() for line in r.stdout.splitlines() if line.strip()[:1].isdigit()][:3]
        self.assertEqual([int(row[0]) for row in rows], [1, 2, 3])
        for row, t in zip(rows, table):
            self.assertEqual(int(row[1]), t["p_free"])
            self.assertAlmostEqual(float(row[2]), t["sse"], delta=1e-7 * t["sse"])
            self.assertAlmostEqual(float(row[3]), t["bic"], delta=1e-7 * abs(t["bic"]))
        chosen = [int(row[0]) for row in rows if "chosen" in " ".join(row)]
        self.assertEqual(chosen, [best])


class TestConventions(unittest.TestCase):
    """scikit-learn conventions: parameters, cloning, fitted attributes, score."""

    @classmethod
    def setUpClass(cls):
        truth = moelab.load_model(support.EXAMPLE)
        cls.X, cls.y = moelab.simulate(truth, 600, seed=2)

    def test_defaults(self):
        p = MoERegressor().get_params()
        for name, value in dict(gate="sigmoid", expert="relu", k=3, degree=1, restarts=8, seed=0, init="random",
                                perturb=0.1, max_iter=1000, threads=0, box=None).items():
            self.assertEqual(p[name], value, name)

    def test_get_set_params_round_trip(self):
        est = MoERegressor()
        self.assertIs(est.set_params(k=2, gate="softmax", box={"eta": (-3, 3)}), est)
        p = est.get_params(deep=True)
        self.assertEqual((p["k"], p["gate"], p["box"]), (2, "softmax", {"eta": (-3, 3)}))
        again = MoERegressor(**p)
        self.assertEqual(again.get_params(), p)
        self.assertEqual(repr(again), "MoERegressor(box={'eta': (-3, 3)}, gate='softmax', k=2)")
        with self.assertRaises(ValueError):
            est.set_params(bogus=1)

    def test_clone_refits_identically(self):
        est = MoERegressor(k=2, restarts=2, seed=4)
        self.assertIs(est.fit(self.X, self.y), est)
        clone = type(est)(**est.get_params(deep=False))
        self.assertFalse(hasattr(clone, "model_"))
        with self.assertRaises(NotFittedError):
            clone.predict(self.X)
        np.testing.assert_array_equal(clone.fit(self.X, self.y).predict(self.X), est.predict(self.X))

    def test_sklearn_clone_when_available(self):
        try:
            from sklearn.base import clone
        except ImportError:
            self.skipTest("scikit-learn is not installed")
        est = MoERegressor(k=2, box={"eta": (-3, 3)})
        self.assertEqual(clone(est).get_params(), est.get_params())

    def test_fitted_attributes(self):
        est = MoERegressor(k=2, restarts=2).fit(self.X, self.y)
        self.assertEqual(est.n_features_in_, 1)
        self.assertEqual(est.theta_.shape, (2 * 4,))
        self.assertEqual(len(est.atoms_), 2)
        self.assertEqual(set(est.atoms_[0]), {"beta0", "beta1", "eta"})
        self.assertEqual(len(est.atoms_[0]["eta"]), 2)
        r = est.report_
        for key in ("sse", "mse", "converged", "stop", "iterations", "grad_norm", "restarts", "best_restart",
                    "se", "at_bound", "p_free", "sigma2", "restart"):
            self.assertIn(key, r)
        self.assertEqual(r["n"], 600)
        self.assertAlmostEqual(r["mse"], r["sse"] / 600, delta=1e-15)
        self.assertEqual(len(r["restart"]), 2)
        self.assertIn(r["stop"], ("stationary", "zero-residual", "ftol", "xtol", "max-iter", "stalled",
                                  "noise-level", "kink"))
        self.assertEqual(est.model_.fit_report["sse"], r["sse"])
        g, h = est.components(self.X)
        self.assertEqual(g.shape, (600, 2))
        np.testing.assert_allclose(np.sum(g * h, axis=1), est.predict(self.X), rtol=1e-12, atol=1e-14)

    def test_score_is_r2(self):
        est = MoERegressor(k=2, restarts=2).fit(self.X, self.y)
        sst = float(np.sum((self.y - self.y.mean()) ** 2))
        self.assertAlmostEqual(est.score(self.X, self.y), 1 - est.report_["sse"] / sst, delta=1e-12)
        self.assertGreater(est.score(self.X, self.y), 0.9)
        # a softmax gate with one atom and a constant expert fits the mean: R^2 = 0
        mean = MoERegressor(gate="softmax", k=1, expert="constant", restarts=1).fit(self.X, self.y)
        self.assertAlmostEqual(mean.score(self.X, self.y), 0.0, delta=1e-9)

    def test_sample_weight(self):
        w = np.ones(600)
        a = MoERegressor(k=2, restarts=2).fit(self.X, self.y).predict(self.X)
        b = MoERegressor(k=2, restarts=2).fit(self.X, self.y, sample_weight=w).predict(self.X)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


class TestErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        truth = moelab.load_model(support.EXAMPLE)
        cls.X, cls.y = moelab.simulate(truth, 100, seed=2)

    def test_nan_in_X_raises_the_library_message(self):
        X = self.X.copy()
        X[3, 0] = np.nan
        with self.assertRaises(InvalidInputError) as cm:
            MoERegressor(k=2).fit(X, self.y)
        e = cm.exception
        self.assertIsInstance(e, ValueError)
        self.assertIsInstance(e, MoelabError)
        self.assertEqual(e.status, 1)  # MOELAB_EINVAL
        self.assertEqual(e.field, "X")
        self.assertEqual(e.message, "x[3][0] is not finite")
        self.assertEqual(str(e), "field 'X': x[3][0] is not finite")

    def test_nan_in_y(self):
        y = self.y.copy()
        y[7] = np.inf
        with self.assertRaisesRegex(InvalidInputError, r"y\[7\] is not finite"):
            MoERegressor(k=2).fit(self.X, y)

    def test_bad_parameters(self):
        for params, pattern in [({"gate": "tanh"}, "unknown gate"), ({"expert": "cubic"}, "unknown expert"),
                                ({"k": 0}, "k: expected a whole number >= 1"), ({"restarts": 1.5}, "restarts"),
                                ({"init": "kmean"}, "init"), ({"box": {"beta2": (0, 1)}}, "box"),
                                ({"box": {"eta": (1, -1)}}, "box needs finite lo < hi"),
                                ({"perturb": -1.0}, "perturb")]:
            with self.subTest(params=params), self.assertRaisesRegex(ValueError, pattern):
                MoERegressor(**params).fit(self.X, self.y)

    def test_shapes(self):
        with self.assertRaisesRegex(ValueError, "rows"):
            MoERegressor(k=2).fit(self.X, self.y[:-1])
        est = MoERegressor(k=2, restarts=1).fit(self.X, self.y)
        with self.assertRaisesRegex(ValueError, "input columns"):
            est.predict(np.zeros((4, 2)))
        with self.assertRaisesRegex(ValueError, "2-D"):
            est.predict(np.zeros((2, 2, 2)))

    def test_too_few_rows(self):
        with self.assertRaises(InvalidInputError) as cm:
            MoERegressor(k=3).fit(self.X[:5], self.y[:5])
        self.assertEqual(cm.exception.field, "n")


if __name__ == "__main__":
    unittest.main()
