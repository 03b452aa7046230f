"""Checking a sized design by Monte Carlo: accuracy or fidelity of one candidate, and of a search's candidates.

:mod:`archsim.explore.sizing` simulates every candidate of its Pareto front with :func:`check_design`
(the public :func:`archsim.sim.accuracy.simulate` on the candidate's own mapping) and never recommends
one below the floor.  What a candidate is scored on (trained accuracy, seeded fidelity or the layer
proxy's output SNR), the default floors and :func:`prepare` live in :mod:`archsim.explore.floors`, whose
names this module re-exports.

What the check depends on: the architecture keys the simulator reads.  Columns per ADC (time sharing
of one converter), the mesh and the tile budget (replicas hold the same weights) do not enter it, so
:func:`sim_key` drops them and one simulation serves every design that differs only in them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from archsim.explore.floors import (  # noqa: F401 (re-exported: what candidates are checked on)
    ACCURACY_CALIB, ACCURACY_SAMPLES, ACCURACY_TRIALS, COLUMNS, DEFAULT_ACCURACY_DROP, DEFAULT_MIN_AGREEMENT,
    FIDELITY_CALIB, FIDELITY_MACS, FIDELITY_SAMPLES_MAX, FIDELITY_SAMPLES_MIN, FIDELITY_TRIALS, METHODS, REDUCE_ABOVE,
    REDUCED_HW, CheckData, CheckSpec, prepare, uses_layer_proxy)
from archsim.explore.seeded import reduced_input, seeded_inputs, seeded_weights  # noqa: F401 (re-exported)
from archsim.mapping.layout import map_workload
from archsim.model import arch as _arch
from archsim.model.errors import ParameterError
from archsim.model.workload import Workload

#: memory of one simulated chip per weight and bit slice, measured: VGG-16 (138 M weights) on 1024 x 1024
#: arrays with 7 bits per cell (one slice) peaked at 14.8 GB resident (``/usr/bin/time -v``): 107 bytes
BYTES_PER_WEIGHT_SLICE = 110
#: the ``floor`` of a candidate whose simulated chip would not fit the memory available (never recommended)
TOO_LARGE = "too large to simulate"
#: architecture keys the simulation does not read (each key's ``steps`` in archsim/model/arch.py: sharing an
#: ADC is time multiplexing, replicas hold the same weights, clocks, buffers and nodes are priced, not
#: simulated); :func:`sim_key` drops them
NOT_SIMULATED_KEYS = tuple(k.name for k in _arch.KEYS if "simulator" not in k.steps)


def sim_key(config: dict) -> tuple:
    """What the simulation of ``config`` depends on: every key but :data:`NOT_SIMULATED_KEYS`."""
    return tuple(sorted((k, repr(v)) for k, v in config.items() if k not in NOT_SIMULATED_KEYS))


def chip_bytes(wl: Workload, config: dict) -> float:
    """About the memory one simulated chip of ``config`` takes: :data:`BYTES_PER_WEIGHT_SLICE` per weight
    and bit slice (the weight's magnitude bits over the bits per cell)."""
    a = _arch.Architecture(**{k: config[k] for k in _arch.KEY_BY_NAME if k in config})
    bpc = [a.bits_per_cell] + [d["bits_per_cell"] for _, d in ((n, dict(o)) for n, o in a.layer_overrides)
                               if "bits_per_cell" in d]   # the layer with the fewest bits per cell, as if all
    slices = -(-a.magnitude_bits // int(min(b for b in bpc if isinstance(b, int)))) \
        if any(isinstance(b, int) for b in bpc) else a.magnitude_bits
    return float(BYTES_PER_WEIGHT_SLICE) * wl.total_weights * slices


def available_bytes() -> float | None:
    """Memory available now (Linux ``MemAvailable``); None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_guard(data: CheckData, config: dict) -> None:
    """Fail in one line, before simulating, when one chip of ``config`` would not fit the memory available."""
    need, have = chip_bytes(data.workload, config), available_bytes()
    if have is not None and need > have and data.proxy is None:
        raise ParameterError(f"the floor check: simulating {data.workload.name} ({data.workload.total_weights / 1e6:.0f} M "
                             f"weights) on {config['rows']}x{config['cols']} arrays, {config['bits_per_cell']} bits/cell "
                             f"needs about {need / 1e9:.1f} GB ({BYTES_PER_WEIGHT_SLICE} bytes per weight and bit slice, "
                             f"measured), {have / 1e9:.1f} GB available; free memory, or turn the simulation off "
                             f"({{param}}: accuracy then not checked)", "check")


def check_design(data: CheckData, config: dict, cache=None) -> dict:
    """Simulate one design (``config``: a sizing point's flat configuration) on ``data``: the figure, its
    95% interval, the relative logit error and whether it meets the floor.  ``cache``: an
    :class:`archsim.explore.simcache.ArrayCache` shared by the designs of one search (the same numbers,
    fewer arrays programmed and layers computed)."""
    from archsim.sim.accuracy import simulate
    ov = {n: {k: v for k, v in d.items() if k != "replication"} for n, d in config.get("layer_overrides", {}).items()}
    a = _arch.Architecture(**{k: config[k] for k in _arch.KEY_BY_NAME if k in config and k != "layer_overrides"},
                           layer_overrides={n: d for n, d in ov.items() if d})   # replicas: the same weights
    if data.proxy is not None:
        from archsim.explore import layer_proxy
        return layer_proxy.check(data.proxy, a, None, data.sim, data.floor, cache.chip() if cache is not None else None)
    m = map_workload(data.workload, a.replace(replicate=False, mesh=_arch.AUTO, tiles=_arch.AUTO))
    r = simulate(m, data.x, data.y, x_cal=data.x_cal, calibration="separate", trials=data.trials,
                 seed=data.seed, cfg=data.sim, layer_sample=1, chip=cache.chip() if cache is not None else None,
                 exact=data.exact)
    lo, hi = r.ci95
    return {data.column: r.mean, f"{data.column}_ci95_low": lo, f"{data.column}_ci95_high": hi,
            "logit_error": float(np.mean(r.logit_error)), "floor": "pass" if r.mean >= data.floor else "below floor"}


# ---------------------------------------------------------------------------------------------------------------------
# checking the candidates of a search

@dataclass
class CheckRun:
    """What a search's check did: simulations run, designs scored, rounds, designs below the floor."""
    data: CheckData
    candidates: int = 0      # designs meeting every constraint
    simulations: int = 0
    scored: int = 0
    rounds: int = 0
    below: int = 0
    seconds: float = 0.0
    too_large: int = 0       # designs whose chip would not fit the memory available: not simulated, not kept
    first: bool = False      # checked in order of the objective until the first design at the floor
    screened: int = 0        # designs not simulated: a kinder design was below the floor (``_first_at_floor``)
    probes: int = 0          # kinder designs simulated ahead of the order to screen others


def check_candidates(df, candidates: np.ndarray, configs: dict, data: CheckData, senses_cols: list,
                     every_design: bool = False, progress: bool = False, first: bool = False,
                     cache=None) -> CheckRun:
    """Score the candidates of a sizing table ``df`` in place (columns ``data.column``, its 95% interval,
    ``logit_error`` and ``floor``: pass, below floor or not simulated).

    ``candidates``: the rows meeting every constraint.  Each round takes the Pareto front (over
    ``senses_cols``: ``[(column, sense), ...]``) of the candidates not yet found below the floor and
    simulates its members not yet simulated; it ends when the whole front has been simulated and meets
    the floor, so the front finally shown, and the recommended design on it, are all checked.
    ``every_design``: simulate every candidate at once instead.  ``first``: only the best design at the
    floor is wanted (``compare --best``, ``size --per-layer``): the candidates are simulated one at a time in
    order of ``senses_cols`` (the first column first, ties by the next) and the check stops at the first that
    meets the floor; every design before it was simulated and found below it, so none better on that order
    is left unchecked.  Designs sharing a :func:`sim_key` share one simulation; ``cache``
    (:class:`archsim.explore.simcache.ArrayCache`) shares programmed arrays between them."""
    import time
    from archsim.report.pareto import pareto_mask
    col = data.column
    for c in (col, f"{col}_ci95_low", f"{col}_ci95_high", "logit_error"):
        df[c] = np.nan
    df["floor"] = "not simulated"
    df["metric"] = data.metric          # what the figure is: accuracy, or fidelity (agreement, logit error)
    run, done, t0 = CheckRun(data, int(np.sum(candidates)), first=first), {}, time.perf_counter()
    keys = df["key"].tolist()
    cols = [c for c, _ in senses_cols]
    senses = [s for _, s in senses_cols]
    have = available_bytes() if data.proxy is None else None    # the proxy programs one layer sample at a time

    def score(i) -> dict:
        k = sim_key(configs[keys[i]])
        if k not in done and have is not None and chip_bytes(data.workload, configs[keys[i]]) > have:
            done[k] = {"floor": TOO_LARGE}    # never recommended, and the front is taken again without it
            run.too_large += 1
        if k not in done:
            if progress:
                print(f"checking {_design_text(configs[keys[i]])} ({data.metric})", file=sys.stderr, flush=True)
            done[k] = check_design(data, configs[keys[i]], cache)
            run.simulations += 1
            if progress:
                r = done[k]
                print(f"  {data.column} {r[data.column]:.3f} (95% interval {r[f'{data.column}_ci95_low']:.3f} to "
                      f"{r[f'{data.column}_ci95_high']:.3f}): {r['floor']}", file=sys.stderr, flush=True)
        for c, v in done[k].items():
            if c not in df:             # a figure only this check gives (the layer proxy's layers measured)
                df[c] = np.nan
            df.iat[i, df.columns.get_loc(c)] = v
        run.scored += 1
        return done[k]

    if first:
        pos = np.flatnonzero(candidates)
        if len(pos):
            x = [df[c].to_numpy(dtype=float)[pos] * (1 if s == "min" else -1) for c, s in senses_cols]
            run.rounds = 1
            _first_at_floor(df, list(pos[np.lexsort(tuple(reversed(x)))]), [configs[k] for k in keys], score, run)
        run.below = int((df["floor"] == "below floor").sum())
        run.seconds = time.perf_counter() - t0
        return run
    while True:
        open_ = candidates & ~df["floor"].isin(("below floor", TOO_LARGE, SCREENED)).to_numpy()
        if every_design:
            want = open_
        else:
            want = np.zeros(len(df), dtype=bool)
            if open_.any():
                want[np.flatnonzero(open_)] = pareto_mask(df.loc[open_, cols].to_numpy(dtype=float), senses)
        todo = np.flatnonzero(want & (df["floor"] == "not simulated").to_numpy())
        if not len(todo):
            break
        run.rounds += 1
        for i in todo:
            score(i)
    run.below = int((df["floor"] == "below floor").sum())
    run.seconds = time.perf_counter() - t0
    return run


#: the keys along which a design is less favourable to accuracy: more rows summed on one column, more bits
#: per cell (closer levels), fewer ADC bits (coarser conversion); ``_favour`` orders them so smaller is kinder
MONOTONE_KEYS = ("rows", "cols", "bits_per_cell", "adc_bits")
#: the ``floor`` of a design not simulated because a kinder design was found below the floor
SCREENED = "screened out"
#: a probe is simulated ahead of the order only where its failure would screen out this many designs or more
PROBE_MIN_SCREENED = 2


def _favour(c: dict) -> tuple:
    return (c["rows"], c["cols"], c["bits_per_cell"], -c["adc_bits"])


def _kinder(a: tuple, b: tuple) -> bool:
    """Whether a design of ``_favour`` ``a`` is at least as favourable to accuracy as one of ``b``, key by key."""
    return all(u <= v for u, v in zip(a, b))


def _first_at_floor(df, order: list, configs: list, score, run: CheckRun) -> None:
    """The ordered check with screening: simulate the designs in ``order`` until one meets the floor.

    A design is **screened out** (not simulated, never recommended) when another with the same keys but at
    most its rows, columns and bits per cell and at least its ADC bits was simulated **clearly** below the
    floor, its whole 95% interval under it: the simulated figure tends to fall with each of those (more rows
    summed per conversion, closer conductance levels, a coarser converter), so the kinder design's failure
    predicts its own.  A failure inside the interval screens nothing: on a 256-256-256-10 network a 128-row
    design at 0.78 +- 0.10 was below a 0.8 floor that the 256-row design with the same cells met.  To use that, before simulating a
    design the check may first simulate a **probe**, a pending design with the same ADC bits that is kinder
    than it, the one whose failure would screen out the most designs per weight slice it simulates, where that
    is at least :data:`PROBE_MIN_SCREENED` designs.
    Screening only ever removes designs, so the design returned was simulated and met the floor; what it
    may cost is a cheaper design that would have passed against the trend (counted in the notes)."""
    floor = df.columns.get_loc("floor")
    col, floor_value = run.data.column, run.data.floor
    rids: dict = {}
    rest = np.array([rids.setdefault(tuple((k, v) for k, v in sim_key(c) if k not in MONOTONE_KEYS), len(rids))
                     for c in configs])
    fav = np.array([_favour(c) for c in configs], dtype=float)
    failed: list = []

    def screened(i) -> bool:
        return any(r == rest[i] and _kinder(f, fav[i]) for r, f in failed)

    def run_one(i) -> str:
        r = score(i)
        if r["floor"] == "below floor" and r[f"{col}_ci95_high"] < floor_value:
            failed.append((rest[i], fav[i]))      # clearly below: its whole 95% interval is
            return "clearly below"
        return r["floor"]

    idx = np.asarray(order)
    for i in order:
        st = df.iat[i, floor]
        if st == "pass":
            return                  # a probe simulated earlier, now first in the order
        if st != "not simulated":
            continue
        if screened(i):
            df.iat[i, floor] = SCREENED
            run.screened += 1
            continue
        open_ = idx[(df["floor"].to_numpy()[idx] == "not simulated") & (rest[idx] == rest[i])]
        F = fav[open_]
        kinder = open_[(F <= fav[i]).all(axis=1) & (F[:, 3] == fav[i][3]) & (open_ != i)]
        if len(kinder):
            ufav, UF = np.unique(fav[kinder], axis=0), np.unique(F, axis=0)   # one per simulation (sim_key)
            power = np.array([int((UF >= u).all(axis=1).sum()) - 1 for u in ufav])
            firsts = [int(kinder[np.flatnonzero((fav[kinder] == u).all(axis=1))[0]]) for u in ufav]
            # designs screened per unit of simulation work (a chip's cells: weight slices)
            best = int(np.argmax(power / np.array([chip_bytes(run.data.workload, configs[j]) for j in firsts])))
            if power[best] >= PROBE_MIN_SCREENED:
                p = firsts[best]
                run.probes += 1
                if run_one(p) == "clearly below" and screened(i):
                    df.iat[i, floor] = SCREENED
                    run.screened += 1
                    continue
        if run_one(i) == "pass":
            return


def _design_text(c: dict) -> str:
    return f"{c['rows']}x{c['cols']} arrays, {c['bits_per_cell']} bits/cell, {c['adc_bits']}-bit ADC"
