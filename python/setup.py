"""setup.py: the install-time half of finding libcrec.so (see crec/_lib.py for the run-time order).

At build time it writes crec/_paths.py (the source tree the package came from, whose build folders are searched
at run time) and, when the environment variable CREC_LIB names a libcrec.so (or a folder holding one), copies
that library into the package as crec/libcrec.so, so the installed package works on its own.
Everything else is in pyproject.toml."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPy(build_py):
    def run(self):
        super().run()
        pkg = os.path.join(self.build_lib, "crec")
        root = os.environ.get("CREC_SOURCE_ROOT") or os.path.dirname(HERE)
        with open(os.path.join(pkg, "_paths.py"), "w") as f:
            f.write("# written by setup.py at install time\nSOURCE_ROOT = %r\n" % os.path.abspath(root))
        lib = os.environ.get("CREC_LIB")
        if lib:
            if os.path.isdir(lib):
                lib = os.path.join(lib, "libcrec.so")
            if not os.path.isfile(lib):
                raise SystemExit("setup.py: CREC_LIB=%s is not a libcrec.so" % lib)
            shutil.copyfile(os.path.realpath(lib), os.path.join(pkg, "libcrec.so"))
            print("setup.py: copied %s into the package" % os.path.realpath(lib))


setup(cmdclass={"build_py": BuildPy})
