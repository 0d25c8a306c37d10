"""python_walkthrough.py: crec from Python, one cell at a time (docs/PYTHON.md explains each step).

A plain script in notebook form: each "# %%" starts a cell (Jupyter, VS Code and Spyder run them one by one),
and `python3 docs/python_walkthrough.py` runs it all. The Python tests run it on a small synthetic dataset
(CREC_WALKTHROUGH_SMALL=1), so every line here is checked on every test run.
"""
# %% Setup: the package finds libcrec.so through CREC_LIB, its own copy, or the source tree's build folders
import os
import tempfile

import numpy as np

import crec

print("crec", crec.version(), "from", crec.library_path)
small = os.environ.get("CREC_WALKTHROUGH_SMALL") == "1"
work = tempfile.mkdtemp(prefix="crec-walkthrough-")

# %% Data: the embedded synthetic dataset (the same generator and defaults as `crec data synth`)
data = crec.Dataset.synth(users=400 if small else 3000, items=200 if small else 1500, seed=42)
print(data)
info = data.info()  # the statistics of `crec data info --json`
print("median history %g, popularity Gini %.3f" % (info["seq_len"]["median"], info["popularity_gini"]))

# %% The log is numpy, without a copy: read-only views of the library's memory
log = data.log
print({k: (v.dtype.name, v.shape) for k, v in log.items()})
counts = np.bincount(log["item"], minlength=data.n_items)
top = int(counts.argmax())
print("most popular item:", data.item_name(top), data.item_title(top), data.item_attributes(top))

# %% Files: save a .crecds (checksummed, memory-mapped on load); text formats load with the CLI's options
path = os.path.join(work, "synth.crecds")
data.save(path)
data = crec.Dataset.load(path)
seq = os.path.join(work, "sessions.txt")
with open(seq, "w") as f:
    f.write("alice a b c d\nbob b c e\ncarol a c d e f\n")
tiny = crec.Dataset.load(seq, format="sequences")
print(tiny, "- users", [tiny.user_name(u) for u in range(tiny.n_users)])

# %% Splits: leave-one-out (the SASRec / BERT4Rec protocol), temporal and random, as CSR arrays
split = data.split("loo")
print(split)
train = split.train
print("user 0 trains on items", train.indices[train.indptr[0]:train.indptr[1]][:10], "...")

# %% Models and their typed hyper-parameters (the list of `crec models --json`)
for m in crec.models():
    print("%-9s %s" % (m["name"], ", ".join(p["name"] for p in m["params"][:6])))

# %% Train with keyword hyper-parameters; a bad key or value is an exception that names it
# (3 epochs keep the walk-through short and leave SASRec at popularity's level on this data; with epochs=20 it
# reaches NDCG@10 0.303 against markov's 0.397: docs/PYTHON.md)
model = crec.train("sasrec", data, epochs=1 if small else 3, dim=32, threads=2)
print(model)
try:
    crec.train("sasrec", data, dimm=32)
except crec.InvalidArgument as e:
    print("refused:", e)

# %% Evaluate: full ranking over the catalog, seen items excluded; the dict of `crec eval --json`
report = model.evaluate(data, k=[10, 20])
print(report["protocol"]["text"])
print({k: round(v, 4) for k, v in report["metrics"].items() if k.startswith(("HR", "NDCG"))})
for name in ("pop", "markov"):
    baseline = crec.train(name, data).evaluate(data, k=[10, 20])
    print("%-7s NDCG@10 %.4f" % (name, baseline["metrics"]["NDCG@10"]))
print("sasrec  NDCG@10 %.4f" % report["metrics"]["NDCG@10"])

# %% Save and load a checkpoint (`crec eval --model` and `crec serve` read the same file)
ckpt = os.path.join(work, "sasrec.crecm")
model.save(ckpt)
model = crec.load_model(ckpt)

# %% Recommend for a known user (their events are the history) and for an anonymous session
user = data.user_name(0)
recs = model.recommend(data, user=user, k=5)
print(recs)
session = [data.item_name(i) for i in (5, 17, 42)]
recs = model.recommend(data, history=session, k=5, must_not=[data.item_attributes(5)[0]])
for item, score in recs:
    print("  %-8s %.3f" % (item, score))

# %% Scores as numpy: one user, or a block of users in one call
scores = model.score(data, user=user)
block = model.score_users(data, range(8))
print(scores.dtype, scores.shape, block.shape)

# %% The store behind `crec serve`: import, add events, read a user's history, train on a snapshot
with crec.Store(os.path.join(work, "shop.db")) as store:
    store.import_dataset(data)
    store.add_events(["dave", "dave"], [data.item_name(3), data.item_name(4)], ts=[1, 2])
    print("dave:", store.history("dave").items, store.stats()["events"], "events")
    snapshot = store.snapshot()
print(crec.train("markov", snapshot).recommend(snapshot, user="dave", k=3))
