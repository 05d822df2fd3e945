"""dtf.strings against TensorFlow's recorded results (fixtures/strings_tf.json, made by
fixtures/make_strings.py from the expressions in fixtures/strings_cases.py)."""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest

import dtf

_HERE = os.path.join(os.path.dirname(__file__), "fixtures")
sys.path.insert(0, _HERE)
from strings_cases import CASES, normalize

with open(os.path.join(_HERE, "strings_tf.json")) as _f:
    RECORDED = json.load(_f)


def _same(got, want):
    if isinstance(want, float) and isinstance(got, float):
        return (math.isnan(want) and math.isnan(got)) or math.isclose(got, want, rel_tol=1e-6)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    return got == want


@pytest.mark.parametrize("expr", CASES)
def test_matches_tensorflow(expr):
    want = RECORDED[expr]
    scope = {"tf": dtf, "np": np}
    if "error" in want:
        error = getattr(dtf.errors, want["error"], None) or getattr(__builtins__, want["error"],
                                                                     None)
        if error is None:
            import builtins
            error = getattr(builtins, want["error"])
        with pytest.raises(error) as info:
            eval(expr, scope)
        if want["error"] in ("InvalidArgumentError", "OutOfRangeError"):
            # TF's message, then [Op:Name]: the text before TF's own suffix must appear
            core = want["message"].split("}} ", 1)[-1].split(" [Op:")[0].split(", error:")[0]
            assert core.split(";")[0].split("\n")[0] in str(info.value)
        return
    got = normalize(eval(expr, scope))
    assert _same(got, want["ok"]), f"{expr}:\n got {got}\nwant {want['ok']}"
