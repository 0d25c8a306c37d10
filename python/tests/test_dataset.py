"""Datasets and splits: sizes and statistics equal to the CLI's on the same data, numpy views of the right
dtype and shape that cannot be written, the text loaders with their file:line errors."""
import os

import numpy as np
import pytest

import crec
from conftest import SYNTH


def test_synth_matches_cli(synth, cli, work):
    out = work / "cli_synth.crecds"
    cli("data", "synth", "--out", out, "--users", SYNTH["users"], "--items", SYNTH["items"], "--seed", SYNTH["seed"])
    ref = cli("data", "info", out, "--json", json_out=True)
    info = synth.info()
    for key in ("users", "items", "interactions", "attributes", "titled_items", "user_features", "repeat_events",
                "repeat_users", "has_time", "has_value"):
        assert info[key] == ref[key], key
    assert info["density"] == pytest.approx(ref["density"], rel=1e-5)
    assert info["popularity_gini"] == pytest.approx(ref["popularity_gini"], abs=1e-4)
    for q in ("min", "median", "max"):
        assert info["seq_len"][q] == ref["seq_len"][q]
    assert (synth.n_users, synth.n_items, len(synth)) == (ref["users"], ref["items"], ref["interactions"])


def test_synth_bad_option_names_key():
    with pytest.raises(crec.InvalidArgument, match="'users'"):
        crec.Dataset.synth(users=0)
    with pytest.raises(crec.InvalidArgument, match="unknown option 'userz'"):
        crec.Dataset.synth(userz=10)


def test_log_views(synth):
    log = synth.log
    n = len(synth)
    expect = {"user": np.int32, "item": np.int32, "ts": np.int64, "value": np.float32, "type": np.uint8}
    for k, dt in expect.items():
        assert log[k].dtype == dt and log[k].shape == (n,), k
        assert not log[k].flags.writeable
        with pytest.raises(ValueError):
            log[k][0] = 0
    assert log["user"].min() == 0 and log["user"].max() == synth.n_users - 1
    assert log["item"].max() < synth.n_items
    # a view, not a copy: the same memory on every access, and it outlives the Python name of the dataset
    assert log["user"].ctypes.data == synth.log["user"].ctypes.data
    d = crec.Dataset.synth(users=20, items=30, seed=3)
    u = d.log["user"]
    del d
    assert u.sum() >= 0 and u.size > 0


def test_ids_round_trip(synth):
    names = [synth.user_name(i) for i in range(5)]
    assert synth.user_ids(names).tolist() == list(range(5))
    ids = synth.item_ids([synth.item_name(3), "no-such-item"])
    assert ids.dtype == np.int32 and ids.tolist() == [3, -1]
    assert synth.item_title(3)
    assert any(a.startswith("topic:") for a in synth.item_attributes(3))
    with pytest.raises(crec.InvalidArgument):
        synth.item_name(synth.n_items)


def test_save_load(synth, synth_file):
    d = crec.Dataset.load(synth_file)
    assert (d.n_users, d.n_items, len(d)) == (synth.n_users, synth.n_items, len(synth))
    assert np.array_equal(d.log["item"], synth.log["item"])
    assert np.array_equal(d.log["ts"], synth.log["ts"])


def test_text_formats(test_data, cli, work):
    seq = os.path.join(test_data, "cli", "seq.txt")
    d = crec.Dataset.load(seq, format="sequences")
    ref = cli("data", "info", seq, "--json", json_out=True)  # the CLI guesses the format
    assert (d.n_users, d.n_items, len(d)) == (ref["users"], ref["items"], ref["interactions"])
    assert d.user_name(0) == "1"
    csv = os.path.join(test_data, "cli", "ratings.csv")
    c = crec.Dataset.load(csv, format="csv", user_col="userId", item_col="movieId", time_col="timestamp",
                          value_col="rating")
    assert c.info()["has_value"] and c.info()["has_time"]
    c4 = crec.Dataset.load(csv, format="csv", user_col="userId", item_col="movieId", time_col="timestamp",
                           value_col="rating", min_rating=4)
    assert len(c4) < len(c) and set(c4.log["value"].tolist()) == {1.0}


def test_parse_error_names_file_and_line(test_data):
    bad = os.path.join(test_data, "cli", "bad_pairs.txt")
    with pytest.raises(crec.ParseError, match=r"bad_pairs.txt:3: "):
        crec.Dataset.load(bad, format="pairs")
    d = crec.Dataset.load(bad, format="pairs", skip_bad=True)
    assert len(d) == 3
    with pytest.raises(crec.NotFound, match="nope.crecds"):
        crec.Dataset.load("/nonexistent/nope.crecds")
    with pytest.raises(crec.InvalidArgument, match="'format'"):
        crec.Dataset.load(bad, format="parquet")


def test_from_events():
    d = crec.Dataset.from_events(["a", "a", "b", "b", "b"], ["x", "y", "x", "z", "y"], ts=[1, 2, 1, 2, 3],
                                 name="tiny")
    assert (d.n_users, d.n_items, len(d), d.name) == (2, 3, 5, "tiny")
    assert d.info()["has_time"] and not d.info()["has_value"]
    assert d.log["ts"].tolist() == [1, 2, 1, 2, 3]
    k = crec.Dataset.from_events(["a", "a", "b", "b", "c"], ["x", "y", "x", "y", "x"], kcore=2)
    assert (k.n_users, k.n_items, len(k)) == (2, 2, 4)
    with pytest.raises(crec.InvalidArgument):
        crec.Dataset.from_events(["a"], ["x", "y"])


def test_split_loo(synth):
    s = synth.split("loo")
    assert s.spec == "loo"
    for part in (s.train, s.valid, s.test):
        assert part.indptr.dtype == np.int64 and part.indices.dtype == np.int32
        assert part.ts.dtype == np.int64 and part.values.dtype == np.float32
        assert part.shape == (synth.n_users, synth.n_items)
        assert part.indptr.shape == (synth.n_users + 1,)
        assert part.indices.size == part.indptr[-1]
    # leave-one-out: one test and one validation event per user with at least 3 events, none for the others,
    # and the three parts partition the log
    held = (np.bincount(synth.log["user"], minlength=synth.n_users) >= 3).astype(np.int64)
    assert np.array_equal(np.diff(s.test.indptr), held) and np.array_equal(np.diff(s.valid.indptr), held)
    assert s.train.indices.size + s.valid.indices.size + s.test.indices.size == len(synth)
    # the test event is each user's last in time
    log = synth.log
    for u in np.flatnonzero(held)[::37]:
        last_ts = log["ts"][log["user"] == u].max()
        assert s.test.ts[s.test.indptr[u]] == last_ts
    t = synth.split("temporal:0.2:0.1")
    assert t.spec.startswith("temporal")
    with pytest.raises(crec.InvalidArgument, match="bad spec 'sideways'"):
        synth.split("sideways")
