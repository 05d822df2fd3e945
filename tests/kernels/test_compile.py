"""Every CUDA kernel of `dtf.kernels` compiles, for every dtype it supports, with NVRTC offline
(no GPU needed: this runs in CI), and the kernel table keeps its contracts."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest
from dtf.kernels import _cuda

import dtf.keras.losses._fused  # noqa: F401  (registers sparse_xent_reduce)
from dtf import kernels
from dtf.ops import registry

nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc")

SOURCES = sorted(_cuda.sources())


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
def test_every_source_compiles_for_every_dtype(name, arch):
    source = _cuda.sources()[name]
    ptx = _cuda.compile_ptx(source, arch=arch)
    for symbol in source.symbols():
        assert f".entry {symbol}(" in ptx, f"{symbol} missing from the PTX of {name}"
    # three float dtypes, unless a source says otherwise
    assert len(source.symbols()) == len(source.entries) * len(source.dtypes)


def test_a_broken_source_reports_nvrtcs_log():
    broken = _cuda.CudaSource("broken", 'extern "C" __global__ void dtf_x_f32() { int y = ; }',
                              entries=("dtf_x",), dtypes=(np.float32,), declare=False)
    with pytest.raises(RuntimeError, match="does not compile"):
        _cuda.compile_ptx(broken)


def test_every_kernel_module_declares_its_source():
    modules = {kernels.activations, kernels.dropout, kernels.normalization, kernels.optimizers,
               kernels.xent}
    assert {m.SOURCE.name for m in modules} <= set(SOURCES)


EXPECTED = {
    "sgd_update", "adam_update", "rmsprop_update",
    "bias_none", "bias_relu", "bias_gelu", "bias_gelu_tanh", "bias_tanh", "bias_sigmoid",
    "bias_none_grad", "bias_relu_grad", "bias_gelu_grad", "bias_gelu_tanh_grad",
    "bias_tanh_grad", "bias_sigmoid_grad", "fused_dense",
    "sparse_softmax_cross_entropy_with_logits", "sparse_xent_reduce", "sparse_xent_reduce_grad",
    "xent_forward", "xent_backward", "dropout", "softmax", "log_softmax",
    "layer_norm", "layer_norm_grad", "batch_norm", "batch_norm_grad",
}


def test_the_table_lists_every_kernel():
    assert EXPECTED <= set(kernels.names())


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n in registry.all_primitives()))
def test_kernels_named_after_primitives_take_the_impls_arguments(name):
    """The backend calls `kernels.get(prim.name)(xp, *arrays, **attrs)`, as it calls the impl;
    the factory is called here without a GPU (it only returns a Python function)."""
    impl = registry.get(name).impl
    kernel = kernels._factories[name]()
    assert list(inspect.signature(kernel).parameters) == list(inspect.signature(impl).parameters)


def test_kernels_named_after_primitives_exist_in_the_op_table():
    primitives = {"fused_dense", "sparse_softmax_cross_entropy_with_logits", "softmax",
                  "log_softmax",
                  "sparse_xent_reduce", "sparse_xent_reduce_grad", "dropout"}
    assert primitives <= set(registry.all_primitives())


def test_optimizer_kernels_mirror_the_update_rules_signatures():
    from dtf.keras.optimizers import updates

    for name in ("sgd_update", "adam_update", "rmsprop_update"):
        rule = getattr(updates, name)
        kernel = kernels._factories[name]()
        assert list(inspect.signature(kernel).parameters) == \
            list(inspect.signature(rule).parameters)


def test_importing_the_kernels_imports_no_cupy():
    code = ("import sys, dtf, dtf.kernels as k; k.names(); "
            "from dtf.keras.optimizers import updates; "
            "assert 'cupy' not in sys.modules, 'cupy imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scalars_round_to_the_dtype_first():
    # 0.1 rounded to float16 first, then widened to the float16 kernels' compute type
    assert _cuda.scalar(np.float16, 0.1) == np.float32(np.float16(0.1))
    assert _cuda.scalar(np.float64, 0.1) == 0.1
    assert _cuda.scalar(np.float32, 1 - 0.9) == np.float32(1 - 0.9)


def test_grid_covers_small_and_huge_sizes():
    assert _cuda.grid(1) == (1,)
    assert _cuda.grid(257) == (2,)
    assert _cuda.grid(10**12) == (_cuda.MAX_BLOCKS,)


def test_contiguous_keeps_0d_arrays_and_copies_strided_ones():
    scalar = np.asarray(1.5, np.float32)
    assert _cuda.contiguous(np, scalar) is scalar
    strided = np.ones((4, 4), np.float32)[:, ::2]
    out = _cuda.contiguous(np, strided)
    assert out.flags.c_contiguous and out.shape == (4, 2)
