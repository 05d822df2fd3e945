"""String tensors in the portable format: a function of strings (and a string constant)
round-trips; a file whose string array is malformed is rejected with the format error."""

import msgpack
import pytest

import dtf
from dtf.compile.export import ExportFormatError


@dtf.function(input_signature=[dtf.TensorSpec([None], dtf.string)])
def shout(s):
    return dtf.strings.upper(s), dtf.strings.length(s), dtf.strings.join([s, dtf.constant("!")])


def test_string_function_round_trips(tmp_path):
    path = str(tmp_path / "shout.dtf")
    dtf.saved_model.save(shout, path)
    loaded = dtf.saved_model.load(path)
    x = dtf.constant(["ab", "xyz", ""])
    for got, want in zip(loaded(x), shout(x)):
        assert got.dtype == want.dtype
        assert got.numpy().tolist() == want.numpy().tolist()


def _corrupt(path, change):
    with open(path, "rb") as f:
        data = msgpack.unpackb(f.read(), raw=False, strict_map_key=False)

    def walk(x):
        if isinstance(x, list) and len(x) == 3 and x[0] == "string" and isinstance(x[2], list):
            change(x)
            return True
        if isinstance(x, list):
            return any(walk(v) for v in x)
        if isinstance(x, dict):
            return any(walk(v) for v in x.values())
        return False

    assert walk(data), "no string constant found in the file"
    with open(path, "wb") as f:
        f.write(msgpack.packb(data, use_bin_type=True))


@pytest.mark.parametrize("change", [
    lambda a: a.__setitem__(2, a[2] + [b"extra"]),  # more elements than the shape holds
    lambda a: a[2].__setitem__(0, 7),  # an element that is not bytes
    lambda a: a.__setitem__(2, b"!"),  # bytes where the list of elements belongs
])
def test_malformed_string_arrays_are_rejected(tmp_path, change):
    path = str(tmp_path / "shout.dtf")
    dtf.saved_model.save(shout, path)
    _corrupt(path, change)
    with pytest.raises(ExportFormatError, match="string array|bytes|elements"):
        dtf.saved_model.load(path)
