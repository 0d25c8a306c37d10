"""Fixtures of the crec Python tests: the crec program of the same build (CREC_BIN), the repository's test data
(CREC_TEST_DATA) and a small synthetic dataset, saved so the CLI reads the very same events.

tests/integration/python.sh installs the package into a venv and runs these with CREC_BIN set; run by hand:
    CREC_BIN=build/crec CREC_LIB=build/libcrec.so python3 -m pytest python/tests"""
import json
import os
import subprocess

import pytest

import crec

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SYNTH = dict(users=300, items=150, seed=7)


@pytest.fixture(scope="session")
def crec_bin():
    b = os.environ.get("CREC_BIN")
    if not b or not os.access(b, os.X_OK):
        pytest.skip("CREC_BIN (the crec program of the same build) is not set")
    return b


@pytest.fixture(scope="session")
def cli(crec_bin):
    """Run `crec ARGS`; returns stdout (JSON parsed when json=True). Fails the test on a nonzero exit."""

    def run(*args, json_out=False, expect=0):
        p = subprocess.run([crec_bin] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, env=dict(os.environ, CREC_QUIET="1"))
        assert p.returncode == expect, "crec %s: exit %d\n%s" % (" ".join(map(str, args)), p.returncode, p.stderr)
        return json.loads(p.stdout) if json_out else p.stdout + p.stderr

    return run


@pytest.fixture(scope="session")
def test_data():
    d = os.environ.get("CREC_TEST_DATA") or os.path.join(ROOT, "tests", "data")
    if not os.path.isdir(d):
        pytest.skip("the repository's tests/data is not here (CREC_TEST_DATA)")
    return d


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("crec")


@pytest.fixture(scope="session")
def synth():
    return crec.Dataset.synth(**SYNTH)


@pytest.fixture(scope="session")
def synth_file(synth, work):
    p = work / "synth.crecds"
    synth.save(str(p))
    return str(p)
