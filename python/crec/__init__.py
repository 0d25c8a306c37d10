"""crec: recommendation in C, from Python.

    import crec
    data = crec.Dataset.synth(users=500, items=300, seed=1)      # or crec.Dataset.load("beauty.crecds")
    model = crec.train("sasrec", data, epochs=3, dim=32)          # hyper-parameters checked by the schema
    report = model.evaluate(data, k=[10, 20])                     # the dict of `crec eval --json`
    recs = model.recommend(data, user="u1", k=5)                  # recs.ids, recs.scores (numpy)

A thin layer over libcrec.so (ctypes; no compiler needed): see docs/PYTHON.md. The library is found through
CREC_LIB, a copy inside this package, or the source tree's build folders (crec._lib explains the order).
"""
from ._api import (CSR, CrecError, Dataset, History, InvalidArgument, Model, NotFound, ParseError, Recommendations,
                   Split, Store, blas, evaluate, library_path, load_model, model_params, models, train, version)

__version__ = "0.1.0"

__all__ = ["CSR", "CrecError", "Dataset", "History", "InvalidArgument", "Model", "NotFound", "ParseError",
           "Recommendations", "Split", "Store", "blas", "evaluate", "library_path", "load_model", "model_params",
           "models", "train", "version"]
