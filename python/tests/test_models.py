"""Models from Python against the crec program on the same data: the schema equals `crec models --json`,
training errors name the key, evaluation gives exactly the JSON figures of `crec eval --json`, and
recommendations equal `crec recommend --json`; numpy dtypes and shapes of scores and top-k lists."""
import numpy as np
import pytest

import crec


def test_models_equal_cli(cli):
    assert crec.models() == cli("models", "--json", json_out=True)
    names = [m["name"] for m in crec.models()]
    assert "pop" in names and "sasrec" in names
    p = {d["name"]: d for d in crec.model_params("sasrec")}
    assert p["dim"]["type"] == "int" and "default" in p["dim"]
    with pytest.raises(crec.NotFound):
        crec.model_params("deepfm")


def test_train_errors_name_the_key(synth):
    with pytest.raises(crec.InvalidArgument, match="no parameter 'dimm'"):
        crec.train("sasrec", synth, dimm=32)
    with pytest.raises(crec.InvalidArgument, match="'dim' = '6x'"):
        crec.train("sasrec", synth, dim="6x")
    with pytest.raises(crec.InvalidArgument, match="'epochs'"):
        crec.train("sasrec", synth, epochs=-3)
    with pytest.raises(crec.NotFound, match="unknown model 'deepfm'"):
        crec.train("deepfm", synth)
    with pytest.raises(crec.InvalidArgument, match="bad split"):
        crec.train("pop", synth, split="sideways")
    try:
        crec.train("itemknn", synth, k="many")
    except crec.CrecError as e:
        assert e.code == -4 and e.errname == "CREC_EINVAL" and "'k'" in str(e)
    else:
        pytest.fail("a bad value trained")


def _same_metrics(a, b):
    assert a["protocol"] == b["protocol"]
    assert a["users"] == b["users"] and a["items"] == b["items"]
    assert a["metrics"].keys() == b["metrics"].keys()
    for k in a["metrics"]:
        x, y = a["metrics"][k], b["metrics"][k]
        assert x == y or (x is None and y is None), "%s: python %r, cli %r" % (k, x, y)


@pytest.mark.parametrize("model,params", [("pop", {}), ("itemknn", {"k": 20})])
def test_evaluate_equals_cli(synth, synth_file, cli, work, model, params):
    m = crec.train(model, synth, threads=1, **params)
    path = str(work / ("%s.crecm" % model))
    m.save(path)
    py = m.evaluate(synth, k=[5, 10])
    ref = cli("eval", "--data", synth_file, "--model", path, "--k", "5,10", "--json", json_out=True)
    _same_metrics(py, ref)
    assert py["protocol"]["ranking"] == "full" and py["protocol"]["split"] == "loo"
    assert py["metrics"]["NDCG@10"] > 0
    # a model trained by the CLI with the same parameters is the same model
    cpath = str(work / ("%s_cli.crecm" % model))
    args = ["train", "--data", synth_file, "--model", model, "--out", cpath, "--threads", "1"]
    for k, v in params.items():
        args += ["--set", "%s=%s" % (k, v)]
    cli(*args)
    _same_metrics(crec.load_model(cpath).evaluate(synth, k=[5, 10]), py)
    # options reach the protocol
    v = m.evaluate(synth, k=10, target="valid", filter_seen=False)
    refv = cli("eval", "--data", synth_file, "--model", path, "--k", "10", "--target", "valid", "--no-filter-seen",
               "--json", json_out=True)
    _same_metrics(v, refv)
    assert v["protocol"]["target"] == "valid" and v["protocol"]["filter_seen"] is False


def test_evaluate_option_errors(synth):
    m = crec.train("pop", synth)
    with pytest.raises(crec.InvalidArgument, match="'target'"):
        m.evaluate(synth, target="train")
    with pytest.raises(crec.InvalidArgument, match="'k'"):
        m.evaluate(synth, k=[0])
    other = crec.Dataset.synth(users=50, items=40, seed=1)
    with pytest.raises(crec.InvalidArgument, match="different dataset"):
        m.evaluate(other)


def test_save_load(synth, work):
    m = crec.train("markov", synth)
    path = str(work / "markov.crecm")
    m.save(path)
    m2 = crec.Model.load(path)
    assert m2.type == "markov" and m2.split == "loo" and m2.params == m.params
    assert m2.evaluate(synth, k=10)["metrics"] == m.evaluate(synth, k=10)["metrics"]
    bad = work / "garbage.crecm"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(crec.CrecError, match="not a valid crec model"):
        crec.Model.load(str(bad))
    with pytest.raises(crec.NotFound, match="no such file"):
        crec.Model.load(str(work / "missing.crecm"))


def test_recommend_equals_cli(synth, synth_file, cli, work):
    m = crec.train("itemknn", synth, threads=1, k=20)
    path = str(work / "knn_rec.crecm")
    m.save(path)
    user = synth.user_name(5)
    r = m.recommend(synth, user=user, k=7)
    assert isinstance(r.ids, np.ndarray) and r.ids.dtype.kind == "U"
    assert r.index.dtype == np.int32 and r.scores.dtype == np.float32
    assert r.index.shape == r.scores.shape == r.ids.shape == (7,)
    assert np.all(np.diff(r.scores) <= 0)
    ref = cli("recommend", "--data", synth_file, "--model", path, "--user", user, "-k", 7, "--json", json_out=True)
    assert r.ids.tolist() == [x["item"] for x in ref["items"]]
    np.testing.assert_allclose(r.scores, [x["score"] for x in ref["items"]], rtol=1e-5)
    assert r.titles == [x["title"] for x in ref["items"]]
    # seen items never come back; keep_seen lets them
    seen = set(synth.log["item"][synth.log["user"] == 5].tolist())
    assert not seen & set(r.index.tolist())
    # an anonymous history, as --history
    hist = [synth.item_name(i) for i in (3, 8, 13)]
    h = m.recommend(synth, history=hist, k=5)
    refh = cli("recommend", "--data", synth_file, "--model", path, "--history", ",".join(hist), "-k", 5, "--json",
               json_out=True)
    assert h.ids.tolist() == [x["item"] for x in refh["items"]]
    assert m.recommend(synth, history=np.array([3, 8, 13]), k=5).ids.tolist() == h.ids.tolist()  # dense ids
    bare = m.recommend(history=np.array([3, 8, 13]), k=5)  # no dataset: dense ids in, dense ids out
    assert bare.index.tolist() == h.index.tolist() and bare.titles == [None] * 5
    # exclusions and attribute filters, as --exclude / --category
    ex = m.recommend(synth, history=hist, k=5, exclude=[h.ids[0]])
    assert h.ids[0] not in ex.ids.tolist()
    attr = synth.item_attributes(int(h.index[0]))[0]
    f = m.recommend(synth, history=hist, k=5, must=[attr])
    reff = cli("recommend", "--data", synth_file, "--model", path, "--history", ",".join(hist), "-k", 5,
               "--category", attr, "--json", json_out=True)
    assert f.ids.tolist() == [x["item"] for x in reff["items"]]
    assert all(attr in synth.item_attributes(int(i)) for i in f.index)
    with pytest.warns(UserWarning, match="unknown item"):
        m.recommend(synth, history=hist + ["no-such-item"], k=3)
    with pytest.raises(crec.NotFound, match="unknown user"):
        m.recommend(synth, user="no-such-user")
    with pytest.raises(crec.InvalidArgument, match="not both"):
        m.recommend(synth, user=user, history=hist)


def test_scores(synth):
    m = crec.train("ials", synth, threads=1, factors=16, iters=3)
    s = m.score(synth, user=synth.user_name(4))
    assert s.dtype == np.float32 and s.shape == (synth.n_items,)
    r = m.recommend(synth, user=4, k=3)
    masked = s.copy()
    masked[synth.log["item"][synth.log["user"] == 4]] = -np.inf
    assert int(np.argmax(masked)) == int(r.index[0])
    assert masked[r.index[0]] == pytest.approx(float(r.scores[0]), rel=1e-6)
    # a block of users in one call (ials scores blocks with one matrix product) equals one call per user
    users = [0, 4, 9, 4]
    block = m.score_users(synth, users)
    assert block.dtype == np.float32 and block.shape == (4, synth.n_items)
    for row, u in enumerate(users):
        np.testing.assert_allclose(block[row], m.score(synth, user=u), rtol=1e-4, atol=1e-5)
    idx, sc = m.recommend_users(synth, [0, 4, 9], k=6)
    assert idx.shape == sc.shape == (3, 6) and idx.dtype == np.int32 and sc.dtype == np.float32
    assert idx[1].tolist() == m.recommend(synth, user=4, k=6).index.tolist()


def test_sasrec_keywords(synth):
    m = crec.train("sasrec", synth, threads=1, epochs=1, dim=16, heads=1, max_len=20)
    assert m.params["epochs"] == "1" and m.params["dim"] == "16"
    r = m.recommend(synth, history=[synth.item_name(i) for i in (1, 2, 3)], k=5)
    assert len(r) == 5
    rep = m.evaluate(synth, k=10, max_users=50)
    assert rep["users"] == 50 and 0 <= rep["metrics"]["NDCG@10"] <= 1
