"""Semantics of the convolution and pooling ops beyond the op table's cases: argument forms,
dtypes, errors, shape rules on symbolic tensors, grouped convolutions, docstring examples."""

import doctest

import numpy as np
import pytest

import dtf
from dtf.compile.symbolic import placeholder
from dtf.errors import InvalidArgumentError
from dtf.ops import conv_ops, conv_variant_ops, pool_ops
from dtf.testing.cases.conv import ref_conv

RNG = np.random.default_rng(11)
X = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
W = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


# -- argument forms -----------------------------------------------------------------------------
@pytest.mark.parametrize("strides", [2, [2], [2, 2], [1, 2, 2, 1], (2, 2)])
def test_strides_forms(strides):
    _close(conv_ops.conv2d(X, W, strides, "SAME"), ref_conv(X, W, 2, "SAME"))


def test_channels_first_lists_are_in_data_format_order():
    x = np.moveaxis(X, -1, 1)
    y = conv_ops.conv2d(x, W, [1, 1, 2, 1], "VALID", data_format="NCHW",
                        dilations=[1, 1, 1, 1])
    _close(np.moveaxis(y.numpy(), 1, -1), ref_conv(X, W, (2, 1), "VALID"))
    y = conv_ops.conv2d(x, W, 1, [[0, 0], [0, 0], [1, 1], [2, 0]], data_format="NCHW")
    _close(np.moveaxis(y.numpy(), 1, -1), ref_conv(X, W, 1, [(1, 1), (2, 0)]))


def test_padding_is_case_insensitive_and_explicit_forms():
    _close(conv_ops.conv2d(X, W, 1, "same"), conv_ops.conv2d(X, W, 1, "SAME"))
    _close(conv_ops.conv2d(X, W, 1, [[1, 0], [0, 2]]),
           conv_ops.conv2d(X, W, 1, [[0, 0], [1, 0], [0, 2], [0, 0]]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="strides should be of length 1, 2 or 4 but was 3"):
        conv_ops.conv2d(X, W, [1, 2, 3], "SAME")
    with pytest.raises(InvalidArgumentError, match="batch and depth dimensions must be 1"):
        conv_ops.conv2d(X, W, [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="strides must be positive"):
        conv_ops.conv2d(X, W, 0, "SAME")
    with pytest.raises(ValueError, match="padding must be 'SAME', 'VALID'"):
        conv_ops.conv2d(X, W, 1, "FULL")
    with pytest.raises(InvalidArgumentError, match="Nonzero explicit padding in the batch"):
        conv_ops.conv2d(X, W, 1, [[1, 0], [0, 0], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match="explicit padding needs 4"):
        conv_ops.conv2d(X, W, 1, [[1, 1], [1, 1], [1, 1]])
    with pytest.raises(ValueError, match="non-negative"):
        conv_ops.conv2d(X, W, 1, [[-1, 1], [1, 1]])
    with pytest.raises(ValueError, match="data_format must be NHWC or NCHW"):
        conv_ops.conv2d(X, W, 1, "SAME", data_format="NWC")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID'.*explicit"):
        pool_ops.avg_pool2d(X, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match="pooling_type must be 'MAX' or 'AVG'"):
        pool_ops.pool(X, [2, 2], "SUM")
    with pytest.raises(ValueError, match="'SAME' padding is not implemented for"):
        pool_ops.pool(X, [2, 2], "MAX", padding="SAME", dilations=[2, 2])


# -- dtypes -------------------------------------------------------------------------------------
def test_numpy_filters_take_the_input_dtype():
    y = conv_ops.conv2d(dtf.constant(X.astype(np.float64)), W, 1, "SAME")
    assert y.dtype == dtf.float64
    y = conv_ops.conv2d(X.astype(np.float16), W.astype(np.float16), 1, "SAME")
    assert y.dtype == dtf.float16
    np.testing.assert_allclose(y.numpy().astype(np.float32), ref_conv(X, W, 1, "SAME"),
                               atol=2e-2, rtol=1e-2)


def test_dtype_errors():
    with pytest.raises(InvalidArgumentError, match="same dtype.*float32 and float64"):
        conv_ops.conv2d(dtf.constant(X), dtf.constant(W.astype(np.float64)), 1, "SAME")
    with pytest.raises(InvalidArgumentError, match="int64 is not in the list of allowed"):
        conv_ops.conv2d(X.astype(np.int64), W.astype(np.int64), 1, "SAME")
    with pytest.raises(InvalidArgumentError, match="int32 is not in the list of allowed values: float16"):
        pool_ops.avg_pool2d(X.astype(np.int32), 2, 2, "VALID")
    assert pool_ops.max_pool2d(X.astype(np.int32), 2, 2, "VALID").dtype == dtf.int32


# -- shape errors -------------------------------------------------------------------------------
def test_shape_errors_name_the_shapes():
    with pytest.raises(InvalidArgumentError, match=r"evenly divisible by filter depth: 3 vs 2 "
                                                   r"\(input shape \[2, 7, 6, 3\]"):
        conv_ops.conv2d(X, W[:, :, :2], 1, "SAME")
    with pytest.raises(InvalidArgumentError, match=r"output size would be negative.*"
                                                   r"input_size: 7, effective_filter_size: 9"):
        conv_ops.conv2d(X, W, 1, "VALID", dilations=4)
    with pytest.raises(InvalidArgumentError, match=r"input must be a rank-4 tensor.*\[7, 6, 3\]"):
        conv_ops.conv2d(X[0], W, 1, "SAME")
    with pytest.raises(InvalidArgumentError, match=r"filters must be a rank-4.*\[3, 3, 4\]"):
        conv_ops.conv2d(X, W[0], 1, "SAME")
    with pytest.raises(InvalidArgumentError, match="number of output channels"):
        conv_ops.conv2d(X, RNG.normal(size=(3, 3, 1, 4)).astype(np.float32), 1, "SAME")
    with pytest.raises(InvalidArgumentError, match="window.*larger than the input"):
        pool_ops.max_pool2d(X, 7, 1, "VALID")
    with pytest.raises(InvalidArgumentError, match="rank-4"):
        pool_ops.max_pool2d(X[0], 2, 2, "VALID")
    with pytest.raises(ValueError, match="rank 3, 4 or 5"):
        pool_ops.max_pool(X[0, 0], 2, 2, "VALID")


def test_transpose_errors():
    y = RNG.normal(size=(1, 3, 3, 2)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 4, 2)).astype(np.float32)
    assert conv_ops.conv2d_transpose(y, w, [1, 6, 5, 4], 2).shape == (1, 6, 5, 4)
    with pytest.raises(InvalidArgumentError, match=r"output_shape \[1, 9, 9, 4\] is not "
                                                   r"compatible.*gives \[5, 5\]"):
        conv_ops.conv2d_transpose(y, w, [1, 9, 9, 4], 2)
    with pytest.raises(InvalidArgumentError, match="input depth 2 does not match.*last"):
        conv_ops.conv2d_transpose(y, w[..., :1], [1, 6, 6, 4], 2)
    with pytest.raises(InvalidArgumentError, match="output_shape's depth 3"):
        conv_ops.conv2d_transpose(y, w, [1, 6, 6, 3], 2)
    with pytest.raises(InvalidArgumentError, match="batch 2 differs"):
        conv_ops.conv2d_transpose(y, w, [2, 6, 6, 4], 2)
    with pytest.raises(ValueError, match="output_shape must have length 4"):
        conv_ops.conv2d_transpose(y, w, [6, 6, 4], 2)
    out = conv_ops.conv2d_transpose(y, w, dtf.constant([1, 6, 6, 4]), 2)  # a shape tensor
    assert out.shape == (1, 6, 6, 4)


def test_depthwise_errors():
    with pytest.raises(InvalidArgumentError, match="input depth 3 must equal the filter's "
                                                   "in_channels 2"):
        conv_ops.depthwise_conv2d(X, np.ones((3, 3, 2, 1), np.float32), [1, 1, 1, 1], "SAME")
    with pytest.raises(InvalidArgumentError, match=r"pointwise_filter must have shape \(1, 1"):
        conv_ops.separable_conv2d(X, np.ones((3, 3, 3, 1), np.float32),
                                  np.ones((2, 2, 3, 4), np.float32), [1, 1, 1, 1], "SAME")


# -- symbolic tensors (Keras Inputs): the shape rules ---------------------------------------------
def test_shape_rules_with_unknown_dims():
    x = placeholder((None, 28, 28, 1), dtf.float32)
    w = np.ones((3, 3, 1, 8), np.float32)
    assert conv_ops.conv2d(x, w, 1, "VALID").shape.as_list() == [None, 26, 26, 8]
    assert conv_ops.conv2d(x, w, 2, "SAME").shape.as_list() == [None, 14, 14, 8]
    y = placeholder((None, None, 10, 1), dtf.float32)
    assert conv_ops.conv2d(y, w, 2, [[1, 1], [0, 0]]).shape.as_list() == [None, None, 4, 8]
    assert pool_ops.max_pool2d(y, 2, 2, "VALID").shape.as_list() == [None, None, 5, 1]
    assert pool_ops.avg_pool(x, 3, 2, "SAME").shape.as_list() == [None, 14, 14, 1]
    t = conv_ops.conv2d_transpose(placeholder((None, 7, 7, 8), dtf.float32),
                                  np.ones((3, 3, 4, 8), np.float32), [None, 14, 14, 4], 2)
    assert t.shape.as_list() == [None, 14, 14, 4]
    nchw = placeholder((None, 1, 28, 28), dtf.float32)
    assert conv_ops.conv2d(nchw, w, 1, "VALID", data_format="NCHW").shape.as_list() == \
        [None, 8, 26, 26]
    with pytest.raises(InvalidArgumentError, match="evenly divisible by filter depth"):
        conv_ops.conv2d(placeholder((None, 5, 5, 3), dtf.float32), np.ones((3, 3, 2, 8)), 1,
                        "SAME")
    with pytest.raises(InvalidArgumentError, match="output size would be negative"):
        conv_ops.conv2d(placeholder((None, 1, 1, 1), dtf.float32), w, 1, "VALID")


# -- grouped convolutions and gradients ---------------------------------------------------------
def test_grouped_conv_is_per_group_convs_concatenated():
    x = RNG.normal(size=(2, 5, 5, 6)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 2, 9)).astype(np.float32)  # 3 groups of 2 channels -> 3 filters
    y = conv_ops.conv2d(x, w, 1, "SAME").numpy()
    parts = [conv_ops.conv2d(x[..., 2 * g:2 * g + 2], w[..., 3 * g:3 * g + 3], 1, "SAME")
             .numpy() for g in range(3)]
    _close(y, np.concatenate(parts, axis=-1))


def test_gradient_only_for_what_is_asked():
    """A tape asking only for the filters' gradient never computes the input's (the VJP skips
    it), and vice versa."""
    from dtf.ops import registry

    x, w = dtf.constant(X), dtf.Variable(W)
    calls = []
    prims = {name: registry.get(name) for name in ("conv_backprop_input",
                                                   "conv_backprop_filter")}
    saved = {name: p.impl for name, p in prims.items()}
    for name, p in prims.items():
        p.impl = lambda xp, *a, _n=name, _f=p.impl, **k: (calls.append(_n), _f(xp, *a, **k))[1]
    try:
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_sum(conv_ops.conv2d(x, w, 1, "SAME"))
        tape.gradient(loss, w)
    finally:
        for name, p in prims.items():
            p.impl = saved[name]
    assert calls == ["conv_backprop_filter"]


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = dtf.constant(np.array([[[[1.0], [3.0]], [[3.0], [2.0]]]], np.float32))
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = pool_ops.max_pool2d(x, 2, 2, "VALID")
    assert tape.gradient(y, x).numpy()[0, ..., 0].tolist() == [[0, 1], [0, 0]]


def _dtf_with_these_ops():
    """`dtf`, with these modules' functions in `dtf.nn` whether or not dtf/nn.py exports them
    yet: the docstrings show them where users will find them."""
    import types

    nn = types.SimpleNamespace(**{k: getattr(dtf.nn, k) for k in dir(dtf.nn)})
    for module in (conv_ops, pool_ops, conv_variant_ops):
        for name in module.__all__:
            setattr(nn, name, getattr(module, name))
    namespace = types.SimpleNamespace(**{k: getattr(dtf, k) for k in dir(dtf)
                                         if not k.startswith("__")})
    namespace.nn = nn
    return namespace


def test_docstring_examples():
    for module in (conv_ops, pool_ops, conv_variant_ops):
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        for test in finder.find(module, globs={**vars(module), "dtf": _dtf_with_these_ops()}):
            runner.run(test)
        assert runner.failures == 0, f"{module.__name__}: docstring example failed"
        assert runner.tries > 5
