"""The ctypes structures match the C compiler's layout of moelab.h."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import support  # noqa: F401
from moelab import _capi


@unittest.skipUnless(os.environ.get("MOELAB_ABI_LAYOUT"), "MOELAB_ABI_LAYOUT (tests/abi_layout) is not set")
class TestLayout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run([os.environ["MOELAB_ABI_LAYOUT"]], capture_output=True, text=True, check=True)
        cls.layout = json.loads(out.stdout)

    def test_every_struct_is_declared(self):
        self.assertEqual(sorted(self.layout), sorted(_capi.STRUCTS))

    def test_sizes_offsets_and_order(self):
        for name, c in self.layout.items():
            with self.subTest(struct=name):
                cls = _capi.STRUCTS[name]
                self.assertEqual(ctypes.sizeof(cls), c["size"], "sizeof")
                c_fields = [f[0] for f in sorted(c["fields"], key=lambda f: f[1])]
                py_fields = [f[0] for f in cls._fields_]
                self.assertEqual(py_fields, c_fields, "field names and order")
                for fname, offset, size in c["fields"]:
                    descr = getattr(cls, fname)
                    self.assertEqual(descr.offset, offset, f"offset of {fname}")
                    self.assertEqual(descr.size, size, f"size of {fname}")


class TestLibrary(unittest.TestCase):
    def test_version(self):
        import moelab
        self.assertEqual(moelab.__version__, support.cli("--version").stdout.split()[1])

    def test_library_from_environment(self):
        import moelab
        path = os.environ.get("MOELAB_LIBRARY")
        if path:
            self.assertEqual(moelab.library_path, path)

    def run_python(self, code, env, cwd):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd)

    def test_library_beside_the_package(self):
        import moelab
        with tempfile.TemporaryDirectory() as tmp:
            pkg = os.path.join(tmp, "moelab")
            shutil.copytree(os.path.dirname(moelab.__file__), pkg,
                            ignore=shutil.ignore_patterns("__pycache__", "libmoelab.so*"))
            shutil.copy(moelab.library_path, os.path.join(pkg, "libmoelab.so.0"))
            env = {k: v for k, v in os.environ.items() if k not in ("MOELAB_LIBRARY", "PYTHONPATH")}
            r = self.run_python("import moelab; print(moelab.library_path)", env, tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), os.path.join(pkg, "libmoelab.so.0"))

    def test_bad_library_path_fails_the_import(self):
        env = dict(os.environ, MOELAB_LIBRARY="/nonexistent/libmoelab.so")
        r = self.run_python("import moelab", env, support.ROOT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot load $MOELAB_LIBRARY=/nonexistent/libmoelab.so", r.stderr)


if __name__ == "__main__":
    unittest.main()
