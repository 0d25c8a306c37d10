"""docs/python_walkthrough.py (the notebook-style walk-through of docs/PYTHON.md) runs start to end."""
import os
import runpy

import pytest

from conftest import ROOT


def test_walkthrough(tmp_path, monkeypatch):
    script = os.path.join(ROOT, "docs", "python_walkthrough.py")
    if not os.path.isfile(script):
        pytest.skip("docs/python_walkthrough.py is not here")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CREC_WALKTHROUGH_SMALL", "1")
    g = runpy.run_path(script, run_name="__main__")
    assert g["report"]["metrics"]["NDCG@10"] > 0
