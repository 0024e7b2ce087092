"""Differential tests: every interpretation of semantics v1 agrees on random models.

The numpy reference simulator (layer-major, :func:`simulate`), the transition-system
traversal (step-major, :func:`step_network`) and the exact torch simulator
(:func:`simulate_torch`) must give identical outputs for every layer; a batch must
equal its per-sample runs; and the float32 / float64 / int64 paths of
:class:`ExactMatrix` must give the same integers.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import models, rasters
from verisnn import semantics
from verisnn.errors import ModelError
from verisnn.model import Dense, InputSpec, Model, Neuron, Readout
from verisnn.simulator import ExactMatrix, NumpyOps, layer_params, simulate, step_network
from verisnn.torch_sim import simulate_torch

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_layers_equal(expected: list[np.ndarray], got: list[np.ndarray], what: str) -> None:
    assert len(expected) == len(got), what
    for k, (e, g) in enumerate(zip(expected, got)):
        assert e.shape == g.shape, f"{what}: layer {k} shape"
        np.testing.assert_array_equal(np.asarray(e, dtype=np.int64), np.asarray(g, dtype=np.int64),
                                      err_msg=f"{what}: layer {k}")


@SETTINGS
@given(st.data())
def test_numpy_step_major_and_torch_agree(data):
    model = data.draw(models())
    raster = data.draw(rasters(model, batch=data.draw(st.integers(1, 3))))
    reference = simulate(model, raster).layer_outputs
    _assert_layers_equal(reference, step_network(model, raster), "step_network")
    _assert_layers_equal(reference, simulate_torch(model, raster), "simulate_torch")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_batch_equals_per_sample_runs(data):
    model = data.draw(models())
    batch = data.draw(rasters(model, batch=data.draw(st.integers(2, 4))))
    together = simulate(model, batch, record_membranes=True)
    for b in range(batch.shape[0]):
        alone = simulate(model, batch[b], record_membranes=True)
        assert not alone.batched
        for key, value in alone.to_json().items():
            assert together.to_json()[key][b] == value, key
        for k in range(len(model.layers)):
            np.testing.assert_array_equal(together.layer_outputs[k][b], alone.layer_outputs[k][0])
            np.testing.assert_array_equal(together.membranes[k][b], alone.membranes[k][0])


def _forced(matrix: ExactMatrix, dtype) -> ExactMatrix:
    """The same matrix, applied through ``dtype`` (or the ``"int8"`` kernel) whatever its
    bound and size say."""
    out = ExactMatrix(np.zeros((1, 1), dtype=np.int64), matrix.out_dtype)
    out.bound = matrix.bound
    out.t8 = None
    if dtype == "int8":
        out.dtype, out.t, out.t8, out.int8_from = matrix.dtype, matrix.t, matrix.t8, 0
    else:
        out.dtype = dtype
        out.t = matrix.t.astype(np.int64).astype(dtype)
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_blas_paths_agree_on_whole_models(data):
    """Force every layer's synapses through float32, float64 and int64: same spikes."""
    model = data.draw(models())
    raster = data.draw(rasters(model, batch=2))
    x = np.ascontiguousarray(raster.transpose(1, 0, 2))  # [T, B, n], what run_layers takes
    results = []
    natural, value_dtype = layer_params(model)
    paths = [np.float32, np.float64, np.int64]
    if all(p.weight.t8 is not None and (p.recurrent is None or p.recurrent.t8 is not None) for p in natural):
        paths.append("int8")
    for dtype in paths:
        params = [replace(p, weight=_forced(p.weight, dtype),
                          recurrent=None if p.recurrent is None else _forced(p.recurrent, dtype))
                  for p in natural]
        assert all(p.weight.dtype is dtype for p in params) or dtype == "int8"
        outputs, membranes = semantics.run_layers(NumpyOps(value_dtype), model, params, x, (2,),
                                                  record_membranes=True)
        results.append(outputs + membranes)
    for other in results[1:]:
        _assert_layers_equal(results[0], other, "BLAS path")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_exact_matrix_paths_equal_python_integers(data):
    """Each path of ExactMatrix equals exact Python-integer arithmetic, on matrices whose
    row sums straddle 2^24 and 2^53 (so the natural choice of dtype varies too)."""
    rows, cols = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6))
    magnitude = data.draw(st.sampled_from((10, 1 << 22, 1 << 39)))
    m = data.draw(hnp.arrays(np.int64, (rows, cols), elements=st.integers(-magnitude, magnitude)))
    x = data.draw(hnp.arrays(np.int8, (3, cols), elements=st.integers(0, 1)))
    exact = np.array([[sum(int(m[r, c]) * int(x[b, c]) for c in range(cols)) for r in range(rows)]
                      for b in range(3)], dtype=object)
    natural = ExactMatrix(m)
    assert natural.bound == int(np.abs(m).sum(axis=1).max())
    paths = [natural, _forced(natural, np.int64)]
    if natural.t8 is not None:
        paths.append(_forced(natural, "int8"))
    if natural.bound < 1 << 53:
        paths.append(_forced(natural, np.float64))
    if natural.bound < 1 << 24:
        paths.append(_forced(natural, np.float32))
    for path in paths:
        y = path(x)
        assert y.dtype == np.int64
        assert y.astype(object).tolist() == exact.tolist(), (path.dtype, path.t8 is not None)


@pytest.mark.parametrize("row, dtype", [
    ([(1 << 24) - 1], np.float32),           # bound 2^24 - 1: float32 is exact
    ([1 << 23, (1 << 23)], np.float64),      # bound 2^24: float32 could round
    ([(1 << 39)] * 16384, np.int64),         # bound 2^53: float64 could round
])
def test_exact_matrix_selects_the_cheapest_exact_dtype(row, dtype):
    assert ExactMatrix(np.array([row], dtype=np.int64)).dtype is dtype


def test_large_weights_take_the_int64_path_and_stay_exact():
    """A row whose |W| sum passes 2^53: float64 would lose the +1, int64 keeps it. The
    neuron is an ``li`` readout, so the membrane (48 bits, saturating) shows the sum."""
    n_in = 16385
    weight = [[1 << 39] * 16384 + [1]]  # all inputs on: 2^53 + 1, clamped to 2^47 - 1
    li = Neuron(size=1, model="li", threshold=None, v_bits=48, on_overflow="wrap")
    model = Model(time_steps=1, input=InputSpec(size=n_in), layers=(Dense(weight=weight, neuron=li),),
                  readout=Readout(type="membrane_final"))
    params, value_dtype = layer_params(model)
    assert params[0].weight.dtype is np.int64 and value_dtype is np.int64
    raster = np.ones((1, n_in), dtype=np.int8)
    # 2^53 + 1 wrapped into 48 signed bits: 2^53 is a multiple of 2^48, so 1 is left
    assert simulate(model, raster).layer_outputs[0][0, 0, 0] == 1
    forced = [replace(p, weight=_forced(p.weight, np.float64)) for p in params]
    outputs, _ = semantics.run_layers(NumpyOps(value_dtype), model, forced, raster[:, None, :], (1,))
    assert outputs[0][0, 0, 0] == 0  # float64 rounded 2^53 + 1 to 2^53: why the int64 path exists
    with pytest.raises(ModelError, match="layers\\[0\\].*2\\^53"):
        simulate_torch(model, raster)  # the float64 torch simulator refuses what it cannot compute exactly


def test_torch_exact_decay_of_large_membranes():
    """Decays of membranes near 2^47: x * num needs 61 bits, beyond float64's 53; the torch
    simulator must still floor / truncate exactly like the reference."""
    for rounding in ("floor", "toward_zero"):
        for sign in (1, -1):
            li = Neuron(size=1, model="li", threshold=None, v_decay=((1 << 14) - 1, 14), v_bits=48,
                        rounding=rounding)
            weight = [[sign * (1 << 39)] * 128 + [sign]]  # u[0] = ±(2^46 + 1)
            model = Model(time_steps=3, input=InputSpec(size=129), layers=(Dense(weight=weight, neuron=li),),
                          readout=Readout(type="membrane_final"))
            raster = np.zeros((3, 129), dtype=np.int8)
            raster[0] = 1
            ref = simulate(model, raster).layer_outputs[0][0, :, 0]
            # (2^46 + 1) * 16383 / 16384 = 2^46 - 2^32 + 1 - 2^-14
            step1 = {(1, "floor"): 2**46 - 2**32, (1, "toward_zero"): 2**46 - 2**32,
                     (-1, "floor"): -(2**46 - 2**32 + 1), (-1, "toward_zero"): -(2**46 - 2**32)}
            assert int(ref[1]) == step1[(sign, rounding)]
            np.testing.assert_array_equal(simulate_torch(model, raster)[0][0, :, 0], ref)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_int32_and_int64_value_types_agree(data):
    """The simulator runs in int32 only where the bounds prove it exact: forcing int64 on
    the same model gives the same outputs and membranes."""
    model = data.draw(models())
    raster = data.draw(rasters(model, batch=2))
    x = np.ascontiguousarray(raster.transpose(1, 0, 2))
    runs = []
    for widest in (False, True):
        params, dtype = layer_params(model, widest=widest)
        outputs, membranes = semantics.run_layers(NumpyOps(dtype), model, params, x, (2,), record_membranes=True)
        assert all(m.dtype == dtype for m in membranes)
        runs.append(outputs + membranes)
    _assert_layers_equal(runs[0], runs[1], "int32 vs int64")


def test_value_type_is_int32_for_small_models_and_int64_near_the_limit():
    small = Model(time_steps=4, input=InputSpec(size=2),
                  layers=(Dense([[3, -2]], Neuron(1, threshold=5, v_decay=(7, 3), v_bits=24)),))
    assert layer_params(small)[1] is np.int32
    # 2^30 membrane range times a decay numerator of 3: products pass 2^31
    wide = Model(time_steps=4, input=InputSpec(size=2),
                 layers=(Dense([[3, -2]], Neuron(1, threshold=5, v_decay=(3, 2), v_bits=31)),))
    assert layer_params(wide)[1] is np.int64


def test_int8_kernel_is_available_and_used_for_large_products():
    """The fast path exists on the pinned torch, and a large product takes it exactly."""
    from verisnn.simulator import _int8_kernel

    assert _int8_kernel() is not None
    rng = np.random.default_rng(0)
    m = rng.integers(-128, 128, (64, 300))
    matrix = ExactMatrix(m)
    x = rng.integers(0, 2, (300, 300), dtype=np.int8)
    assert matrix.t8 is not None and x.shape[0] * matrix.t8.size >= matrix.int8_from
    np.testing.assert_array_equal(matrix(x), x.astype(np.int64) @ m.T)
    assert ExactMatrix(np.array([[128, 0]])).t8 is None  # beyond int8: a float path
