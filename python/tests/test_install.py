"""The installed package: where it found libcrec.so, its version, the numpy it runs with."""
import os

import numpy as np

import crec


def test_library_found():
    assert os.path.isfile(crec.library_path)
    assert crec.version() == crec.__version__
    if os.environ.get("CREC_EXPECT_PACKAGED_LIB") == "1":
        # pip install with CREC_LIB set copies the library into the package; it must be the one loaded
        assert os.path.dirname(os.path.realpath(crec.library_path)) == os.path.dirname(
            os.path.realpath(crec.__file__)), crec.library_path
    b = crec.blas()
    assert b["core"] and b["threads"] >= 1
    assert int(np.__version__.split(".")[0]) >= 1
