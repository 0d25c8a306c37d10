"""_lib.py: finds libcrec.so, loads it with ctypes and declares the flat C API (include/crec/capi.h).

Where the library comes from, first match wins:
  1. the environment variable CREC_LIB: the path of libcrec.so, or a folder holding it;
  2. libcrec.so inside this package (copied there by `pip install` when CREC_LIB was set at install time);
  3. the build folders of the source tree the package was installed from (build/, build-rel/, build-test/);
  4. the system's library path (ctypes.util.find_library("crec")).
An AddressSanitizer build is passed over unless the ASan runtime is already loaded (LD_PRELOAD): loaded after
other libraries it would abort the process.
"""
import ctypes
import ctypes.util
import os

from ctypes import POINTER, c_char_p, c_double, c_int, c_int32, c_int64, c_size_t, c_uint, c_uint64, c_void_p

_HERE = os.path.dirname(os.path.abspath(__file__))
_NAMES = ("libcrec.so", "libcrec.so.0")


def _source_tree_dirs():
    """Build folders of the source tree recorded at install (_paths.py), else of the tree this file is in."""
    roots = []
    try:
        from . import _paths  # written by setup.py at install time
        roots.append(_paths.SOURCE_ROOT)
    except ImportError:
        pass
    roots.append(os.path.dirname(os.path.dirname(_HERE)))  # python/crec -> the repository root
    out = []
    for root in roots:
        for b in ("build", "build-rel", "build-test"):
            out.append(os.path.join(root, b))
    return out


def candidates():
    """Every place looked at, in order (for the error message and the docs)."""
    env = os.environ.get("CREC_LIB")
    paths = []
    if env:
        if os.path.isdir(env):
            paths += [os.path.join(env, n) for n in _NAMES]
        else:
            paths.append(env)
        return paths  # an explicit choice: nothing else is tried
    paths += [os.path.join(_HERE, n) for n in _NAMES]
    for d in _source_tree_dirs():
        paths += [os.path.join(d, n) for n in _NAMES]
    return paths


def _asan_loaded():
    try:
        with open("/proc/self/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False


def _needs_asan(path):
    """An AddressSanitizer build of libcrec aborts the process when loaded after other libraries."""
    try:
        with open(path, "rb") as f:
            return b"libasan.so" in f.read()
    except OSError:
        return False


def _asan_message(path):
    return ("crec: %s is built with AddressSanitizer (CREC_SANITIZE=ON); start Python with "
            "LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0, or point CREC_LIB at "
            "a release build (cmake -DCMAKE_BUILD_TYPE=Release)" % path)


def find():
    """The first library in candidates() that this process can load: an ASan build is passed over (for a later
    candidate) unless the ASan runtime is loaded; when only ASan builds exist, say how to load one."""
    asan = _asan_loaded()
    skipped = None
    for p in candidates():
        if os.path.isfile(p):
            p = os.path.realpath(p)
            if not asan and _needs_asan(p):
                skipped = skipped or p
                continue
            return p
    if not os.environ.get("CREC_LIB"):
        sys_lib = ctypes.util.find_library("crec")
        if sys_lib:
            return sys_lib
    if skipped:
        raise ImportError(_asan_message(skipped))
    raise ImportError("crec: libcrec.so not found; build it (cmake --build build) and set CREC_LIB to its path. "
                      "Looked in: " + ", ".join(candidates()))


def _declare(lib):
    P = POINTER
    cpp = P(c_char_p)
    sigs = {
        # errors, memory
        "crec_capi_errmsg": (c_char_p, []),
        "crec_capi_free": (None, [c_void_p]),
        "crec_capi_version": (c_int, []),
        "crec_version": (c_char_p, []),
        "crec_strerror": (c_char_p, [c_int]),
        "crec_errname": (c_char_p, [c_int]),
        "crec_blas_corename": (c_char_p, []),
        "crec_blas_config": (c_char_p, []),
        "crec_blas_threads": (c_int, []),
        # datasets
        "crec_capi_dataset_synth": (c_int, [cpp, cpp, c_int, P(c_void_p)]),
        "crec_capi_dataset_load": (c_int, [c_char_p, cpp, cpp, c_int, P(c_void_p)]),
        "crec_capi_dataset_from_events": (c_int, [cpp, cpp, c_void_p, c_void_p, c_int64, c_char_p, cpp, cpp, c_int,
                                                  P(c_void_p)]),
        "crec_capi_dataset_save": (c_int, [c_void_p, c_char_p]),
        "crec_capi_dataset_free": (None, [c_void_p]),
        "crec_capi_dataset_size": (c_int64, [c_void_p, c_int]),
        "crec_capi_dataset_name": (c_char_p, [c_void_p]),
        "crec_capi_dataset_info": (c_int, [c_void_p, P(c_void_p)]),
        "crec_capi_dataset_log": (c_int, [c_void_p, P(c_void_p), P(c_void_p), P(c_void_p), P(c_void_p),
                                          P(c_void_p)]),
        "crec_capi_dataset_user_name": (c_char_p, [c_void_p, c_int32]),
        "crec_capi_dataset_item_name": (c_char_p, [c_void_p, c_int32]),
        "crec_capi_dataset_item_title": (c_char_p, [c_void_p, c_int32]),
        "crec_capi_dataset_item_attrs": (c_int, [c_void_p, c_int32, c_void_p, c_int]),
        "crec_capi_dataset_attr_name": (c_char_p, [c_void_p, c_int32]),
        "crec_capi_dataset_ids": (c_int64, [c_void_p, c_int, cpp, c_int64, c_void_p]),
        # splits
        "crec_capi_split_make": (c_int, [c_void_p, c_char_p, P(c_void_p)]),
        "crec_capi_split_free": (None, [c_void_p]),
        "crec_capi_split_spec": (c_int, [c_void_p, c_char_p, c_size_t]),
        "crec_capi_split_part": (c_int, [c_void_p, c_int, P(c_int32), P(c_int32), P(c_void_p), P(c_void_p),
                                         P(c_void_p), P(c_void_p)]),
        # models
        "crec_capi_model_type_count": (c_int, []),
        "crec_capi_model_type": (c_int, [c_int, P(c_char_p), P(c_char_p), P(c_uint), P(c_int)]),
        "crec_capi_model_param": (c_int, [c_int, c_int, P(c_char_p), P(c_char_p), P(c_char_p), P(c_double),
                                          P(c_double), P(c_char_p), P(c_char_p)]),
        "crec_capi_train": (c_int, [c_void_p, c_char_p, cpp, cpp, c_int, c_char_p, c_uint64, c_int, c_int,
                                    P(c_void_p)]),
        "crec_capi_model_save": (c_int, [c_void_p, c_char_p]),
        "crec_capi_model_load": (c_int, [c_char_p, P(c_void_p)]),
        "crec_capi_model_free": (None, [c_void_p]),
        "crec_capi_model_describe": (c_int, [c_void_p, P(c_void_p)]),
        "crec_capi_evaluate": (c_int, [c_void_p, c_void_p, cpp, cpp, c_int, P(c_void_p)]),
        "crec_capi_recommend": (c_int, [c_void_p, c_void_p, c_int32, c_void_p, c_void_p, c_int32, c_void_p, c_int32,
                                        cpp, c_int, cpp, c_int, c_int, c_int, c_void_p, c_void_p, P(c_int32)]),
        "crec_capi_score": (c_int, [c_void_p, c_void_p, c_int32, c_void_p, c_void_p, c_int32, c_void_p]),
        "crec_capi_score_users": (c_int, [c_void_p, c_void_p, c_void_p, c_int32, c_void_p]),
        # store
        "crec_capi_store_open": (c_int, [c_char_p, c_int, P(c_void_p)]),
        "crec_capi_store_close": (None, [c_void_p]),
        "crec_capi_store_import": (c_int, [c_void_p, c_void_p, P(c_void_p)]),
        "crec_capi_store_add_events": (c_int, [c_void_p, cpp, cpp, cpp, c_void_p, c_void_p, c_int64, P(c_int64)]),
        "crec_capi_store_put_item": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p, cpp, c_int, c_int]),
        "crec_capi_store_stats": (c_int, [c_void_p, P(c_void_p)]),
        "crec_capi_store_snapshot": (c_int, [c_void_p, P(c_void_p)]),
        "crec_capi_store_user_events": (c_int, [c_void_p, c_char_p, c_int64, P(c_void_p)]),
        "crec_capi_events_count": (c_int64, [c_void_p]),
        "crec_capi_events_arrays": (c_int, [c_void_p, P(c_void_p), P(c_void_p), P(c_void_p)]),
        "crec_capi_events_item": (c_char_p, [c_void_p, c_int64]),
        "crec_capi_events_type": (c_char_p, [c_void_p, c_int64]),
        "crec_capi_events_free": (None, [c_void_p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)  # AttributeError here: a libcrec.so older than this package
        fn.restype = res
        fn.argtypes = args
    return lib


def load():
    path = find()
    lib = _declare(ctypes.CDLL(path))
    if lib.crec_capi_version() != 1:
        raise ImportError("crec: %s speaks C API version %d; this package needs 1" % (path, lib.crec_capi_version()))
    return lib, path


lib, path = load()
