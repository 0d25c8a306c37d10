"""_api.py: the Python face of libcrec: Dataset, Split, Model, Store and the module functions.

The one idea: every call goes to the flat C API (include/crec/capi.h), which runs the same library calls as
the `crec` command, so a figure from Python is the CLI's figure. Large arrays are never copied on the way
out: a dataset's log and a split's CSR arrays are read-only numpy views of the library's memory (each view
keeps its owner alive), and scores and top-k lists are written by the library straight into numpy arrays.
"""
import ctypes
import json
import numbers
import warnings
from collections import namedtuple
from ctypes import byref, c_char_p, c_double, c_int, c_int32, c_int64, c_uint, c_void_p

import numpy as np

from ._lib import lib, path as library_path

# ---- errors ----------------------------------------------------------------------------------------------


class CrecError(Exception):
    """A libcrec failure: the library's message, its code (a negative CREC_E* value) and the code's name."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.code = code
        self.errname = _s(lib.crec_errname(code)) if code else ""


class InvalidArgument(CrecError, ValueError):
    """A bad value: an unknown or malformed hyper-parameter or option (the message names the key), an id out
    of range, a model used with another dataset."""


class NotFound(CrecError, LookupError):
    """A missing file, user or item."""


class ParseError(CrecError, ValueError):
    """A malformed input file; the message is "file:line: reason"."""


_EINVAL, _ENOTFOUND, _EPARSE, _ERANGE = -4, -5, -3, -9


def _raise(rc):
    msg = _s(lib.crec_capi_errmsg()) or _s(lib.crec_strerror(rc))
    cls = {_EINVAL: InvalidArgument, _ERANGE: InvalidArgument, _ENOTFOUND: NotFound, _EPARSE: ParseError}
    raise cls.get(rc, CrecError)(msg, rc)


def _check(rc):
    if rc != 0:
        _raise(rc)


# ---- text and arrays across the boundary ------------------------------------------------------------------


def _s(b, errors="surrogateescape"):
    """bytes from C -> str (ids round-trip through surrogateescape; titles use errors='replace')."""
    return None if b is None else b.decode("utf-8", errors)


def _b(s):
    if isinstance(s, bytes):
        return s
    return str(s).encode("utf-8", "surrogateescape")


def _text(v):
    """A Python value as the text libcrec's typed parameters read: bools as 1 / 0, floats round-tripping."""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, (list, tuple)):
        return ",".join(_text(x) for x in v)
    return str(v)


def _strings(seq):
    """A list of str -> a C array of char * (the returned tuple keeps the bytes alive)."""
    data = [_b(x) for x in seq]
    arr = (c_char_p * max(len(data), 1))(*data)
    return arr, data


def _options(opts):
    """dict -> (keys, vals, n, keep-alive) for the C API's key / value options; None values are left out."""
    items = [(k, _text(v)) for k, v in opts.items() if v is not None]
    keys, kk = _strings([k for k, _ in items])
    vals, vv = _strings([v for _, v in items])
    return keys, vals, len(items), (kk, vv)


def _take_json(ptr):
    """Parse and free a JSON string the C API returned."""
    try:
        return json.loads(ctypes.string_at(ptr.value).decode("utf-8", "replace"))
    finally:
        lib.crec_capi_free(ptr)


def _view(addr, n, dtype, owner):
    """A read-only numpy view of n elements at addr that keeps owner (the handle's Python object) alive."""
    dtype = np.dtype(dtype)
    if not addr or n <= 0:
        a = np.empty(0, dtype)
        a.flags.writeable = False
        return a
    buf = (ctypes.c_char * (n * dtype.itemsize)).from_address(addr)
    buf._crec_owner = owner
    a = np.frombuffer(buf, dtype=dtype, count=n)
    a.flags.writeable = False
    return a


def _addr(a):
    return a.ctypes.data if a is not None and a.size else None


# ---- datasets ---------------------------------------------------------------------------------------------

CSR = namedtuple("CSR", "indptr indices ts values shape")
CSR.__doc__ = ("A user x item matrix in compressed rows, each row in time order: indptr (int64, rows + 1), "
               "indices (int32 item ids), ts (int64), values (float32): read-only views. CSR.to_scipy() needs scipy.")


def _csr_to_scipy(self):
    import scipy.sparse  # optional dependency
    return scipy.sparse.csr_matrix((self.values, self.indices, self.indptr), shape=self.shape)


CSR.to_scipy = _csr_to_scipy


class _Owned:
    """A C object this Python object owns, freed once: by _release() or when the object goes. Subclasses name
    the C function that frees it (_free: a class attribute, so it is still reachable at interpreter exit when
    module globals may be gone) and what it is (_what, for the error on use after release)."""

    _free = None
    _what = "object"

    def __init__(self, handle):
        self._h = handle if isinstance(handle, c_void_p) else c_void_p(handle)

    def _release(self):
        h = getattr(self, "_h", None)
        if h is not None and h.value:
            type(self)._free(h)
        self._h = None

    def __del__(self):
        self._release()

    @property
    def _handle(self):
        if not self._h or not self._h.value:
            raise CrecError(f"{self._what} is closed")
        return self._h


class Dataset(_Owned):
    """An interaction log with external ids mapped to dense ints (0..n-1), item titles and attributes.

    Make one with Dataset.synth(...), Dataset.load(path, ...) or Dataset.from_events(...). A Dataset never
    changes after it is made (filters are options of the constructors), so views of its log stay valid."""

    _free = lib.crec_capi_dataset_free
    _what = "dataset"

    def __init__(self, handle):
        super().__init__(handle)
        self._log = None

    # -- constructors
    @classmethod
    def synth(cls, **opts):
        """The embedded synthetic dataset (as `crec data synth`): users, items, topics, attrs, min_len, max_len,
        alpha, p_seq, p_taste, p_repeat, seed; the CLI's defaults for the rest."""
        keys, vals, n, _keep = _options(opts)
        h = c_void_p()
        _check(lib.crec_capi_dataset_synth(keys, vals, n, byref(h)))
        return cls(h.value)

    @classmethod
    def load(cls, path, format=None, items=None, skip_bad=None, min_rating=None, dedup=None, kcore=None,
             user_col=None, item_col=None, time_col=None, value_col=None, delim=None, no_header=None):
        """A .crecds file, or a text dataset (format: auto, movielens, sequences, pairs, csv) with the options of
        `crec data import`: items (attribute file), skip_bad, min_rating, dedup, kcore, CSV columns, delim,
        no_header. A malformed line raises ParseError with "file:line: reason"."""
        opts = dict(format=format, items=items, skip_bad=skip_bad, min_rating=min_rating, dedup=dedup, kcore=kcore,
                    user_col=user_col, item_col=item_col, time_col=time_col, value_col=value_col, delim=delim,
                    no_header=no_header)
        keys, vals, n, _keep = _options(opts)
        h = c_void_p()
        _check(lib.crec_capi_dataset_load(_b(path), keys, vals, n, byref(h)))
        return cls(h.value)

    @classmethod
    def from_events(cls, users, items, ts=None, values=None, name=None, min_rating=None, dedup=None, kcore=None):
        """A dataset from parallel sequences of external user and item ids (any values; made str), optional
        int64 times (else positions: file order) and float32 values (else 1), in load order."""
        users = [str(u) for u in users]
        items = [str(i) for i in items]
        if len(users) != len(items):
            raise InvalidArgument("from_events: %d users but %d items" % (len(users), len(items)))
        n = len(users)
        ts_a = None if ts is None else np.ascontiguousarray(ts, dtype=np.int64)
        val_a = None if values is None else np.ascontiguousarray(values, dtype=np.float32)
        for nm, a in (("ts", ts_a), ("values", val_a)):
            if a is not None and a.shape != (n,):
                raise InvalidArgument("from_events: %s has shape %s, expected (%d,)" % (nm, a.shape, n))
        u_arr, _ku = _strings(users)
        i_arr, _ki = _strings(items)
        keys, vals, nopt, _keep = _options(dict(min_rating=min_rating, dedup=dedup, kcore=kcore))
        h = c_void_p()
        _check(lib.crec_capi_dataset_from_events(u_arr, i_arr, _addr(ts_a), _addr(val_a), n,
                                                 _b(name) if name else None, keys, vals, nopt, byref(h)))
        return cls(h.value)

    def save(self, path):
        """Write a .crecds file (checksummed; memory-mapped when loaded again)."""
        _check(lib.crec_capi_dataset_save(self._handle, _b(path)))

    # -- sizes and description
    @property
    def n_users(self):
        return lib.crec_capi_dataset_size(self._handle, 0)

    @property
    def n_items(self):
        return lib.crec_capi_dataset_size(self._handle, 1)

    @property
    def n_events(self):
        return lib.crec_capi_dataset_size(self._handle, 2)

    @property
    def n_attributes(self):
        return lib.crec_capi_dataset_size(self._handle, 3)

    def __len__(self):
        return self.n_events

    @property
    def name(self):
        return _s(lib.crec_capi_dataset_name(self._handle), "replace")

    def info(self):
        """The statistics of `crec data info --json` as a dict."""
        p = c_void_p()
        _check(lib.crec_capi_dataset_info(self._handle, byref(p)))
        return _take_json(p)

    def __repr__(self):
        return "<crec.Dataset %r: %d users, %d items, %d events>" % (self.name, self.n_users, self.n_items,
                                                                     self.n_events)

    # -- the log, without copies
    @property
    def log(self):
        """The interaction log in load order as read-only numpy views: user (int32), item (int32), ts (int64:
        seconds, or positions when the data has no times), value (float32), type (uint8 event type)."""
        if self._log is None:
            ptrs = [c_void_p() for _ in range(5)]
            _check(lib.crec_capi_dataset_log(self._handle, *[byref(p) for p in ptrs]))
            n = self.n_events
            names = ("user", "item", "ts", "value", "type")
            dts = (np.int32, np.int32, np.int64, np.float32, np.uint8)
            self._log = {k: _view(p.value, n, dt, self) for k, p, dt in zip(names, ptrs, dts)}
        return self._log

    # -- ids
    def _ids(self, which, names):
        if isinstance(names, (str, bytes)):
            names = [names]
        names = list(names)
        arr, _keep = _strings(names)
        out = np.empty(len(names), dtype=np.int32)
        rc = lib.crec_capi_dataset_ids(self._handle, which, arr, len(names), _addr(out))
        if rc < 0:
            _raise(int(rc))
        return out

    def user_ids(self, names):
        """Dense ids (int32) of external user ids; -1 for unknown ones."""
        return self._ids(0, names)

    def item_ids(self, names):
        """Dense ids (int32) of external item ids; -1 for unknown ones."""
        return self._ids(1, names)

    def user_name(self, i):
        s = lib.crec_capi_dataset_user_name(self._handle, int(i))
        if s is None:
            raise InvalidArgument("user %d out of range [0, %d)" % (i, self.n_users))
        return _s(s)

    def item_name(self, i):
        s = lib.crec_capi_dataset_item_name(self._handle, int(i))
        if s is None:
            raise InvalidArgument("item %d out of range [0, %d)" % (i, self.n_items))
        return _s(s)

    def item_names(self, index):
        """External ids of dense item ids (a sequence or an array) as a numpy str array."""
        return np.array([self.item_name(i) for i in np.asarray(index).ravel()], dtype=str).reshape(np.shape(index))

    def item_title(self, i):
        """The item's title, or None."""
        self.item_name(i)  # range check
        return _s(lib.crec_capi_dataset_item_title(self._handle, int(i)), "replace")

    def item_attributes(self, i):
        """The item's attribute names (a list, first-seen order)."""
        self.item_name(i)
        cap = 32
        while True:
            buf = np.empty(cap, dtype=np.int32)
            n = lib.crec_capi_dataset_item_attrs(self._handle, int(i), _addr(buf), cap)
            if n < 0:
                _raise(n)
            if n <= cap:
                return [_s(lib.crec_capi_dataset_attr_name(self._handle, int(a)), "replace") for a in buf[:n]]
            cap = n

    # -- splits
    def split(self, spec="loo"):
        """The train / validation / test split for spec (loo, temporal:TEST[:VALID], random:TEST[:VALID[:SEED]],
        cold-items:..., cold-users:...): the same pure function of (dataset, spec) that training uses."""
        h = c_void_p()
        _check(lib.crec_capi_split_make(self._handle, _b(spec), byref(h)))
        return Split(h.value)


class Split(_Owned):
    """Three user x item CSR matrices (train, valid, test) over the same users and items; views of the split's
    memory (read-only, kept alive by the views)."""

    _free = lib.crec_capi_split_free
    _what = "split"

    def __init__(self, handle):
        super().__init__(handle)
        self._parts = {}

    @property
    def spec(self):
        buf = ctypes.create_string_buffer(128)
        _check(lib.crec_capi_split_spec(self._h, buf, len(buf)))
        return buf.value.decode()

    def _part(self, which):
        if which not in self._parts:
            rows, cols = c_int32(), c_int32()
            ptrs = [c_void_p() for _ in range(4)]
            _check(lib.crec_capi_split_part(self._h, which, byref(rows), byref(cols), *[byref(p) for p in ptrs]))
            indptr = _view(ptrs[0].value, rows.value + 1, np.int64, self)
            nnz = int(indptr[-1]) if indptr.size else 0
            self._parts[which] = CSR(indptr, _view(ptrs[1].value, nnz, np.int32, self),
                                     _view(ptrs[2].value, nnz, np.int64, self),
                                     _view(ptrs[3].value, nnz, np.float32, self), (rows.value, cols.value))
        return self._parts[which]

    @property
    def train(self):
        return self._part(0)

    @property
    def valid(self):
        return self._part(1)

    @property
    def test(self):
        return self._part(2)

    def __repr__(self):
        return "<crec.Split %s: train %d, valid %d, test %d events>" % (
            self.spec, self.train.indices.size, self.valid.indices.size, self.test.indices.size)


# ---- models -----------------------------------------------------------------------------------------------

_CAPS = ((1 << 0, "time"), (1 << 1, "features"), (1 << 2, "list"), (1 << 3, "online"), (1 << 4, "sequence"),
         (1 << 5, "batch"))


def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def models():
    """Every model type with its hyper-parameters: the list `crec models --json` prints, as Python objects:
    [{name, summary, caps, params: [{name, type, default, min, max | values | also, help}]}]."""
    out = []
    for t in range(lib.crec_capi_model_type_count()):
        name, summary, caps, npar = c_char_p(), c_char_p(), c_uint(), c_int()
        _check(lib.crec_capi_model_type(t, byref(name), byref(summary), byref(caps), byref(npar)))
        params = []
        for p in range(npar.value):
            pn, kind, dflt, chc, hlp = c_char_p(), c_char_p(), c_char_p(), c_char_p(), c_char_p()
            lo, hi = c_double(), c_double()
            _check(lib.crec_capi_model_param(t, p, byref(pn), byref(kind), byref(dflt), byref(lo), byref(hi),
                                             byref(chc), byref(hlp)))
            d = {"name": _s(pn.value), "type": _s(kind.value), "default": _s(dflt.value)}
            if d["type"] in ("int", "float"):
                d["min"], d["max"] = _num(lo.value), _num(hi.value)
            if chc.value is not None:
                d["values" if d["type"] == "enum" else "also"] = _s(chc.value).split("|")
            d["help"] = _s(hlp.value)
            params.append(d)
        out.append({"name": _s(name.value), "summary": _s(summary.value),
                    "caps": [c for bit, c in _CAPS if caps.value & bit], "params": params})
    return out


def model_params(name):
    """The hyper-parameter schema of one model type (see models()); NotFound for an unknown name."""
    for m in models():
        if m["name"] == name:
            return m["params"]
    raise NotFound("unknown model '%s' (models: %s)" % (name, ", ".join(m["name"] for m in models())), _ENOTFOUND)


class Recommendations:
    """A top-k list: ids (external item ids, numpy str array), index (dense item ids, int32), scores (float32,
    descending), and titles. Iterating gives (id, score) pairs."""

    def __init__(self, ids, index, scores, titles):
        self.ids, self.index, self.scores, self.titles = ids, index, scores, titles

    def __len__(self):
        return len(self.index)

    def __iter__(self):
        return iter(zip(self.ids.tolist(), self.scores.tolist()))

    def __repr__(self):
        rows = ["%3d. %-12s %9.4f  %s" % (r + 1, self.ids[r], self.scores[r], self.titles[r] or "")
                for r in range(len(self))]
        return "<crec.Recommendations k=%d>\n%s" % (len(self), "\n".join(rows))


class Model(_Owned):
    """A trained model: train with crec.train(...), or Model.load(path) a checkpoint (.crecm)."""

    _free = lib.crec_capi_model_free
    _what = "model"

    @classmethod
    def load(cls, path):
        h = c_void_p()
        _check(lib.crec_capi_model_load(_b(path), byref(h)))
        return cls(h.value)

    def save(self, path):
        """Write a checkpoint that `crec eval` / `crec recommend` read (it records the split)."""
        _check(lib.crec_capi_model_save(self._h, _b(path)))

    @property
    def info(self):
        """{type, users, items, split, data, seed, train_seconds, params: {key: value text}}"""
        p = c_void_p()
        _check(lib.crec_capi_model_describe(self._h, byref(p)))
        return _take_json(p)

    @property
    def type(self):
        return self.info["type"]

    @property
    def params(self):
        return self.info["params"]

    @property
    def split(self):
        return self.info["split"]

    @property
    def n_items(self):
        return self.info["items"]

    def __repr__(self):
        i = self.info
        return "<crec.Model %s on %r (%d users x %d items), split %s>" % (i["type"], i["data"], i["users"],
                                                                          i["items"], i["split"])

    def evaluate(self, data, k=None, target=None, filter_seen=None, sampled=None, seed=None, max_users=None,
                 threads=None, candidates=None, per_user=None):
        """Evaluate on the split the model was trained under, rebuilt from data (the dataset it was trained
        on): the dict of `crec eval --json` (protocol, model, metrics {"NDCG@10": ...}, users, ...). Options
        as the CLI's: k (int or list), target ("test" / "valid"), filter_seen, sampled (N negatives: labelled
        SAMPLED), seed, max_users, threads, candidates ("all" / "untrained"), per_user (a TSV path)."""
        if isinstance(k, numbers.Integral):
            k = [k]
        opts = dict(k=k, target=target, filter_seen=filter_seen, sampled=sampled, seed=seed, max_users=max_users,
                    threads=threads, candidates=candidates, per_user=per_user)
        keys, vals, n, _keep = _options(opts)
        p = c_void_p()
        _check(lib.crec_capi_evaluate(self._h, data._handle, keys, vals, n, byref(p)))
        return _take_json(p)

    # -- contexts: a user (external id str, or dense int) or a history (external ids, or dense ints)
    def _user(self, data, user):
        if user is None:
            return -1
        if data is None:
            raise InvalidArgument("a user needs the dataset that holds their events (data=...)")
        if isinstance(user, (str, bytes)):
            u = int(data.user_ids([user])[0])
            if u < 0:
                raise NotFound("unknown user '%s' in %s" % (_s(_b(user)), data.name), _ENOTFOUND)
            return u
        if isinstance(user, numbers.Integral):
            return int(user)
        raise InvalidArgument("user must be an external id (str) or a dense id (int), not %r" % type(user))

    def _items(self, data, seq, what):
        """External ids (str) or dense ids (ints) -> int32 array; unknown external ids are skipped with a
        warning, as `crec recommend --history` does."""
        if seq is None:
            return None
        if isinstance(seq, (str, bytes)):
            seq = [seq]
        a = np.asarray(seq)
        if a.size == 0:
            return np.empty(0, np.int32)
        if a.dtype.kind in "iu":
            return np.ascontiguousarray(a.ravel(), dtype=np.int32)
        if data is None:
            raise InvalidArgument("%s given as external ids needs the dataset (data=...)" % what)
        ids = data.item_ids([str(x) for x in a.ravel()])
        if (ids < 0).any():
            bad = [str(x) for x, i in zip(a.ravel(), ids) if i < 0]
            warnings.warn("unknown item(s) in %s ignored: %s" % (what, ", ".join(bad[:10])), stacklevel=3)
        return np.ascontiguousarray(ids[ids >= 0], dtype=np.int32)

    def _hist_ts(self, hist, history_ts):
        if history_ts is None or hist is None:
            return None
        ts = np.ascontiguousarray(history_ts, dtype=np.int64)
        if ts.shape != hist.shape:
            raise InvalidArgument("history_ts has shape %s, history %s" % (ts.shape, hist.shape))
        return ts

    def recommend(self, data=None, user=None, history=None, k=10, exclude=None, must=(), must_not=(),
                  keep_seen=False, history_ts=None):
        """Top-k through the recommendation service, as `crec recommend`: for a user of data (their events are
        the history) or for an anonymous history (oldest first; times = positions unless history_ts).
        Seen items excluded unless keep_seen; exclude: items never returned; must / must_not: attribute names
        every returned item has / has not. Returns Recommendations (external ids, dense index, scores)."""
        u = self._user(data, user)
        hist = self._items(data, history, "history")
        hts = self._hist_ts(hist, history_ts)
        excl = self._items(data, exclude, "exclude")
        must = [must] if isinstance(must, str) else list(must or ())
        must_not = [must_not] if isinstance(must_not, str) else list(must_not or ())
        ma, _km = _strings(must)
        mna, _kn = _strings(must_not)
        k = int(k)
        if k < 1:
            raise InvalidArgument("k must be >= 1")
        index = np.empty(k, dtype=np.int32)
        scores = np.empty(k, dtype=np.float32)
        n = c_int32()
        _check(lib.crec_capi_recommend(self._h, data._handle if data is not None else None, u, _addr(hist),
                                       _addr(hts), 0 if hist is None else hist.size, _addr(excl),
                                       0 if excl is None else excl.size, ma, len(must), mna, len(must_not), k,
                                       int(bool(keep_seen)), index.ctypes.data, scores.ctypes.data, byref(n)))
        index, scores = index[:n.value], scores[:n.value]
        if data is not None:
            ids = data.item_names(index)
            titles = [data.item_title(i) for i in index]
        else:
            ids = index.astype(str)
            titles = [None] * len(index)
        return Recommendations(ids, index, scores, titles)

    def recommend_users(self, data, users, k=10, keep_seen=False):
        """Top-k for many users of data: (index int32 [n, k], scores float32 [n, k]); rows shorter than k are
        padded with -1 / NaN. The library writes each row straight into the arrays."""
        us = [self._user(data, u) for u in users]
        k = int(k)
        index = np.full((len(us), k), -1, dtype=np.int32)
        scores = np.full((len(us), k), np.nan, dtype=np.float32)
        n = c_int32()
        empty, _keep = _strings([])
        for r, u in enumerate(us):
            _check(lib.crec_capi_recommend(self._h, data._handle, u, None, None, 0, None, 0, empty, 0, empty, 0, k,
                                           int(bool(keep_seen)), index[r].ctypes.data, scores[r].ctypes.data,
                                           byref(n)))
        return index, scores

    def score(self, data=None, user=None, history=None, history_ts=None):
        """The model's score of every item (float32 [n_items], higher is better) for a user of data or a
        history: the context recommend gives the model, with nothing excluded."""
        u = self._user(data, user)
        hist = self._items(data, history, "history")
        hts = self._hist_ts(hist, history_ts)
        out = np.empty(self.n_items, dtype=np.float32)
        _check(lib.crec_capi_score(self._h, data._handle if data is not None else None, u, _addr(hist), _addr(hts),
                                   0 if hist is None else hist.size, out.ctypes.data))
        return out

    def score_users(self, data, users):
        """Scores of many users at once: float32 [len(users), n_items] (one matrix product per block for
        models that batch), written by the library into the returned array."""
        us = np.ascontiguousarray([self._user(data, u) for u in users], dtype=np.int32)
        out = np.empty((us.size, self.n_items), dtype=np.float32)
        _check(lib.crec_capi_score_users(self._h, data._handle, _addr(us), us.size, _addr(out)))
        return out


def train(model, data, split="loo", seed=42, threads=None, verbose=False, params=None, **hyper):
    """Train model type `model` on the training part of `split` of data, as `crec train` does (the same seed
    gives the same model). Hyper-parameters as keywords (epochs=3, dim=32) or params={...}; each is checked
    against the model's typed schema, and a bad key or value raises InvalidArgument with the library's
    message naming the model, the key, the value and what is accepted. threads: OpenMP threads (None: all)."""
    allp = dict(params or {})
    allp.update(hyper)
    keys, vals, n, _keep = _options(allp)
    h = c_void_p()
    _check(lib.crec_capi_train(data._handle, _b(model), keys, vals, n, _b(split), int(seed), int(threads or 0),
                               int(bool(verbose)), byref(h)))
    return Model(h.value)


def load_model(path):
    """Model.load(path)."""
    return Model.load(path)


def evaluate(model, data, **opts):
    """model.evaluate(data, **opts)."""
    return model.evaluate(data, **opts)


# ---- the store --------------------------------------------------------------------------------------------

History = namedtuple("History", "items types ts values item_sid")
History.__doc__ = ("A user's events from a store, oldest first: items and types (lists of str), ts (int64), "
                   "values (float32), item_sid (int64 store row ids).")


class Store(_Owned):
    """The SQLite store behind `crec serve` (created when absent unless readonly). Use as a context manager
    or call close()."""

    _free = lib.crec_capi_store_close
    _what = "store"

    def __init__(self, path, readonly=False):
        h = c_void_p()
        _check(lib.crec_capi_store_open(_b(path), int(bool(readonly)), byref(h)))
        super().__init__(h)

    def close(self):
        """Close the connection (also on leaving a with block, and when the object goes)."""
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def import_dataset(self, data):
        """Add every user, item (titles, attributes) and event of data in one transaction:
        {users_added, items_added, events_added, attrs_added, seconds}."""
        p = c_void_p()
        _check(lib.crec_capi_store_import(self._handle, data._handle, byref(p)))
        return _take_json(p)

    def add_events(self, users, items, types=None, values=None, ts=None):
        """Append events in one transaction (returns after COMMIT). Unknown users are created; an unknown item
        raises NotFound and writes nothing."""
        users = [str(u) for u in users]
        items = [str(i) for i in items]
        n = len(users)
        if len(items) != n or (types is not None and len(types) != n):
            raise InvalidArgument("add_events: users, items and types must have the same length")
        ua, _ku = _strings(users)
        ia, _ki = _strings(items)
        ta, _kt = _strings(types) if types is not None else (None, None)
        va = None if values is None else np.ascontiguousarray(values, dtype=np.float32)
        tsa = None if ts is None else np.ascontiguousarray(ts, dtype=np.int64)
        for nm, a in (("values", va), ("ts", tsa)):
            if a is not None and a.shape != (n,):
                raise InvalidArgument("add_events: %s has shape %s, expected (%d,)" % (nm, a.shape, n))
        bad = c_int64(-1)
        _check(lib.crec_capi_store_add_events(self._handle, ua, ia, ta, _addr(va), _addr(tsa), n, byref(bad)))

    def add_event(self, user, item, type=None, value=1.0, ts=0):
        self.add_events([user], [item], None if type is None else [type], [value], [ts])

    def put_item(self, id, title=None, text=None, attributes=(), visible=True):
        """Create or replace an item."""
        aa, _ka = _strings(list(attributes))
        _check(lib.crec_capi_store_put_item(self._handle, _b(id), _b(title) if title is not None else None,
                                            _b(text) if text is not None else None, aa, len(attributes),
                                            int(bool(visible))))

    def history(self, user, last=0):
        """The user's events, oldest first (the newest `last` when last > 0); NotFound for an unknown user."""
        h = c_void_p()
        _check(lib.crec_capi_store_user_events(self._handle, _b(user), int(last), byref(h)))
        try:
            n = lib.crec_capi_events_count(h)
            ts, val, sid = c_void_p(), c_void_p(), c_void_p()
            _check(lib.crec_capi_events_arrays(h, byref(ts), byref(val), byref(sid)))
            # small per-user arrays: copied out, so the handle can go now
            return History([_s(lib.crec_capi_events_item(h, i)) for i in range(n)],
                           [_s(lib.crec_capi_events_type(h, i)) for i in range(n)],
                           _view(ts.value, n, np.int64, None).copy(), _view(val.value, n, np.float32, None).copy(),
                           _view(sid.value, n, np.int64, None).copy())
        finally:
            lib.crec_capi_events_free(h)

    def stats(self):
        """{users, items, hidden_items, events, event_types, attributes, min_ts, max_ts}"""
        p = c_void_p()
        _check(lib.crec_capi_store_stats(self._handle, byref(p)))
        return _take_json(p)

    def snapshot(self):
        """The whole store as a Dataset (ids in store row order), to train on as `crec train --db` does."""
        h = c_void_p()
        _check(lib.crec_capi_store_snapshot(self._handle, byref(h)))
        return Dataset(h.value)


# ---- the library ------------------------------------------------------------------------------------------


def version():
    """libcrec's version string."""
    return _s(lib.crec_version())


def blas():
    """The BLAS kernel libcrec runs: {core, config, threads}. Unlike the crec program, a Python process cannot
    re-execute itself to pick OpenBLAS's core type: set OPENBLAS_CORETYPE (e.g. Haswell, SkylakeX) before
    starting Python when `crec version` shows that crec would choose another core than OpenBLAS detects."""
    return {"core": _s(lib.crec_blas_corename()), "config": _s(lib.crec_blas_config()),
            "threads": lib.crec_blas_threads()}

