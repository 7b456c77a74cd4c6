"""Models and model files, simulation and Voronoi losses, against the command-line tool."""

import json
import os
import shutil
import tempfile
import unittest

import numpy as np

import support
from support import cli, read_csv, write_csv
import moelab
from moelab import InvalidInputError, MoelabIOError, Model


class Files(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)


class TestModelFiles(Files):
    def test_load(self):
        m = moelab.load_model(support.EXAMPLE)
        self.assertEqual((m.gate, m.expert, m.degree, m.d, m.k, m.stride, m.p), ("sigmoid", "relu", 1, 1, 2, 4, 8))
        np.testing.assert_array_equal(m.theta, [0.0, 0.0, 1.0, 0.5, -0.5, -3.0, -2.0, 1.0])
        self.assertEqual(m.input, {"law": "uniform", "low": [-1.0], "high": [1.0]})
        self.assertEqual(m.noise, 0.01)
        self.assertIsNone(m.extra)
        self.assertEqual(m.atoms[1], {"beta0": -0.5, "beta1": [-3.0], "eta": [-2.0, 1.0]})

    def test_round_trip_of_a_cli_fit_is_byte_identical(self):
        data = self.path("d.csv")
        cli("simulate", "--model", support.EXAMPLE, "--n", 400, "--seed", 3, "-o", data)
        for gate in ("sigmoid", "softmax"):
            fit = self.path(f"fit-{gate}.json")
            cli("fit", data, "--gate", gate, "--k", 3, "--restarts", 2, "-q", "-o", fit)
            m = moelab.load_model(fit)
            self.assertEqual(m.fit_report["options"]["gate"], gate)
            again = self.path(f"again-{gate}.json")
            moelab.save_model(m, again)
            with open(fit, "rb") as a, open(again, "rb") as b:
                self.assertEqual(a.read(), b.read())
            with open(fit) as a:
                self.assertEqual(m.to_json(), a.read())
            self.assertEqual(Model.from_json(m.to_json()), m)

    def test_python_model_read_by_the_cli(self):
        m = Model.from_atoms("softmax", "poly", [{"beta0": 0.5, "beta1": [1.0, -1.0], "eta": [0.3, 0.2, -0.1]},
                                                 {"beta0": -0.5, "beta1": [-1.0, 1.0], "eta": [1.0, 0.0, 0.5]}],
                             degree=2, input={"law": "normal", "mean": 0.0, "sd": [1.0, 2.0]}, noise=0.25)
        self.assertEqual(m.input, {"law": "normal", "mean": [0.0, 0.0], "sd": [1.0, 2.0]})
        path = self.path("m.json")
        moelab.save_model(m, path)
        self.assertEqual(moelab.load_model(path), m)
        X = np.random.default_rng(1).normal(size=(50, 2))
        write_csv(self.path("x.csv"), X)
        cli("predict", "--model", path, self.path("x.csv"), "-o", self.path("p.csv"))
        np.testing.assert_array_equal(read_csv(self.path("p.csv"))["yhat"], m.predict(X))

    def test_unknown_members_are_kept(self):
        with open(support.EXAMPLE) as f:
            text = f.read().rstrip().rstrip("}") + ', "note": {"by": "hand", "n": 1.5e300}}'
        m = Model.from_json(text)
        self.assertEqual(json.loads(m.extra), {"note": {"by": "hand", "n": 1.5e300}})
        self.assertEqual(json.loads(m.to_json())["note"], {"by": "hand", "n": 1.5e300})

    def test_bad_file_gives_the_cli_message(self):
        for name in ("json-nan.json", "json-beta1-length.json", "json-unknown-gate.json", "json-truncated.json"):
            path = os.path.join(support.BAD, name)
            with self.subTest(file=name):
                with self.assertRaises(InvalidInputError) as cm:
                    moelab.load_model(path)
                e = cm.exception
                r = cli("eval", "--model", path, "-", check=False)
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stderr.strip(), f"moelab eval: {e}")
                self.assertEqual(e.file, path)
                self.assertGreater(e.line, 0)

    def test_missing_file(self):
        with self.assertRaises(MoelabIOError) as cm:
            moelab.load_model(self.path("nope.json"))
        self.assertIsInstance(cm.exception, OSError)

    def test_model_checks(self):
        with self.assertRaisesRegex(ValueError, "unknown gate"):
            Model("relu", "relu", 1, 1)
        with self.assertRaisesRegex(ValueError, "expected 8 parameters"):
            Model("sigmoid", "relu", 1, 2, theta=np.zeros(7))
        with self.assertRaisesRegex(ValueError, "unknown law"):
            Model("sigmoid", "relu", 1, 1, input={"law": "cauchy"})
        m = Model("sigmoid", "relu", 1, 1, input={"law": "uniform", "low": 1.0, "high": 0.0})
        with self.assertRaises(InvalidInputError):
            m.to_json()
        m = Model("sigmoid", "relu", 1, 1, theta=[0, 0, np.nan, 0])
        with self.assertRaisesRegex(moelab.MoelabError, "atoms"):
            moelab.save_model(m, self.path("nan.json"))
        self.assertFalse(os.path.exists(self.path("nan.json")))
        self.assertEqual(os.listdir(self.tmp), [])


class TestSimulate(Files):
    def test_deterministic_and_equal_to_the_cli(self):
        m = moelab.load_model(support.EXAMPLE)
        X1, y1 = moelab.simulate(m, 1000, seed=5, stream=2)
        X2, y2 = moelab.simulate(support.EXAMPLE, 1000, seed=5, stream=2)
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_array_equal(y1, y2)
        X3, _ = moelab.simulate(m, 1000, seed=6, stream=2)
        self.assertFalse(np.array_equal(X1, X3))
        cli("simulate", "--model", support.EXAMPLE, "--n", 1000, "--seed", 5, "--stream", 2, "-o", self.path("d.csv"))
        d = read_csv(self.path("d.csv"))
        np.testing.assert_array_equal(d["x1"], X1[:, 0])
        np.testing.assert_array_equal(d["y"], y1)
        self.assertEqual(X1.shape, (1000, 1))
        self.assertTrue(np.all((X1 >= -1) & (X1 <= 1)))

    def test_noise_level(self):
        m = moelab.load_model(support.EXAMPLE)
        X, y = moelab.simulate(m, 100000, seed=7)
        mse = float(np.mean((y - m.predict(X)) ** 2))
        self.assertAlmostEqual(mse, 0.01, delta=0.0005)

    def test_needs_an_input_law(self):
        m = moelab.load_model(support.EXAMPLE)
        m.input = None
        with self.assertRaisesRegex(InvalidInputError, "input"):
            moelab.simulate(m, 10)
        with self.assertRaises(ValueError):
            moelab.simulate(support.EXAMPLE, 0)


class TestVoronoiLoss(Files):
    @classmethod
    def setUpClass(cls):
        cls.tmp_class = tempfile.mkdtemp()
        data = os.path.join(cls.tmp_class, "d.csv")
        cli("simulate", "--model", support.EXAMPLE, "--n", 2000, "--seed", 1, "-o", data)
        cls.fits = {}
        for gate in ("sigmoid", "softmax"):
            path = os.path.join(cls.tmp_class, f"fit-{gate}.json")
            cli("fit", data, "--gate", gate, "--k", 3, "--restarts", 2, "-q", "-o", path)
            cls.fits[gate] = path
        cls.truth_softmax = os.path.join(cls.tmp_class, "truth-softmax.json")
        truth = moelab.load_model(support.EXAMPLE)
        truth.gate = "softmax"
        moelab.save_model(truth, cls.truth_softmax)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp_class)

    def test_equal_to_cli_json(self):
        for gate, ref in (("sigmoid", support.EXAMPLE), ("softmax", self.truth_softmax)):
            for loss in ("D1", "D2:1.5", "D3", "Lbar"):
                for translate in (True, False):
                    with self.subTest(gate=gate, loss=loss, translate=translate):
                        args = ["loss", "--fit", self.fits[gate], "--ref", ref, "--loss", loss, "--json"]
                        expected = json.loads(cli(*args, *([] if translate else ["--no-translate"])).stdout)
                        got = moelab.voronoi_loss(moelab.load_model(self.fits[gate]), ref, loss=loss,
                                                  translate=translate)
                        self.assertEqual(got, expected)

    def test_fitted_regressor_as_argument(self):
        X, y = moelab.simulate(support.EXAMPLE, 500, seed=4)
        est = moelab.MoERegressor(k=2, restarts=2).fit(X, y)
        self.assertEqual(moelab.voronoi_loss(est, support.EXAMPLE), moelab.voronoi_loss(est.model_, support.EXAMPLE))

    def test_errors(self):
        with self.assertRaisesRegex(InvalidInputError, "D4|loss"):
            moelab.voronoi_loss(self.fits["sigmoid"], support.EXAMPLE, loss="D4")
        with self.assertRaises(InvalidInputError):
            moelab.voronoi_loss(self.fits["softmax"], support.EXAMPLE)  # gates differ
        with self.assertRaises(TypeError):
            moelab.voronoi_loss(42, support.EXAMPLE)


if __name__ == "__main__":
    unittest.main()
