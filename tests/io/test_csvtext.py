"""The fast CSV writer: byte for byte what ``df.to_csv(index=False)`` writes (pandas is the reference here).

Every kind of column a sweep's table holds is checked (float64 with NaN, infinities, signed zeros and the
extremes of the range; integers; booleans; pandas text with missing values, empty strings and characters that
need quoting; nullable integers and booleans; Python objects: tables, lists, floats, numpy floats), and the
kinds left to pandas too.  The comparison is exact: the two must be the same text.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from archsim.io.csvtext import to_csv_text

NAN = float("nan")


def _every_kind(n: int = 12) -> pd.DataFrame:
    floats = [0.1, -0.0, 0.0, NAN, float("inf"), -float("inf"), 1e16, 9999999999999998.0, 1e-5, 1e-4,
              5e-324, 1.7976931348623157e308]
    text = ["plain", "", "a,b", 'say "hi"', "two\nlines", "cr\rhere", None, NAN, "ünïcode", " lead", "trail ",
            "x"]
    objs = [{}, {"conv2": {"adc_bits": 6}}, [1, 2], None, NAN, 0.30000000000000004, np.float64(0.1), 3, True,
            "t,ext", "", "auto"]
    df = pd.DataFrame({
        "f": floats[:n],
        "i": np.array([0, -1, 2**62, 7, -2**63, 5, 6, 7, 8, 9, 10, 11][:n], dtype=np.int64),
        "b": [True, False] * (n // 2),
        "s": pd.Series(text[:n], dtype="str"),
        "o": pd.Series(objs[:n], dtype=object),
        "nullable_int": pd.Series([1, None, 3, -4, None, 6, 7, 8, 9, 10, 11, 12][:n], dtype="Int64"),
        "nullable_bool": pd.Series([True, None, False] * (n // 3), dtype="boolean"),
        "err": pd.Series([None, "point abc: does not fit, mesh 2x2"] * (n // 2), dtype=object),
    })
    df["ints_as_floats"] = [1.0, 2.0, NAN, 4.5, 1e22, -3.0, 0.5, 8.0, 9.0, 10.0, 11.0, 12.0][:n]
    df["a, label"] = "v"              # a header that needs quoting
    return df


def test_every_kind_of_column_is_pandas_text():
    df = _every_kind()
    assert to_csv_text(df) == df.to_csv(index=False)
    assert to_csv_text(df.iloc[:0]) == df.iloc[:0].to_csv(index=False)      # the header alone
    assert to_csv_text(df.iloc[[3]]) == df.iloc[[3]].to_csv(index=False)    # one row


def test_float64_repr_is_numpys_for_random_bit_patterns():
    # the writer formats float64 with Python's repr, pandas with numpy's astype(str): the same shortest
    # round-trip digits and the same switch to exponents (below 1e-4, from 1e16) for every float64
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**63 - 1, 50_000, dtype=np.int64)
    vals = bits.view(np.float64)
    vals = vals[np.isfinite(vals)]
    scaled = rng.standard_normal(20_000) * 10.0 ** rng.integers(-30, 30, 20_000)
    df = pd.DataFrame({"a": np.concatenate([vals, -vals])[:60_000], "b": np.resize(scaled, 60_000)})
    assert to_csv_text(df) == df.to_csv(index=False)


@pytest.mark.parametrize("make", [
    lambda: pd.DataFrame({"only": [1.5, NAN, ""]}),                                       # one column
    lambda: pd.DataFrame({"d": pd.date_range("2026-01-01", periods=3), "x": [1, 2, 3]}),   # dates
    lambda: pd.DataFrame({"c": pd.Categorical(["a", "b", "a"]), "x": [1, 2, 3]}),          # categories
    lambda: pd.DataFrame({"f32": np.array([0.1, 2.5, NAN], dtype=np.float32), "x": [1, 2, 3]}),
    lambda: pd.DataFrame({"F": pd.array([0.1, None, 3.0], dtype="Float64"), "x": [1, 2, 3]}),
    lambda: pd.DataFrame({0: [1, 2], 1: [3, 4]}),                                          # labels not text
])
def test_other_tables_are_left_to_pandas(make, monkeypatch):
    df = make()
    calls = []
    real = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    out = to_csv_text(df)
    assert calls, "expected pandas to write this table"
    assert out == real(df, index=False)


def test_random_text_with_every_quoting_character():
    # text drawn from an alphabet rich in what csv quotes (comma, quote, line ends) or might (spaces, tabs)
    rng = np.random.default_rng(3)
    alphabet = list('ab,"\n\r \t;\'x')
    words = ["".join(rng.choice(alphabet, size=rng.integers(0, 6))) for _ in range(3000)]
    df = pd.DataFrame({"s": pd.Series(words, dtype="str"), "o": pd.Series(words[::-1], dtype=object),
                       "n": np.arange(3000)})
    assert to_csv_text(df) == df.to_csv(index=False)
