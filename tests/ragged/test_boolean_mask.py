"""dtf.ragged.boolean_mask: TensorFlow's documented examples (tf.ragged.boolean_mask), eagerly
and inside dtf.function, where the result's row partition is symbolic."""

import pytest

import dtf

bm = dtf.ragged.boolean_mask
RT = [[1, 2, 3], [4], [5, 6]]
RT3 = [[[1, 2], [3]], [[4, 5, 6]]]

CASES = {
    # (data, mask, expected list); "r" marks a ragged constant
    "dense_2d": ([[1, 2, 3], [4, 5, 6], [7, 8, 9]],
                 [[True, False, True], [False, True, False], [False, False, False]],
                 [[1, 3], [5], []]),
    "ragged_2d": (("r", RT), ("r", [[False, True, True], [False], [True, True]]),
                  [[2, 3], [], [5, 6]]),
    "ragged_rows": (("r", RT), [True, False, True], [[1, 2, 3], [5, 6]]),
    "no_rows": (("r", [[1, 2], [3]]), [False, False], []),
    "ragged_3d_inner": (("r", RT3), ("r", [[[True, False], [True]], [[False, True, True]]]),
                        [[[1], [3]], [[5, 6]]]),
    "ragged_3d_middle": (("r", RT3), ("r", [[True, False], [True]]), [[[1, 2]], [[4, 5, 6]]]),
}


def _arg(x):
    if isinstance(x, tuple) and x[0] == "r":
        return dtf.ragged.constant(x[1])
    return dtf.constant(x)


def _list(x):
    return x.to_list() if isinstance(x, dtf.RaggedTensor) else x.numpy().tolist()


@pytest.mark.parametrize("name", sorted(CASES))
def test_eager_and_traced(name):
    data, mask, expected = CASES[name]
    assert _list(bm(_arg(data), _arg(mask))) == expected
    traced = dtf.function(lambda d, m: bm(d, m))
    assert _list(traced(_arg(data), _arg(mask))) == expected


def test_dense_rows_stay_dense():
    out = bm(dtf.constant([[1, 2], [3, 4]]), dtf.constant([True, False]))
    assert isinstance(out, dtf.Tensor) and out.numpy().tolist() == [[1, 2]]


def test_mismatched_partition_is_an_error():
    with pytest.raises(dtf.errors.InvalidArgumentError, match="row lengths"):
        bm(dtf.ragged.constant(RT), dtf.ragged.constant([[True], [True, False], [True, True]]))
    traced = dtf.function(lambda d, m: bm(d, m))
    with pytest.raises(dtf.errors.InvalidArgumentError, match="row partitions"):
        traced(dtf.ragged.constant([[1, 2], [3]]), dtf.ragged.constant([[True], [True, False]]))


def test_bad_masks_say_what_is_wrong():
    with pytest.raises(TypeError, match="bool"):
        bm(dtf.constant([1, 2]), dtf.constant([1, 0]))
    with pytest.raises(ValueError, match="higher rank"):
        bm(dtf.constant([1, 2]), dtf.constant([[True, False]]))


def test_dtf_boolean_mask_dispatches_to_ragged():
    # tf.boolean_mask dispatches to tf.ragged.boolean_mask for ragged data or masks
    rt = dtf.ragged.constant([[1, 2, 3], [4], [5, 6]])
    assert dtf.boolean_mask(rt, [True, False, True]).to_list() == [[1, 2, 3], [5, 6]]
    mask = dtf.ragged.constant([[True, False, True], [False], [True, True]])
    assert dtf.boolean_mask(rt, mask).to_list() == [[1, 3], [], [5, 6]]
    with pytest.raises(ValueError, match="axis 0"):
        dtf.boolean_mask(rt, [True, False, True], axis=1)
