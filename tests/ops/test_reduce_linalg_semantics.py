"""Reductions and linear algebra: TensorFlow's documented results for edge cases, and errors
that name the op, the shapes and what to do (what the op cases cannot express)."""

from __future__ import annotations

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError


def _grad(fn, x):
    x = dtf.constant(x)
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x).numpy()


# -- namespaces -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_logsumexp",
    "reduce_any", "reduce_all", "argmax", "argmin", "cumsum", "tensordot", "einsum", "norm",
    "matmul"])
def test_top_level_names(name):
    assert callable(getattr(dtf, name))
    assert getattr(dtf.math, name, None) is not None or name in ("tensordot", "einsum", "norm",
                                                                  "matmul")


@pytest.mark.parametrize("name", ["reduce_std", "reduce_variance", "reduce_euclidean_norm",
                                  "count_nonzero", "cumprod"])
def test_math_names(name):
    assert callable(getattr(dtf.math, name))


@pytest.mark.parametrize("name", [
    "matmul", "norm", "tensordot", "einsum", "matvec", "diag_part", "diag", "trace", "det", "inv",
    "solve", "cholesky", "matrix_transpose", "adjoint", "band_part", "slogdet", "logdet", "eye",
    "eigh", "eigvalsh", "triangular_solve", "cross", "normalize", "global_norm"])
def test_linalg_names(name):
    assert callable(getattr(dtf.linalg, name))


# -- reductions: TensorFlow's values ---------------------------------------------------------------
def test_integer_mean_truncates_toward_zero():
    assert int(dtf.reduce_mean(dtf.constant([-1, -2, 0]))) == -1
    assert int(dtf.reduce_mean(dtf.constant([-3, 0, 0, 0]))) == 0
    assert int(dtf.reduce_mean(dtf.constant([1, 2, 2]))) == 1
    assert dtf.reduce_mean(dtf.constant([1, 2, 2])).dtype == dtf.int32


def test_integer_sums_wrap_but_means_accumulate_in_64_bits():
    x = dtf.constant(np.array([100, 100], np.int8))
    assert dtf.reduce_sum(x).dtype == dtf.int8 and int(dtf.reduce_sum(x)) == -56
    assert dtf.reduce_mean(x).dtype == dtf.int8 and int(dtf.reduce_mean(x)) == 100
    assert int(dtf.reduce_mean(dtf.constant(np.array([-100, -100, -101], np.int8)))) == -100
    big = dtf.constant([2 ** 30] * 3)
    assert int(dtf.reduce_sum(big)) == -(2 ** 30)
    assert int(dtf.reduce_mean(big)) == 2 ** 30
    assert int(dtf.reduce_mean(dtf.constant(np.array([250, 250], np.uint8)))) == 250
    assert int(dtf.reduce_mean(dtf.constant([-7, 0]))) == -3


def test_empty_reductions_give_the_identity():
    assert np.all(dtf.reduce_max(dtf.zeros((0, 3)), axis=0).numpy() == -np.inf)
    assert np.all(dtf.reduce_min(dtf.zeros((0, 3), dtf.int32), axis=0).numpy()
                  == np.iinfo(np.int32).max)
    assert float(dtf.reduce_prod(dtf.zeros((0,)))) == 1.0
    assert float(dtf.reduce_sum(dtf.zeros((0,)))) == 0.0
    assert np.isnan(float(dtf.reduce_mean(dtf.zeros((0,)))))
    assert float(dtf.reduce_logsumexp(dtf.zeros((0,)))) == -np.inf


def test_axis_forms_agree():
    x = dtf.constant(np.arange(24.0).reshape(2, 3, 4))
    expected = np.arange(24.0).reshape(2, 3, 4).sum(axis=(0, 2))
    for axis in [(0, 2), [0, 2], [2, 0], (-1, -3), dtf.constant([0, 2]), np.array([0, 2])]:
        np.testing.assert_array_equal(dtf.reduce_sum(x, axis=axis).numpy(), expected)
    assert dtf.reduce_sum(x, axis=[0, 2], keepdims=True).shape == (1, 3, 1)
    assert dtf.reduce_sum(x, axis=()).shape == (2, 3, 4)


def test_reductions_read_variables():
    v = dtf.Variable([[1.0, 2.0], [3.0, 4.0]])
    assert float(dtf.reduce_sum(v)) == 10.0
    with dtf.GradientTape() as tape:
        y = dtf.reduce_mean(v * v)
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [[0.5, 1.0], [1.5, 2.0]])


def test_max_gradient_is_split_evenly_among_ties():
    np.testing.assert_allclose(_grad(dtf.reduce_max, np.array([1.0, 3.0, 3.0, 2.0])),
                               [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(_grad(dtf.reduce_min, np.array([2.0, 2.0, 2.0])),
                               [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(
        _grad(lambda x: dtf.reduce_max(x, axis=1), np.array([[1.0, 1.0], [0.0, 2.0]])),
        [[0.5, 0.5], [0, 1]])


def test_prod_gradient_with_zeros():
    np.testing.assert_allclose(_grad(dtf.reduce_prod, np.array([1.0, 0.0, 3.0, 2.0])),
                               [0, 6, 0, 0])
    np.testing.assert_allclose(_grad(dtf.reduce_prod, np.array([1.0, 0.0, 3.0, 0.0])),
                               [0, 0, 0, 0])
    np.testing.assert_allclose(_grad(dtf.reduce_prod, np.array([2.0, 3.0, 4.0])), [12, 8, 6])


def test_logsumexp_is_stable_and_its_gradient_is_softmax():
    x = np.array([1000.0, 1000.0, -np.inf])
    assert float(dtf.reduce_logsumexp(dtf.constant(x))) == pytest.approx(1000 + np.log(2))
    np.testing.assert_allclose(_grad(dtf.reduce_logsumexp, x), [0.5, 0.5, 0.0])
    assert float(dtf.reduce_logsumexp(dtf.constant([np.inf, 1.0]))) == np.inf
    assert float(dtf.reduce_logsumexp(dtf.constant([-np.inf, -np.inf]))) == -np.inf


def test_std_and_variance():
    x = dtf.constant([1.0, 2.0, 3.0, 4.0])
    assert float(dtf.math.reduce_variance(x)) == pytest.approx(1.25)
    assert float(dtf.math.reduce_std(x)) == pytest.approx(1.118034)
    c = dtf.constant(np.array([1 + 1j, 2, 3, 4]))
    v = dtf.math.reduce_variance(c)
    assert v.dtype == dtf.float64 and float(v) == pytest.approx(1.4375)


def test_count_nonzero_counts_nan_and_true():
    assert int(dtf.math.count_nonzero(dtf.constant([0.0, 1.0, np.nan]))) == 2
    assert dtf.math.count_nonzero(dtf.constant([0.0, 1.0])).dtype == dtf.int64
    assert int(dtf.math.count_nonzero(dtf.constant([True, False]))) == 1


def test_argmax_defaults():
    x = dtf.constant([[1, 5], [7, 2]])
    r = dtf.argmax(x)
    assert r.dtype == dtf.int64
    np.testing.assert_array_equal(r.numpy(), [1, 0])  # axis None means 0
    np.testing.assert_array_equal(dtf.argmin(x, axis=1, output_type=dtf.int32).numpy(), [0, 1])
    assert dtf.argmin(x, axis=dtf.constant(1)).shape == (2,)


def test_argmax_has_no_gradient():
    x = dtf.constant([1.0, 3.0])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.cast(dtf.argmax(x), dtf.float32) * x
    assert tape.gradient(y, x) is not None  # through the multiply only
    with dtf.GradientTape() as tape:
        tape.watch(x)
        i = dtf.argmax(x)
    assert tape.gradient(i, x) is None


def test_cumsum_flags():
    x = dtf.constant([1, 2, 3])
    np.testing.assert_array_equal(dtf.cumsum(x).numpy(), [1, 3, 6])
    np.testing.assert_array_equal(dtf.cumsum(x, exclusive=True).numpy(), [0, 1, 3])
    np.testing.assert_array_equal(dtf.cumsum(x, reverse=True).numpy(), [6, 5, 3])
    np.testing.assert_array_equal(dtf.cumsum(x, exclusive=True, reverse=True).numpy(),
                                  [5, 3, 0])
    np.testing.assert_allclose(_grad(lambda t: dtf.cumsum(t, exclusive=True),
                                     np.array([1.0, 2.0, 3.0])), [2, 1, 0])
    np.testing.assert_array_equal(dtf.math.cumprod(x, exclusive=True).numpy(), [1, 1, 2])


# -- reductions: errors ------------------------------------------------------------------------------
def test_axis_out_of_range_names_op_and_shape():
    with pytest.raises(InvalidArgumentError, match=r"reduce_sum.*axis 2.*rank 2.*\(2, 3\)"):
        dtf.reduce_sum(dtf.ones((2, 3)), axis=2)
    with pytest.raises(InvalidArgumentError, match="reduce_max.*repeated"):
        dtf.reduce_max(dtf.ones((2, 3)), axis=[0, -2])
    with pytest.raises(TypeError, match="reduce_mean.*axis"):
        dtf.reduce_mean(dtf.ones((2, 3)), axis=1.5)


@pytest.mark.parametrize("fn", [dtf.reduce_sum, dtf.reduce_mean, dtf.reduce_max, dtf.reduce_min,
                                dtf.reduce_prod, dtf.cumsum])
def test_numeric_reductions_reject_bool(fn):
    with pytest.raises(InvalidArgumentError, match=r"bool.*\(2,\)"):
        fn(dtf.constant([True, False]))


@pytest.mark.parametrize("fn", [dtf.reduce_any, dtf.reduce_all])
def test_logical_reductions_need_bool(fn):
    with pytest.raises(InvalidArgumentError, match=f"{fn.__name__}.*int32.*bool"):
        fn(dtf.constant([1, 0]))


def test_variance_and_logsumexp_need_floats():
    with pytest.raises(TypeError, match="reduce_variance.*int32"):
        dtf.math.reduce_variance(dtf.constant([1, 2]))
    with pytest.raises(TypeError, match="reduce_std.*int32"):
        dtf.math.reduce_std(dtf.constant([1, 2]))
    with pytest.raises(InvalidArgumentError, match="reduce_logsumexp.*int32"):
        dtf.reduce_logsumexp(dtf.constant([1, 2]))


def test_argmax_errors():
    x = dtf.constant([[1, 5], [7, 2]])
    with pytest.raises(InvalidArgumentError, match=r"argmax.*\[-2, 2\).*2"):
        dtf.argmax(x, axis=2)
    with pytest.raises(InvalidArgumentError, match="argmax"):
        dtf.argmax(dtf.constant(3.0))
    with pytest.raises(InvalidArgumentError, match="argmin.*empty"):
        dtf.argmin(dtf.zeros((0, 3)), axis=0)
    with pytest.raises(InvalidArgumentError, match="output_type"):
        dtf.argmax(x, output_type=dtf.float32)
    with pytest.raises(TypeError, match="axis"):
        dtf.argmax(x, axis=[1])


def test_cumsum_axis_error():
    with pytest.raises(InvalidArgumentError, match=r"cumsum.*\[-2, 2\).*2.*\(1, 3\)"):
        dtf.cumsum(dtf.constant([[1, 2, 3]]), axis=2)


# -- matmul / tensordot / einsum ---------------------------------------------------------------------
def test_matmul_errors_name_shapes():
    with pytest.raises(InvalidArgumentError, match=r"size-incompatible.*\(2, 3\).*\(4, 5\)"):
        dtf.matmul(dtf.ones((2, 3)), dtf.ones((4, 5)))
    with pytest.raises(InvalidArgumentError, match="rank 2"):
        dtf.matmul(dtf.ones((3,)), dtf.ones((3, 1)))
    with pytest.raises(InvalidArgumentError, match="float32.*float64|float64.*float32"):
        dtf.matmul(dtf.ones((2, 2)), dtf.ones((2, 2), dtype=dtf.float64))


def test_matmul_adjoint_conjugates():
    a = np.array([[1 + 2j, 3j], [1, 1 - 1j]])
    got = dtf.matmul(dtf.constant(a), dtf.constant(a), adjoint_a=True).numpy()
    np.testing.assert_allclose(got, a.conj().T @ a)


def test_tensordot_axes_forms_and_errors():
    a, b = dtf.ones((2, 3, 4)), dtf.ones((4, 3, 5))
    assert dtf.tensordot(a, b, axes=[[1, 2], [1, 0]]).shape == (2, 5)
    assert dtf.tensordot(a, b, axes=dtf.constant([[2], [0]])).shape == (2, 3, 3, 5)
    assert float(dtf.tensordot(dtf.ones((3,)), dtf.ones((3,)), axes=1)) == 3.0
    with pytest.raises(ValueError, match="must not be larger"):
        dtf.tensordot(dtf.ones((2, 3)), dtf.ones((3, 5)), axes=3)
    with pytest.raises(ValueError, match="length 2"):
        dtf.tensordot(dtf.ones((2, 3)), dtf.ones((3, 5)), axes=[[1], [0], [1]])
    with pytest.raises(InvalidArgumentError, match=r"tensordot.*\(2, 3\).*\(4, 5\)"):
        dtf.tensordot(dtf.ones((2, 3)), dtf.ones((4, 5)), axes=1)


def test_einsum_values():
    x = dtf.constant(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(dtf.einsum("ii->i", x).numpy(), [0, 4, 8])
    assert float(dtf.einsum("ii", x)) == 12.0
    assert dtf.einsum("...ij,...jk->...ik", dtf.ones((2, 1, 2, 3)), dtf.ones((5, 3, 4))).shape \
        == (2, 5, 2, 4)
    assert dtf.einsum("ba,cb", dtf.ones((2, 3)), dtf.ones((5, 2))).shape == (3, 5)
    assert dtf.einsum("ij", dtf.ones((2, 3))).shape == (2, 3)
    assert dtf.einsum("ji", dtf.ones((2, 3))).shape == (3, 2)
    assert int(dtf.einsum("i,i->", dtf.constant([1, 2]), dtf.constant([3, 4]))) == 11


def test_einsum_gradients_of_diagonal_and_trace():
    x = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(_grad(lambda t: dtf.einsum("ii", t), x), np.eye(3))
    np.testing.assert_allclose(_grad(lambda t: dtf.reduce_sum(dtf.einsum("ii->i", t) ** 2), x),
                               2 * np.diag(np.diag(x)))
    # an index only one operand has (summed away) broadcasts back
    np.testing.assert_allclose(_grad(lambda t: dtf.einsum("ij->", t), x), np.ones((3, 3)))


@pytest.mark.parametrize("equation, shapes, error, pattern", [
    ("ij,jk->ik", [(2, 3)], ValueError, "Got 1 inputs.*expecting 2"),
    ("ij,jk->ik", [(2, 3), (4, 4)], InvalidArgumentError, r"Expected dimension 3.*\(4, 4\)"),
    ("ij->ii", [(3, 3)], ValueError, "more than once"),
    ("ij->k", [(3, 3)], ValueError, "label k not present"),
    ("ijk->", [(2, 3)], InvalidArgumentError, "rank 3.*2"),
    ("i1->i", [(2, 3)], ValueError, "invalid subscript"),
    ("...ij,...jk", [(2, 1, 2, 3), (3, 3, 4)], None, None),
    ("...ij,...jk->ik", [(2, 2, 3), (2, 3, 4)], InvalidArgumentError, "broadcasting"),
])
def test_einsum_errors(equation, shapes, error, pattern):
    operands = [dtf.ones(s) for s in shapes]
    if error is None:
        assert dtf.einsum(equation, *operands).shape == (2, 3, 2, 4)
        return
    with pytest.raises(error, match=pattern):
        dtf.einsum(equation, *operands)


def test_einsum_dtype_errors():
    with pytest.raises(InvalidArgumentError, match="float32.*float64|float64.*float32"):
        dtf.einsum("ij,jk->ik", dtf.ones((2, 3)), dtf.ones((3, 4), dtype=dtf.float64))
    with pytest.raises(InvalidArgumentError, match="einsum.*bool"):
        dtf.einsum("i->", dtf.constant([True, False]))


def test_einsum_shape_rule_with_unknown_dims():
    from dtf.ops import registry
    from dtf.ops.registry import Spec

    prim = registry.get("einsum")
    spec = prim.infer(Spec((None, 3), dtf.float32), Spec((3, None), dtf.float32),
                      equation="ij,jk->ik")
    assert spec == Spec((None, None), dtf.float32)
    spec = prim.infer(Spec((None, None), dtf.float32), Spec((3, 4), dtf.float32),
                      equation="ij,jk->ki")
    assert spec.shape == (4, None)


# -- norm --------------------------------------------------------------------------------------------
def test_norm_values():
    x = dtf.constant([[1.0, -2.0], [3.0, 4.0]])
    assert float(dtf.norm(x)) == pytest.approx(5.477226)
    assert float(dtf.norm(x, ord="fro", axis=[0, 1])) == pytest.approx(5.477226)
    assert float(dtf.norm(x, ord=1)) == 10.0
    assert float(dtf.norm(x, ord=1, axis=[0, 1])) == 6.0
    assert float(dtf.norm(x, ord=np.inf, axis=[0, 1])) == 7.0
    assert float(dtf.norm(x, ord=2, axis=[0, 1])) == pytest.approx(5.1166735)
    assert float(dtf.norm(x, ord=0.5)) == pytest.approx(37.77657)
    np.testing.assert_allclose(dtf.norm(x, ord=3, axis=1).numpy(), [2.0800838, 4.4979415])
    assert dtf.norm(x, ord=2, axis=(0, 1), keepdims=True).shape == (1, 1)
    assert dtf.norm(x, keepdims=True).shape == (1, 1)


def test_norm_gradient_at_zero_is_nan_as_tensorflow():
    assert np.all(np.isnan(_grad(dtf.norm, np.zeros(2))))
    np.testing.assert_allclose(_grad(dtf.norm, np.array([3.0, 4.0])), [0.6, 0.8])


@pytest.mark.parametrize("kwargs, pattern", [
    ({"ord": -1}, "supported vector norm"),
    ({"ord": "nuc"}, "supported vector norm"),
    ({"ord": "fro", "axis": 1}, "supported vector norm"),
    ({"ord": 3, "axis": [0, 1]}, "supported matrix norm"),
    ({"axis": (0, 0)}, "2 unique integers"),
    ({"axis": [[0]]}, "2 unique integers"),
])
def test_norm_argument_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        dtf.norm(dtf.ones((2, 2)), **kwargs)


def test_norm_needs_floats():
    with pytest.raises(InvalidArgumentError, match=r"norm.*int32.*\(2,\)"):
        dtf.norm(dtf.constant([1, 2]))


# -- matrix functions --------------------------------------------------------------------------------
def test_trace_diag_matvec():
    x = dtf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert float(dtf.linalg.trace(x)) == 5.0
    np.testing.assert_allclose(_grad(dtf.linalg.trace, x.numpy()), np.eye(2))
    assert float(dtf.linalg.trace(dtf.ones((2, 3)))) == 2.0
    m = dtf.reshape(dtf.range(6.0), (2, 3))
    np.testing.assert_array_equal(dtf.linalg.diag_part(m, k=1).numpy(), [1.0, 5.0])
    np.testing.assert_array_equal(dtf.linalg.diag_part(m, k=-1).numpy(), [3.0])
    np.testing.assert_array_equal(dtf.linalg.diag(dtf.constant([1.0, 2.0]), k=1).numpy(),
                                  [[0, 1, 0], [0, 0, 2], [0, 0, 0]])
    assert dtf.linalg.matvec(dtf.ones((4, 2, 3)), dtf.ones((3,))).shape == (4, 2)
    with pytest.raises(InvalidArgumentError, match=r"matvec.*\(2, 3\).*\(2,\)"):
        dtf.linalg.matvec(dtf.ones((2, 3)), dtf.ones((2,)))
    with pytest.raises(NotImplementedError, match="diag_part"):
        dtf.linalg.diag_part(m, k=(0, 1))


def test_inverse_determinant_solve():
    a = dtf.constant([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(dtf.matmul(a, dtf.linalg.inv(a)).numpy(), np.eye(2), atol=1e-6)
    assert float(dtf.linalg.det(a)) == pytest.approx(5.0)
    assert float(dtf.linalg.det(dtf.ones((3, 3)))) == pytest.approx(0.0)
    sign, logabs = dtf.linalg.slogdet(dtf.constant([[-1.0, 0.0], [0.0, 2.0]]))
    assert float(sign) == -1.0 and float(logabs) == pytest.approx(np.log(2))
    x = dtf.linalg.solve(a, dtf.constant([[3.0], [4.0]]))
    np.testing.assert_allclose(dtf.matmul(a, x).numpy(), [[3.0], [4.0]], atol=1e-6)
    # d det / dA = det * A^-T
    np.testing.assert_allclose(_grad(dtf.linalg.det, a.numpy().astype(np.float64)),
                               5.0 * np.linalg.inv(a.numpy()).T, rtol=1e-6)


def test_matrix_function_errors():
    with pytest.raises(InvalidArgumentError, match=r"not invertible.*float32\[3, 3\]|"
                                                   r"float32\[3, 3\].*not invertible"):
        dtf.linalg.inv(dtf.ones((3, 3)))
    with pytest.raises(InvalidArgumentError, match=r"det.*square.*\(2, 3\)"):
        dtf.linalg.det(dtf.ones((2, 3)))
    with pytest.raises(InvalidArgumentError, match="Cholesky decomposition was not successful"):
        dtf.linalg.cholesky(-dtf.eye(3))
    with pytest.raises(InvalidArgumentError, match=r"solve.*same rank.*\(3, 3\).*\(3,\)"):
        dtf.linalg.solve(dtf.eye(3), dtf.ones((3,)))
    with pytest.raises(InvalidArgumentError, match="inv.*int32"):
        dtf.linalg.inv(dtf.constant([[1, 0], [0, 1]]))


def test_cholesky_and_eigh_read_the_lower_triangle():
    a = dtf.constant([[4.0, 100.0], [2.0, 2.0]])
    np.testing.assert_allclose(dtf.linalg.cholesky(a).numpy(), [[2.0, 0.0], [1.0, 1.0]])
    w, _ = dtf.linalg.eigh(dtf.constant([[2.0, 1.0], [5.0, 2.0]]))
    np.testing.assert_allclose(w.numpy(), [-3.0, 7.0], rtol=1e-6)


def test_second_order_through_matrix_functions():
    a = dtf.constant(np.array([[2.0, 0.5], [0.3, 1.5]]))
    with dtf.GradientTape() as outer:
        outer.watch(a)
        with dtf.GradientTape() as inner:
            inner.watch(a)
            y = dtf.linalg.det(a)
        g = inner.gradient(y, a)  # the adjugate transposed: [[d, -c], [-b, a]]
        s = dtf.reduce_sum(g * dtf.constant(np.array([[1.0, 0.0], [0.0, 0.0]])))
    # s = d, so ds/da is 1 at [1, 1]
    np.testing.assert_allclose(outer.gradient(s, a).numpy(), [[0, 0], [0, 1]], atol=1e-10)
