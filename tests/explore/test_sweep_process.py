"""What a sweep's own process does around its workers: the store's batched writes, keys and their texts made
once, fresh results decoded as they arrive, a heap the collector leaves alone while workers fork.

Each is checked as a law against the plain way: the rows and flags one insert at a time give, the key and
text :func:`point_key` and the store give, the table a store read back gives (byte-identical CSV).
"""
from __future__ import annotations

import gc
import json

from archsim.explore import run as sweep_run
from archsim.explore.executors import SWEEP_GC_THRESHOLD, LocalPoolExecutor, frozen_heap
from archsim.explore.points import config_from_arch, keys_and_texts, point_key
from archsim.explore.run import STORE_NAME, run_sweep
from archsim.explore.spec import Sweep
from archsim.explore.store import Store, config_json
from archsim.model import arch as A


def _configs() -> list[dict]:
    out = []
    for adc in (4, 6, 8):
        for cpa in (1, 8):
            out.append(config_from_arch("lenet5", A.Architecture(device="sonos", adc_bits=adc, cols_per_adc=cpa)))
    out.append(config_from_arch("lenet5", A.Architecture(device="sonos", mesh=(1, 1))))          # does not fit
    out.append(config_from_arch("mlp", A.Architecture(device="reram", layer_overrides={"fc1": {"adc_bits": 6}})))
    return out


def _sweep(cfgs) -> Sweep:
    return Sweep(name="p", file="<p>", configs=tuple(cfgs))


def test_put_many_flags_equal_one_insert_at_a_time(tmp_path):
    rows = [(point_key({"workload": str(i)}), {"workload": str(i)}, json.dumps({"summary": {"v": i}}))
            for i in range(5)]
    with Store(tmp_path / "a.sqlite") as st:
        assert st.put_many(rows[:2]) == [True, True]                      # all new: one executemany
        again = [rows[1], rows[2], (rows[2][0], rows[2][1], '{"summary":{"v":-1}}'), rows[3]]
        assert st.put_many(again) == [False, True, False, True]           # a stored key, a key twice
        assert len(st) == 4
        got = st.get_many([r[0] for r in rows])
    assert got[rows[2][0]] == {"summary": {"v": 2}}                       # the first row of a key is kept
    with Store(tmp_path / "b.sqlite") as st:
        assert [st.put(k, c, r) for k, c, r in rows[:2] + again] == [True, True, False, True, False, True]


def test_keys_and_texts_are_point_key_and_the_stores_text():
    cfgs = _configs()
    keys, texts = keys_and_texts(cfgs)
    assert keys == [point_key(c) for c in cfgs]
    assert texts == [config_json(c) for c in cfgs]


def test_fresh_results_and_stored_ones_give_the_same_csv(tmp_path):
    cfgs = _configs()
    fresh = run_sweep(_sweep(cfgs), out=tmp_path / "fresh", workers=1, progress=False, formats="csv")
    assert fresh.computed == len(cfgs) and fresh.failed == 1
    half = run_sweep(_sweep(cfgs[::2]), out=tmp_path / "half", workers=1, progress=False, formats="csv")
    # the other half computed by a second run, the first half read back from its store
    resumed = run_sweep(_sweep(cfgs), out=tmp_path / "half", workers=2, progress=False, formats="csv", resume=True)
    assert (resumed.reused, resumed.computed) == (half.computed, len(cfgs) - half.computed)
    assert fresh.files[0].read_bytes().replace(b"fresh", b"") == resumed.files[0].read_bytes().replace(b"half", b"")
    assert fresh.files[0].read_text(encoding="utf-8") == fresh.table.to_csv(index=False)


def test_a_row_another_run_wrote_first_is_the_one_in_the_table(tmp_path, monkeypatch):
    cfgs = _configs()
    real = Store.put_many
    taken = []

    def put_many(self, rows):
        rows = list(rows)
        if not taken:           # another run stores the first point of the first chunk just before this one
            taken.append(rows[0][0])
            self.put(rows[0][0], rows[0][1], json.dumps({"error": "written by the other run"}))
        return real(self, rows)

    monkeypatch.setattr(sweep_run.Store, "put_many", put_many)
    run = run_sweep(_sweep(cfgs), out=tmp_path / "o", workers=1, progress=False, formats="csv")
    assert (run.computed, run.by_other) == (len(cfgs) - 1, 1)
    row = run.table.set_index("key").loc[taken[0]]
    assert row["error"] == "written by the other run"                      # the store's row, not this run's
    with Store(tmp_path / "o" / STORE_NAME) as st:
        assert len(st) == len(cfgs)


def test_frozen_heap_restores_the_collector_and_keeps_an_outer_freeze():
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= SWEEP_GC_THRESHOLD
        outer = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == outer                               # nested: the outer freeze holds
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    # a pool run abandoned midway (its generator closed) unfreezes too
    gen = LocalPoolExecutor(2).run(_chunk_len, [[1], [2, 3], [4]])
    assert sorted(next(gen) + next(gen)) in ([1, 1], [1, 2])
    gen.close()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def _chunk_len(chunk, cache):
    return [len(chunk)]


def test_a_started_pool_warms_up_and_closes_without_a_run():
    ex = LocalPoolExecutor(2)
    ex.start(None, warm=tuple(_configs()[:1]))
    procs = list(ex._pool._processes.values())
    assert len(procs) == 2 and all(p.is_alive() for p in procs)
    ex.close()
    assert ex._pool is None and not any(p.is_alive() for p in procs)      # no worker left behind


def test_a_started_pool_gives_the_run_the_same_numbers(tmp_path):
    cfgs = _configs()
    one = run_sweep(_sweep(cfgs), out=tmp_path / "one", workers=1, progress=False, formats="csv")
    ex = LocalPoolExecutor(2)
    ex.start(None, warm=(cfgs[-1], {"workload": "no such network"}))     # a bad warm-up point changes nothing
    got = {k: json.loads(r) for part in ex.run(sweep_run.eval_chunk, [[(k, c)] for k, c in
                                                                        zip(one.sweep.keys, cfgs)]) for k, r in part}
    assert got == {k: json.loads(r) for k, r in sweep_run.eval_chunk(list(zip(one.sweep.keys, cfgs)))}


def _table_row_by_row(configs, results, keys):
    """The table as a row-by-row pass builds it (the code before the summaries were grouped): the reference."""
    import pandas as pd
    rows = []
    for c, k in zip(configs, keys):
        row = {"key": k, **{x: c.get(x) for x in sweep_run.CONFIG_KEYS}, "error": None}
        if row["mesh"] != A.AUTO:
            row["mesh"] = f"{row['mesh'][0]}x{row['mesh'][1]}"
        res = results.get(k)
        if res is None or "error" in res:
            row["error"] = "not computed" if res is None else res["error"]
        else:
            for sk, v in res["summary"].items():
                if sk in sweep_run.SAME_AS_CONFIG:
                    continue
                row[sweep_run.RENAMED_SUMMARY.get(sk, sk if sk not in row else f"{sk}_result")] = v
        rows.append(row)
    first = ["key", "workload", "device", "task"] + [x for x in sweep_run.ARCH_KEYS if x != "device"] + ["error"]
    cols = first + [c for c in dict.fromkeys(x for r in rows for x in r) if c not in first]
    return pd.DataFrame(rows, columns=cols)


def test_table_columns_and_cells_equal_a_row_by_row_pass():
    import pandas as pd
    cfgs = _configs() * 2
    cfgs = [dict(c, adc_bits=i) for i, c in enumerate(cfgs)]
    keys = [point_key(c) for c in cfgs]
    base = {"workload": "lenet5", "device": "sonos", "energy_J": 1.5, "tiles": 4, "mesh": "2x2", "rows": 9}
    results = {}
    for i, k in enumerate(keys):
        if i % 5 == 1:
            results[k] = {"error": f"point {k[:12]}: does not fit, mesh 1x1"}
        elif i % 5 == 2:
            continue                                                         # not computed
        elif i % 5 == 3:                                                     # another list of summary keys
            results[k] = {"summary": {"extra": i, **base, "energy_J": -0.0, "accuracy": float("nan")}}
        else:
            results[k] = {"summary": dict(base, energy_J=i * 0.1, tiles=i)}
    got = sweep_run.results_table(cfgs, results, keys)
    ref = _table_row_by_row(cfgs, results, keys)
    assert list(got.columns) == list(ref.columns)
    for c in got.columns:                          # cell by cell (the reference leaves dtypes to pandas)
        assert [None if pd.isna(v) else v for v in got[c].astype(object)] == \
               [None if pd.isna(v) else v for v in ref[c].astype(object)], c
    every = {k: {"summary": dict(base, energy_J=0.5)} for k in keys}       # every row in one group
    assert list(sweep_run.results_table(cfgs, every, keys)["tiles_total"]) == [4] * len(keys)
