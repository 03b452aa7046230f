"""Architecture YAML: defaults, validation, one-line errors that name file and key."""
import math

import pytest

from archsim.model import arch
from archsim.model.errors import ArchsimError


def test_defaults_valid():
    a = arch.Architecture()
    assert a.replace() == a.replace()
    assert a.copies == 2 and a.input_pulses == 8


def test_every_key_documented():
    for row in arch.keys_table():
        assert row["meaning"] and row["allowed"]


def test_yaml_roundtrip(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("device: sonos\nrows: 256\ncols: 64\nmesh: [4, 5]\nmapping: offset\n")
    a = arch.load(p)
    assert (a.device, a.rows, a.cols, a.mesh, a.mapping) == ("sonos", 256, 64, (4, 5), "offset")
    assert a.input_pulses == 8 and a.copies == 1


def test_empty_file_is_defaults(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("")
    assert arch.load(p).rows == arch.Architecture().rows


@pytest.mark.parametrize("text, pattern", [
    ("rowz: 4\n", r"a.yaml: unknown key 'rowz'; allowed keys: device, rows"),
    ("rows: -3\n", r"a.yaml: key 'rows' = -3 is not allowed; allowed 1 to 65536"),
    ("rows: 12.5\n", r"key 'rows' = 12.5 is not allowed; allowed an integer"),
    ("adc_bits: 12\n", r"key 'adc_bits' = 12 is not allowed; allowed 1 to 10"),
    ("mapping: triple\n", r"key 'mapping' = 'triple' is not allowed; allowed: differential, offset"),
    ("mesh: [3]\n", r"key 'mesh' .* allowed 'auto' or \[rows, cols\]"),
    ("replicate: maybe\n", r"key 'replicate' = 'maybe' is not allowed; allowed true or false"),
    ("- 1\n- 2\n", r"a.yaml: must be a mapping of keys"),
    ("rows: [1, 2\n", r"a.yaml: line \d+: not valid YAML"),
    ("dac_bits: 4\ninput_bits: 2\n", r"key 'dac_bits' = 4 exceeds input_bits = 2"),
    ("cols: 16\ncols_per_adc: 32\n", r"key 'cols_per_adc' = 32 exceeds cols = 16"),
])
def test_bad_yaml_one_line(tmp_path, text, pattern):
    p = tmp_path / "a.yaml"
    p.write_text(text)
    with pytest.raises(ArchsimError, match=pattern) as exc:
        arch.load(p)
    assert "\n" not in str(exc.value)


def test_missing_file():
    with pytest.raises(ArchsimError, match="nope.yaml: architecture file not found"):
        arch.load("nope.yaml")


def test_unsafe_yaml_refused(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("rows: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ArchsimError, match="not valid YAML"):
        arch.load(p)


def test_replace_validates():
    with pytest.raises(ArchsimError, match="key 'cols' = 0"):
        arch.Architecture().replace(cols=0)


def test_accepted_key_values_are_remembered_and_refusals_are_not():
    # a sweep checks each distinct value of each key once (archsim.model.arch._checked): the remembered value
    # must be what the check gives, a refusal must still name its own place, and -0.0 stays apart from 0.0
    from archsim.model import arch as A
    a1 = A.from_dict({"adc_bits": 6, "clock_Hz": 1e9, "mapping": "offset"}, where="first")
    a2 = A.from_dict({"adc_bits": 6.0, "clock_Hz": 1e9, "mapping": "offset"}, where="second")
    assert a1.adc_bits == a2.adc_bits == 6 and type(a2.adc_bits) is int
    assert a1.mapping is a2.mapping is A.SignedMapping.OFFSET
    for where in ("p1", "p2"):
        with pytest.raises(ArchsimError, match=f"^{where}: key 'adc_bits'"):
            A.from_dict({"adc_bits": 99}, where=where)
    k = A.KEY_BY_NAME["r_wire_ohm"]
    assert math.copysign(1.0, A._checked(k, 0.0, "x")) == 1.0
    assert math.copysign(1.0, A._checked(k, -0.0, "x")) == -1.0   # its own entry, not +0.0's
