"""String tensors and dtf.strings beyond the TF-recorded expressions: dtype plumbing, repr,
indexing, symbolic tracing, ragged inputs, and the errors dtf adds."""

from __future__ import annotations

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError


def test_string_dtype_and_conversion():
    assert dtf.string.name == "string"
    assert dtf.as_dtype("string") is dtf.string
    assert dtf.as_dtype(bytes) is dtf.string
    assert dtf.as_dtype(np.object_) is dtf.string
    assert not dtf.string.is_numeric and not dtf.string.is_floating
    t = dtf.constant([b"x", "y"])
    assert t.dtype is dtf.string and t.shape == (2,)
    assert t.numpy().dtype == object and t.numpy().tolist() == [b"x", b"y"]
    assert dtf.constant("hé").numpy() == "hé".encode()
    assert dtf.constant(np.array(["a", "bc"])).numpy().tolist() == [b"a", b"bc"]
    assert dtf.constant([], dtype=dtf.string).shape == (0,)
    assert dtf.constant("a", shape=[2]).numpy().tolist() == [b"a", b"a"]


def test_repr_and_str_as_tensorflow():
    assert repr(dtf.constant("hello")) == \
        "<dtf.Tensor: shape=(), dtype=string, numpy=b'hello'>"
    assert repr(dtf.constant(["a", "b"])) == \
        "<dtf.Tensor: shape=(2,), dtype=string, numpy=array([b'a', b'b'], dtype=object)>"
    assert str(dtf.constant(["a", "b"])) == "dtf.Tensor([b'a' b'b'], shape=(2,), dtype=string)"


def test_mixed_or_numeric_values_are_refused():
    with pytest.raises(TypeError, match="int is not bytes or str"):
        dtf.constant(["a", 1])
    with pytest.raises(TypeError, match="numeric Tensor. Use dtf.strings.to_number"):
        dtf.constant("1", dtype=dtf.int32)
    with pytest.raises(TypeError, match="expected a string tensor, got dtype float32"):
        dtf.strings.length(dtf.constant([1.0]))


def test_rank0_results_of_array_ops_stay_tensors():
    t = dtf.constant(["a", "b"])
    assert t[1].numpy() == b"b" and t[1].shape == ()
    assert dtf.reshape(t[:1], ()).numpy() == b"a"
    assert [x.numpy() for x in t] == [b"a", b"b"]


def test_equality_broadcasts():
    eq = dtf.constant([["a"], ["b"]]) == dtf.constant(["a", "b"])
    assert eq.numpy().tolist() == [[True, False], [False, True]]
    assert (dtf.constant(["a", "b"]) != "a").numpy().tolist() == [False, True]


def test_ragged_inputs_keep_their_partition():
    rt = dtf.ragged.constant([["Ab", "c"], ["DEF"]])
    assert dtf.strings.lower(rt).to_list() == [[b"ab", b"c"], [b"def"]]
    assert dtf.strings.length(rt).to_list() == [[2, 1], [3]]
    assert dtf.strings.substr(rt, 0, 1).to_list() == [[b"A", b"c"], [b"D"]]
    assert dtf.strings.to_number(dtf.ragged.constant([["1"], []])).to_list() == [[1.0], []]
    codes = dtf.strings.unicode_decode(dtf.constant(["hé", "x"]), "UTF-8")
    assert dtf.strings.unicode_encode(codes, "UTF-8").numpy().tolist() == [b"h\xc3\xa9", b"x"]


def test_split_scalar_gives_a_tensor_and_rank2_a_ragged_rank_2():
    assert dtf.strings.split("a  b").numpy().tolist() == [b"a", b"b"]
    rt = dtf.strings.split(dtf.constant([["a b", "c"], ["", "d"]]))
    assert rt.ragged_rank == 2
    assert rt.to_list() == [[[b"a", b"b"], [b"c"]], [[], [b"d"]]]


def test_unsupported_re2_constructs_name_the_op():
    with pytest.raises(InvalidArgumentError, match=r"lookahead.*Op:StaticRegexFullMatch"):
        dtf.strings.regex_full_match(dtf.constant(["ab"]), "a(?=b)b")
    with pytest.raises(InvalidArgumentError, match=r"backreferences.*Op:StaticRegexReplace"):
        dtf.strings.regex_replace(dtf.constant(["aa"]), r"(a)\1", "x")
    with pytest.raises(InvalidArgumentError, match=r"\\p\{..\}"):
        dtf.strings.regex_full_match(dtf.constant(["a"]), r"\pL")
    # RE2 spellings Python lacks are translated
    assert dtf.strings.regex_full_match(dtf.constant(["a.b"]), r"\Qa.b\E\z").numpy().tolist() \
        == [True]
    # \d is ASCII-only in RE2
    assert dtf.strings.regex_full_match(dtf.constant(["٣"]), r"\d").numpy().tolist() == [False]


def test_unit_and_encoding_errors():
    with pytest.raises(InvalidArgumentError, match="UTF8_CHAR"):
        dtf.strings.substr(dtf.constant("abc"), 0, 1, unit="CHAR")
    with pytest.raises(InvalidArgumentError, match="UnicodeDecode"):
        dtf.strings.unicode_decode(dtf.constant("a"), "latin-9")
    with pytest.raises(TypeError, match="out_type"):
        dtf.strings.to_number(dtf.constant("1"), out_type=dtf.int8)


def test_string_ops_trace_in_dtf_function():
    @dtf.function
    def clean(x):
        words = dtf.strings.regex_replace(dtf.strings.lower(x), "[^a-z ]", "")
        return dtf.strings.reduce_join(words, axis=0, separator=" "), dtf.strings.length(words)

    joined, lengths = clean(dtf.constant(["Hello,", "World!"]))
    assert joined.numpy() == b"hello world"
    assert lengths.numpy().tolist() == [5, 5]


def test_string_ops_are_exportable():
    """The portable format stores string arrays (round trips: tests/compile/
    test_export_strings.py)."""
    from dtf.compile import export

    assert not any(name.startswith("string_") for name in export.UNEXPORTABLE_PRIMS)


def test_dataset_of_strings():
    ds = dtf.data.Dataset.from_tensor_slices(["a b", "c"]).map(dtf.strings.upper)
    assert list(ds.as_numpy_iterator()) == [b"A B", b"C"]


def test_docstring_examples_run():
    import doctest

    import dtf.strings as module

    result = doctest.testmod(module, extraglobs={"dtf": dtf},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15 and result.failed == 0
