"""Sweeps: sweep files, stable keys, the result store, executors, resume after a kill."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archsim import api
from archsim.cli import main as cli
from archsim.mapping import layout as mapping
from archsim.explore import run as sweep_run
from archsim.explore.points import ARCH_KEYS, CONFIG_KEYS, MAPPING_KEYS, EvalCache, _plain, config_from_arch, \
    evaluate_point, point_key, result_json
from archsim.explore.run import STORE_NAME, resolve_formats, run_points, run_sweep
from archsim.explore.spec import load_sweep
from archsim.model import arch as A
from archsim.model.errors import ArchsimError
from archsim.explore.store import Store

from tests.support import ROOT  # noqa: E402

SMALL = """
name: small
workloads: [lenet5, mlp]
devices: [sonos, reram]
base: {arrays_per_tile: 4}
grid:
  rows: [64, 128]
  adc_bits: [6, 8]
points:
  - {mesh: [1, 2]}                   # the network does not fit: kept with an error
  - {cols: 64, cols_per_adc: 128}    # cols_per_adc > cols: kept with an error
"""


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _bits(df: pd.DataFrame) -> list:
    """Every cell of a table, floats as their 64 bits (NaN included), for bit-for-bit comparison."""
    out = []
    for c in df.columns:
        for v in df[c]:
            if isinstance(v, float):
                out.append((c, struct.pack("<d", v)))
            else:
                out.append((c, None if v is pd.NA else v))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# sweep files and keys

def test_sweep_file_expands_grid_points_workloads_devices(tmp_path):
    s = load_sweep(_write(tmp_path, SMALL))
    assert s.name == "small" and len(s) == 2 * 2 * (4 + 2)
    first = s.configs[0]
    assert (first["workload"], first["device"], first["rows"], first["adc_bits"]) == ("lenet5", "sonos", 64, 6)
    assert s.configs[1]["adc_bits"] == 8  # the last grid key varies fastest
    assert all(c["arrays_per_tile"] == 4 for c in s.configs)
    assert set(s.configs[0]) == set(CONFIG_KEYS)  # every architecture key, defaults filled in
    assert len(set(s.keys)) == len(s)


def test_point_key_is_stable_and_canonical():
    a = A.Architecture(device="sonos", rows=256, cols=256)
    c = config_from_arch("resnet50", a)
    shuffled = dict(reversed(list(c.items())))
    assert point_key(c) == point_key(shuffled)
    assert point_key(config_from_arch("ResNet-50", a)) == point_key(c)  # aliases fold
    assert point_key(dict(c, adc_bits=6)) != point_key(c)
    assert re.fullmatch(r"[0-9a-f]{64}", point_key(c))


def test_duplicate_points_are_dropped(tmp_path):
    s = load_sweep(_write(tmp_path, "workloads: lenet5\npoints: [{rows: 64}, {rows: 64}, {}, {rows: 128, cols: 128}]\n"))
    assert len(s) == 2 and s.duplicates == 2  # rows = cols = 128 are the defaults: the same design as {}


def test_point_results_equal_the_api(tmp_path):
    s = load_sweep(_write(tmp_path, SMALL))
    n_ok = 0
    cache = EvalCache()
    for cfg in s.configs:
        res = evaluate_point(cfg, cache=cache)
        again = evaluate_point(cfg)  # no cache: built and mapped afresh
        assert res == again
        if "error" in res:
            assert res["error"].startswith("point ") and "\n" not in res["error"]
            continue
        a = A.from_dict({k: cfg[k] for k in ARCH_KEYS})
        est = api.estimate(cfg["workload"], arch=a, task=cfg["task"])
        assert _plain(est.summary) == res["summary"]
        n_ok += 1
    assert n_ok == 16


def test_eval_cache_reuses_a_mapping_and_changes_no_number(tmp_path):
    """A cache passed in shares one mapping between designs that agree on MAPPING_KEYS; results are those
    of a run without it, and nothing is left behind in a module."""
    s = load_sweep(_write(tmp_path, "workloads: lenet5\ndevices: sonos\ngrid: {adc_bits: [4, 6, 8], cols_per_adc: [4, 8]}\n"))
    cache = EvalCache()
    assert [evaluate_point(c, cache=cache) for c in s.configs] == [evaluate_point(c) for c in s.configs]
    assert len(cache._workloads) == 1 and len(cache._mappings) == 1
    small = EvalCache(max_mappings=2)
    for r in (64, 128, 256):
        evaluate_point(dict(s.configs[0], rows=r, cols=r), cache=small)
    assert len(small._mappings) == 2  # the oldest mapping dropped
    cache = EvalCache()
    assert run_points(s.configs, workers=1, cache=cache) == {point_key(c): evaluate_point(c) for c in s.configs}
    assert len(cache._mappings) == 1


def test_mapping_keys_are_the_keys_whose_field_names_the_mapping_step():
    assert MAPPING_KEYS == A.keys_read_by("mapping")
    assert set(MAPPING_KEYS) >= {"device", "rows", "cols", "bits_per_cell", "mesh"}
    for k in A.KEYS:
        assert k.steps and set(k.steps) <= set(A.STEPS), k.name


def test_mapping_unchanged_by_the_other_keys(small_lenet):
    """Behaviour, not source: changing any key outside MAPPING_KEYS leaves the mapping as it was."""
    base = A.Architecture(device="sonos", rows=64, cols=64, tiles=12)
    m0 = mapping.map_workload(small_lenet, base)
    for key in A.KEYS:
        if key.name in MAPPING_KEYS:
            continue
        cands = [c for c in key.choices if c != key.default] if key.choices else []
        if key.kind in ("int", "float"):
            cands += [key.lo, key.hi, (key.default or 0) * 2 + 1]
        if key.kind == "bool":
            cands = [not key.default]
        if key.name == "circuits":
            cands = ["isaac"]
        tried = 0
        for v in cands:
            try:
                a = base.replace(**{key.name: type(key.default)(v) if key.kind != "str" else v})
            except (ArchsimError, TypeError, ValueError):
                continue
            m = mapping.map_workload(small_lenet, a)
            assert (m.layers, m.edges, m.mesh, m.bits_per_cell) == (m0.layers, m0.edges, m0.mesh, m0.bits_per_cell), key.name
            tried += 1
        assert tried or not cands, f"no valid value tried for {key.name}"


# ---------------------------------------------------------------------------------------------------------------------
# malformed sweep files: one line naming the file and the key

MALFORMED = [
    ("unknown_top", "workloads: [lenet5]\nrowz: 3\n", "rowz"),
    ("unknown_grid_key", "workloads: [lenet5]\ngrid: {rowz: [64]}\n", "rowz"),
    ("unknown_base_key", "workloads: [lenet5]\nbase: {adc: 4}\n", "adc"),
    ("wrong_type", "workloads: [lenet5]\ngrid: {rows: [64, abc]}\n", "rows"),
    ("out_of_range", "workloads: [lenet5]\ngrid: {adc_bits: [4, 12]}\n", "adc_bits"),
    ("scalar_grid", "workloads: [lenet5]\ngrid: {rows: 64}\n", "rows"),
    ("empty_grid_list", "workloads: [lenet5]\ngrid: {rows: []}\n", "rows"),
    ("empty_grid", "workloads: [lenet5]\ngrid: {}\n", "grid"),
    ("not_a_mapping", "- rows: 64\n- rows: 128\n", "mapping"),
    ("empty_file", "", "mapping"),
    ("yaml_syntax", "workloads: [lenet5\ngrid: {rows: [64]}\n", "YAML"),
    ("unknown_workload", "workloads: [lenet6]\n", "workload"),
    ("unknown_device", "workloads: [lenet5]\ndevices: [unobtainium]\n", "device"),
    ("bad_task", "workloads: [lenet5]\ntasks: [inferense]\n", "task"),
    ("points_not_list", "workloads: [lenet5]\npoints: {rows: 64}\n", "points"),
    ("point_not_mapping", "workloads: [lenet5]\npoints: [64]\n", "points[0]"),
    ("point_bad_value", "workloads: [lenet5]\npoints: [{mesh: [0, 4]}]\n", "mesh"),
    ("no_workload", "grid: {rows: [64]}\n", "workload"),
    ("set_twice", "workloads: [lenet5]\ndevices: [sonos]\ngrid: {device: [reram]}\n", "device"),
    ("bool_for_int", "workloads: [lenet5]\nbase: {rows: true}\n", "rows"),
]


@pytest.mark.parametrize("label,text,key", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_sweep_files(tmp_path, label, text, key):
    p = _write(tmp_path, text, f"{label}.yaml")
    with pytest.raises(ArchsimError) as ei:
        load_sweep(p)
    msg = str(ei.value)
    assert "\n" not in msg
    assert str(p) in msg and key in msg, msg


def test_cli_sweep_bad_file_exits_2_with_one_line(tmp_path, capsys):
    p = _write(tmp_path, "workloads: [lenet5]\ngrid: {rowz: [64]}\n")
    rc = cli.main(["sweep", str(p), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "rowz" in err and str(p) in err
    assert cli.main(["sweep", str(tmp_path / "missing.yaml")]) == 2


# ---------------------------------------------------------------------------------------------------------------------
# the store and the table

def test_store_round_trips_float64_bit_for_bit(tmp_path):
    rng = np.random.default_rng(1)
    vals = list(rng.standard_normal(200) * 10.0 ** rng.integers(-300, 300, 200))
    vals += [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3, -0.0, float("nan"), float("inf")]
    with Store(tmp_path / "r.sqlite") as st:
        k = point_key({"workload": "x"})
        assert st.put(k, {"workload": "x"}, result_json({"summary": {"v": vals}}))
        assert not st.put(k, {"workload": "x"}, result_json({"summary": {"v": [0.0]}}))  # never twice
        back = st.get_many([k])[k]["summary"]["v"]
    assert [struct.pack("<d", v) for v in back] == [struct.pack("<d", v) for v in vals]


def test_store_row_nested_too_deep_is_named_not_a_traceback(tmp_path):
    # found by a bad-input sweep: a tampered store row of 100,000 nested brackets raised RecursionError from
    # json.loads (the CLI's generic "nested too deeply" line, without the store's name)
    with Store(tmp_path / "r.sqlite") as st:
        k = point_key({"workload": "x"})
        st.put(k, {"workload": "x"}, "[" * 100_000 + "]" * 100_000)
        with pytest.raises(ArchsimError, match=r"r\.sqlite: point .* result that is not valid JSON"):
            st.get_many([k])
        assert st.verify(point_key) == [f"point {k[:12]}: invalid JSON"]


@pytest.mark.parametrize("tables", [("CREATE TABLE meta(y)",), ("CREATE TABLE points(x)", "CREATE TABLE meta(y)"),
                                    ("CREATE TABLE meta(name TEXT, value TEXT, extra TEXT)",)])
def test_store_with_foreign_tables_refused_on_opening(tmp_path, tables):
    # found by a bad-input sweep: a SQLite file with a 'meta' table of other columns raised
    # sqlite3.OperationalError ("no such column: value") at the first read, a traceback from the CLI
    import sqlite3
    db = tmp_path / "r.sqlite"
    con = sqlite3.connect(db)
    for t in tables:
        con.execute(t)
    con.commit()
    con.close()
    with pytest.raises(ArchsimError, match=r"r\.sqlite: not an archsim result store \(table '(meta|points)' has "
                                           r"columns .*; expected"):
        Store(db)


def test_sweep_table_columns_and_errors(tmp_path):
    run = run_sweep(_write(tmp_path, SMALL), out=tmp_path / "o", workers=1, progress=False, formats="csv")
    t = run.table
    assert run.total == 24 and run.computed == 24 and run.failed == 8
    assert list(t.columns[:4]) == ["key", "workload", "device", "task"]
    for c in ("error", "energy_per_inference_J", "tops_per_W", "tiles_total", "mesh_used", "bits_per_cell_used"):
        assert c in t.columns
    bad = t[t["error"].notna()]
    assert set(bad["mesh"]) | set(bad["cols"].astype(str)) >= {"1x2", "64"}
    assert bad["energy_per_inference_J"].isna().all()
    assert t["macs"].dtype == "Int64"  # integers stay integers beside failed rows
    # read back losslessly: pandas' default float parser may differ from the written text in the last ulp
    # (seen with pandas 3.0 on another machine) and its round_trip option is deprecated from pandas 3.1, so the
    # column is parsed by Python's float(), which reads the shortest repr written back to the same double
    exact = {"energy_per_inference_J": lambda s: float(s) if s else np.nan}
    csv = pd.read_csv(run.files[0], converters=exact)
    assert len(csv) == 24 and csv["key"].is_unique
    ok = t[t["error"].isna()]
    assert np.array_equal(csv.loc[ok.index, "energy_per_inference_J"].to_numpy(), ok["energy_per_inference_J"].to_numpy())


def test_parquet_requested_without_pyarrow_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(sweep_run, "parquet_available", lambda: False)
    with pytest.raises(ArchsimError, match="pyarrow"):
        run_sweep(_write(tmp_path, SMALL), out=tmp_path / "o", workers=1, formats="parquet", progress=False)
    assert resolve_formats("auto") == (["csv"], "Parquet skipped: pyarrow is not installed")


def test_existing_store_needs_resume_and_same_model(tmp_path):
    p = _write(tmp_path, "workloads: [lenet5]\ngrid: {adc_bits: [6, 8]}\n")
    run_sweep(p, out=tmp_path / "o", workers=1, progress=False, formats="csv")
    with pytest.raises(ArchsimError, match="pass parameter 'resume' to continue"):
        run_sweep(p, out=tmp_path / "o", workers=1, progress=False, formats="csv")
    again = run_sweep(p, out=tmp_path / "o", workers=1, progress=False, formats="csv", resume=True)
    assert (again.reused, again.computed) == (2, 0)
    with Store(tmp_path / "o" / STORE_NAME) as st:
        st.meta_set("model_fingerprint", "0" * 64)
    with pytest.raises(ArchsimError, match="another archsim model"):
        run_sweep(p, out=tmp_path / "o", workers=1, progress=False, formats="csv", resume=True)


# ---------------------------------------------------------------------------------------------------------------------
# executors: the same table, bit for bit

def test_same_results_bit_for_bit_across_executors(tmp_path):
    p = _write(tmp_path, SMALL)
    runs = {w: run_sweep(p, out=tmp_path / f"w{w}", workers=w, progress=False, formats="csv") for w in (1, 2)}
    import distributed  # noqa: F401  (the test extra installs dask[distributed])
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        runs["dask"] = run_sweep(p, out=tmp_path / "dask", scheduler=cluster.scheduler_address,
                                       progress=False, formats="csv")
    assert runs["dask"].executor == "dask" and runs[2].executor == "process pool"
    ref = runs[1]
    for name, r in runs.items():
        assert r.computed == 24
        pd.testing.assert_frame_equal(r.table, ref.table, check_exact=True)
        assert _bits(r.table) == _bits(ref.table), name
        assert r.files[0].read_bytes() == ref.files[0].read_bytes(), name


# ---------------------------------------------------------------------------------------------------------------------
# resume after SIGKILL

RESUME = """
name: resume
workloads: resnet18
devices: sonos
grid:
  rows: [128, 256, 512]
  cols: [64, 128, 256]
  arrays_per_tile: [4, 8, 16, 32]
  input_bits: [4, 6, 8, 10, 12]
  weight_bits: [6, 8]
"""


def test_resume_after_sigkill_loses_nothing_and_duplicates_nothing(tmp_path):
    p = _write(tmp_path, RESUME)
    total = len(load_sweep(p))
    assert total == 360
    out = tmp_path / "o"
    db = out / STORE_NAME
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "archsim.cli", "sweep", str(p), "--out", str(out), "--workers", "1",
                             "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                    done = con.execute("SELECT count(*) FROM points").fetchone()[0]
                    con.close()
                except sqlite3.OperationalError:
                    done = 0
                if done >= 25:
                    break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # mid-sweep, possibly mid-write
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    with Store(db) as st:
        assert st.verify(point_key) == []
        before = len(st)
    assert 25 <= before < total, "the sweep finished before it could be killed: make it longer"

    run = run_sweep(p, out=out, workers=2, resume=True, progress=False, formats="csv")
    assert run.reused == before and run.computed == total - before
    t = run.table
    assert len(t) == total and t["key"].is_unique and set(t["key"]) == set(load_sweep(p).keys)
    assert t["error"].isna().all()
    with Store(db) as st:
        assert st.verify(point_key) == [] and len(st) == total
    # the rows written before the kill are the same as a fresh computation
    for _, row in t.sample(10, random_state=0).iterrows():
        cfg = next(c for c in load_sweep(p).configs if point_key(c) == row["key"])
        res = evaluate_point(cfg)["summary"]
        assert struct.pack("<d", res["energy_per_inference_J"]) == struct.pack("<d", row["energy_per_inference_J"])
    # a third run computes nothing
    again = run_sweep(p, out=out, workers=1, resume=True, progress=False, formats="csv")
    assert (again.reused, again.computed) == (total, 0)


# ---------------------------------------------------------------------------------------------------------------------
# the benchmark report

def test_published_accelerators_as_in_seed_002():
    from archsim.explore import bench
    pub = bench.published_accelerators().set_index("accelerator")
    assert list(pub.index) == ["NVIDIA T4", "Google TPU v1", "Habana Goya HL-1000", "DaDianNao", "UNPU",
                               "Ref. 122 mixed-signal"]
    assert pub.loc["NVIDIA T4", ["tops", "tops_peak", "tops_per_W", "tops_per_mm2"]].tolist() == [22.2, 130, 0.32, 0.04]
    assert pub.loc["Google TPU v1", "tops_per_W_peak"] == 2.3 and np.isnan(pub.loc["Google TPU v1", "tops_per_W"])
    assert np.isnan(pub.loc["Habana Goya HL-1000", "tops_per_mm2"]) and pub.loc["Habana Goya HL-1000", "tops"] == 63.1
    assert pub.loc["UNPU", "tops_per_W_peak"] == 50.6 and pub.loc["Ref. 122 mixed-signal", "tops_per_W"] == 532
    assert not pub.loc["DaDianNao", "measured"] and pub.loc["UNPU", "process_nm"] == 65


def test_bench_report_small(monkeypatch, tmp_path):
    from archsim.explore import bench
    from archsim.report import plots
    monkeypatch.setattr(bench._workloads, "names", lambda: ["lenet5", "mlp"])
    monkeypatch.setattr(bench.techlib, "device_names", lambda: ["reram", "sonos"])
    res = bench.write_bench_report(tmp_path / "bench", workers=1, plots=plots.matplotlib_available(),
                                   accuracy=True)
    names = {p.name for p in res.files}
    assert {"bench.md", "bench.csv"} <= names
    if plots.matplotlib_available():
        assert {"energy_breakdown.png", "efficiency_pareto.png"} <= names
    md = (tmp_path / "bench" / "bench.md").read_text()
    assert "2 operations" in md and bench.ACCURACY_NOTE in md and "Accuracy versus ADC bits: reports/bench/adc_bits.md" in md
    csv = pd.read_csv(tmp_path / "bench" / "bench.csv")
    assert (csv["kind"] == "archsim").sum() == 4 and (csv["kind"] == "published").sum() == 6
    # both networks ship trained weights: simulated accuracy on MNIST, near their float accuracy
    # (ReRAM at its reliable 3 bits per cell, three slices each converted at 8 bits, measured 0.937 on LeNet-5:
    # the floor is 0.9, well above chance and the 0.5-0.8 a broken mapping gives)
    assert (csv.loc[csv["kind"] == "archsim", "accuracy"] > 0.90).all()
    assert (csv.loc[csv["kind"] == "archsim", "accuracy_note"] == bench.ACCURACY_NOTE).all()
