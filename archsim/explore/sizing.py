"""Sizing tile arrays for a workload: search, Pareto front, recommended design, binding constraint.

``archsim size --workload vgg16 --device sonos --min-fps 1000 --max-area-mm2 100`` searches

* array size, rows = cols, in {64, 128, 256, 512, 1024};
* bits per cell from 1 to what the device holds reliably (its file's ``conductance.bits_per_cell_max``)
  and the weight needs;
* ADC resolution in {4, 6, 8, 10} bits and columns per ADC in {1, 4, 16, 64} (at most the columns);
* the tile budget: the most square mesh holding the minimal tile count of the mapping, and 2x and 4x that
  count (spare tiles hold copies of the slowest layers, so a larger budget buys throughput with area),

every other architecture key fixed (defaults, ``--arch``, ``--preset``, ``--set``).  Each design is a sweep
point (:mod:`archsim.explore.points`), evaluated on the same executors (:func:`archsim.explore.run.run_points`).
Objectives: energy per inference (min), area (min), inferences per second (max) and, when an accuracy model
is plugged in, accuracy (max).

Accuracy is checked by Monte Carlo (:mod:`archsim.explore.fidelity`): by default every design of the front
is simulated, accuracy for a network with trained weights, fidelity (top-1 agreement with the float network
and relative logit error, on seeded weights and inputs) for the others, and a design below the floor is
marked and never recommended; the front is then taken again without it, until every design on it is checked
(``check=None``: no simulation, and the result says accuracy was not checked).  A plugged-in
``accuracy_fn(config) -> float | None`` (``config``: the point's flat configuration dict) instead scores every
design and joins the objectives (:func:`default_accuracy_fn`: the project's Monte Carlo model).  The front
is that of the designs meeting every constraint and the floor; the recommended design is the best of them
on one objective (``--objective``, least energy by default), ties broken by the others.  The objectives and
constraints themselves (:class:`Constraints`, :func:`num`, ...) are in :mod:`archsim.explore.objectives`.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from archsim.explore import fidelity as _fid
from archsim.explore.objectives import (CONSTRAINT_BY_NAME, CONSTRAINTS, OBJECTIVES,  # noqa: F401  (sizing's API)
                                       Constraint, Constraints, fill, num, satisfies)
from archsim.explore.encodings import ENCODINGS, encoded, encoding_name, encoding_of  # noqa: F401  (sizing's API)
from archsim.explore.points import EvalCache, config_from_arch, canonical_workload, point_key
from archsim.explore.run import results_table, run_points
from archsim.mapping import layout as _m
from archsim.mapping.layout import resolve_bits_per_cell
from archsim.model import arch as _arch
from archsim.io import load
from archsim.model.errors import ArchsimError, ParameterError, naming
from archsim.report.pareto import pareto_mask


def default_accuracy_fn() -> Callable[[dict], float | None]:
    """The project's accuracy model for sizing: a picklable module-level ``f(config) -> float | None``
    (``config``: workload, task and every architecture key) giving the network's mean accuracy by Monte
    Carlo over programmed chips, or None for a network without trained weights."""
    from archsim.explore.sizing_sim import sizing_accuracy
    return sizing_accuracy


@dataclass(frozen=True)
class SearchSpace:
    rows: tuple = (64, 128, 256, 512, 1024)
    bits_per_cell: tuple | None = None   # None: 1 .. what the device holds
    adc_bits: tuple = (4, 6, 8, 10)
    cols_per_adc: tuple = (1, 4, 16, 64)
    budgets: tuple = (1, 2, 4)           # multiples of the minimal tile count
    #: signed-weight encodings (names of :data:`ENCODINGS`); None: the base architecture's mapping and readout
    encodings: tuple | None = None


# ---------------------------------------------------------------------------------------------------------------------
# the search

def design_points(workload: str, base: _arch.Architecture, space: SearchSpace = SearchSpace(),
                  task: str = "inference", cache: EvalCache | None = None) -> tuple[list[dict], dict[str, int]]:
    """(configurations, {key: budget multiple}) of the search space around ``base``; ``cache`` (default: a
    new one) holds the workload built for the search, to share with the run that evaluates the points."""
    cache = cache if cache is not None else EvalCache()
    wl = cache.workload(canonical_workload(workload))
    dev = load.device(base.device)
    top = max_bits_per_cell(base, dev)
    bpcs = tuple(range(1, top + 1)) if space.bits_per_cell is None else tuple(space.bits_per_cell)
    encs = [e for e in (encoded(base, dev, n, max_bits_per_cell) for n in (space.encodings or (None,))) if e is not None]
    for b in bpcs:
        if b < 1 or b > top:
            raise ParameterError(f"{{param}} {b}: device '{base.device}' with {base.weight_bits}-bit weights "
                                 f"({base.mapping} mapping) allows 1 to {top} (what the device holds reliably: "
                                 f"conductance.bits_per_cell_max = {dev.reliable_bits} in {dev.file})", "bits_per_cell")
    for key, vals in (("rows", space.rows), ("adc_bits", space.adc_bits), ("cols_per_adc", space.cols_per_adc)):
        for v in vals:
            with naming(key):            # "{param}: key 'rows' = 3 is not allowed; ..."
                _arch._check(_arch.KEY_BY_NAME[key], v, ParameterError.MARK)
    for m in space.budgets:
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ParameterError(f"{{param}} {m!r}: allowed whole multiples of 1 or more", "budgets")
    for key, vals in (("rows", space.rows), ("bits_per_cell", bpcs), ("adc_bits", space.adc_bits),
                      ("cols_per_adc", space.cols_per_adc), ("budgets", space.budgets),
                      ("encodings", space.encodings or ())):
        twice = [v for i, v in enumerate(vals) if v in vals[:i]]
        if twice:   # a repeated value would search the same designs again and count them twice
            raise ParameterError(f"{{param}} {twice[0]}: given twice; allowed each value once", key)
    for cpa in space.cols_per_adc:     # a value no array size can take would be dropped silently: blame it
        if cpa > max(space.rows):
            raise ParameterError(f"{{param}} {cpa} exceeds every {{param}} value (largest {max(space.rows)}): columns "
                                 f"per ADC must be at most the array's columns (rows = cols here); allowed "
                                 f"{{param}} 1 to {max(space.rows)}, or add a larger {{param}}", "cols_per_adc", "rows",
                                 "cols_per_adc", "rows")
    configs, budget = [], {}
    own = [(a, b) for a, allowed in encs for b in allowed if space.bits_per_cell is None or b in bpcs]
    for rows, (enc, b) in itertools.product(space.rows, own):
        try:
            gain = {"pair_gain": float(1 << b), "lsp_range": 1.0} if enc.pairs and space.encodings else {}
            a0 = enc.replace(rows=rows, cols=rows, bits_per_cell=b, mesh=_arch.AUTO, tiles=_arch.AUTO,
                             cols_per_adc=min(base.cols_per_adc, rows), **gain)
            min_tiles = tiles_needed(wl, a0, dev)
        except ArchsimError:
            continue  # this array size / bits per cell cannot hold the network at all: no design here
        for mult, adc, cpa in itertools.product(space.budgets, space.adc_bits, space.cols_per_adc):
            if cpa > rows:
                continue
            cfg = config_from_arch(workload, a0, task)
            cfg.update(adc_bits=adc, cols_per_adc=cpa, mesh=list(square_mesh(mult * min_tiles)))
            configs.append(cfg)
            budget[point_key(cfg)] = mult
    if not configs:
        raise ArchsimError(f"size: no design in the search space holds {workload} "
                           f"(rows {list(space.rows)}, bits per cell {list(bpcs)})")
    return configs, budget


def max_bits_per_cell(base: _arch.Architecture, dev) -> int:
    """The most bits per cell the device holds reliably (``conductance.bits_per_cell_max``) and the weight can
    use (what the mapping accepts)."""
    mag = min(base.magnitude_bits, dev.reliable_bits)
    top = 1
    for b in range(1, mag + 1):
        try:
            resolve_bits_per_cell(base.replace(bits_per_cell=b), dev)
        except ArchsimError:
            break
        top = b
    return top


def tiles_needed(wl, a: _arch.Architecture, dev=None) -> int:
    """Tiles the mapping of ``wl`` needs without replication (no placement: cheap for any size)."""
    bpc = resolve_bits_per_cell(a, dev or load.device(a.device))
    return sum(_m._tiles_for(_m._base_layer_map(l, a, bpc), 1, a) for l in wl.weighted_layers())


def square_mesh(tiles: int) -> tuple[int, int]:
    """The most square mesh holding ``tiles``: ``r = ceil(sqrt(tiles))`` rows of ``ceil(tiles / r)``."""
    r = max(1, math.isqrt(tiles - 1) + 1) if tiles > 1 else 1
    return r, -(-tiles // r)


@dataclass
class SizingResult:
    workload: str
    device: str
    table: pd.DataFrame          # every design: configuration, metrics, budget, feasible, pareto, recommended
    objectives: list[str]        # columns of the front
    objective: str
    constraints: list[tuple[Constraint, float]]
    recommended: pd.Series | None
    binding: list[str]
    message: str                 # the recommendation, or why nothing fits
    space_text: str
    accuracy_available: bool
    failed: int = 0
    notes: list[str] = field(default_factory=list)
    check: _fid.CheckRun | None = None     # what the accuracy / fidelity check did (None: not simulated)

    @property
    def front(self) -> pd.DataFrame:
        return self.table[self.table["pareto"]].sort_values(_col(self.objective, self.table),
                                                            ascending=OBJECTIVES[self.objective][1] == "min")


def _best_index(df: pd.DataFrame, mask: np.ndarray, objective: str, order: Sequence[str]) -> int | None:
    """Index label of the best row among ``mask`` on ``objective``, ties broken by the others in ``order``."""
    if not mask.any():
        return None
    sub = df[mask]
    keys = []
    for name in [objective] + [o for o in order if o != objective]:
        _, sense, _ = OBJECTIVES[name]
        col = _col(name, sub)
        if col not in sub:
            continue
        x = sub[col].to_numpy(dtype=float)
        x = np.where(np.isnan(x), np.inf if sense == "min" else -np.inf, x)
        keys.append(x if sense == "min" else -x)
    pos = np.lexsort(tuple(reversed(keys)))[0]
    return sub.index[pos]


def size(workload: str, base: _arch.Architecture | None = None, constraints: Constraints = Constraints(),
         space: SearchSpace = SearchSpace(), objective: str = "energy",
         accuracy_fn: Callable[[dict], float | None] | None = None, workers: int | None = None,
         scheduler=None, progress: bool = False, task: str = "inference",
         check: _fid.CheckSpec | None = _fid.CheckSpec(), first: bool = False, arrays=None) -> SizingResult:
    """Search the design space, keep the designs meeting ``constraints``, check the front's accuracy (or
    fidelity) against the floor (``check``; None: not simulated), return the Pareto front of what remains,
    the best of it on ``objective`` and which constraint binds (or why none fits).

    ``first``: only the best design at the floor is wanted (``compare --best``, ``size --per-layer``):
    the designs meeting the constraints are simulated in order of ``objective`` until the first meets the
    floor (:func:`archsim.explore.fidelity.check_candidates`), so the front shown holds the designs found at
    the floor, not a checked front.  ``arrays``: an :class:`archsim.explore.simcache.ArrayCache` for the
    simulations (default: a new one for this search)."""
    base = base or _arch.Architecture()
    if objective not in OBJECTIVES:
        raise ParameterError(f"{{param}} {objective!r}: allowed {', '.join(OBJECTIVES)}", "objective")
    active = constraints.active()
    wants = constraints.min_accuracy is not None or objective == "accuracy"
    if accuracy_fn is None and check is None and wants:
        what = "min_accuracy" if constraints.min_accuracy is not None else "objective"
        raise ParameterError("{param}: accuracy is not simulated (simulation off: {param}); drop one of them",
                             what, "check")
    data = None
    if accuracy_fn is None and check is not None:
        # the floor replaces an accuracy constraint; an accuracy objective needs every feasible design scored
        check = dataclasses.replace(check, min_accuracy=constraints.min_accuracy if constraints.min_accuracy
                                    is not None else check.min_accuracy,
                                    every_design=check.every_design or objective == "accuracy")
        active = [(c, v) for c, v in active if c.name != "min_accuracy"]
        data = _fid.prepare(workload, check, base)    # before the search: bad options fail at once
    cache = EvalCache()
    configs, budget = design_points(workload, base, space, task, cache)
    if data is not None:   # no design's chip fits the memory: say so before the search, not after it
        _fid.memory_guard(data, min(configs, key=lambda c: _fid.chip_bytes(data.workload, c)))
    results = run_points(configs, workers=workers, scheduler=scheduler, accuracy_fn=accuracy_fn,
                         progress=progress, desc=f"size {workload}", cache=cache)
    df = results_table(configs, results)
    df.insert(df.columns.get_loc("mesh") + 1, "budget", [f"{budget[k]}x" for k in df["key"]])
    if "accuracy" not in df and data is None:
        df["accuracy"] = np.nan
    ok = df["error"].isna().to_numpy()
    failed = int((~ok).sum())
    if accuracy_fn is not None:
        acc_avail = bool(np.isfinite(df["accuracy"].to_numpy(dtype=float)).any())
        if not acc_avail and wants:
            what = "min_accuracy" if constraints.min_accuracy is not None else "objective"
            import workloads as W
            raise ParameterError(f"{{param}}: workload {workload} has no trained weights, so its accuracy is not "
                                 f"simulated (networks with weights: {', '.join(W.trained())})", what)
    else:
        acc_avail = data is not None and check.every_design
    objectives = ["energy", "area", "fps"] + (["accuracy"] if acc_avail else [])

    feasible = ok.copy()
    for c, v in active:
        feasible &= satisfies(df, c, v)
    run = None
    if data is not None:
        order = [objective] + [o for o in ("energy", "area", "fps") if o != objective]
        base_objs = [(OBJECTIVES[o][0], OBJECTIVES[o][1]) for o in order if o != "accuracy"]
        if first and (check.every_design or objective == "accuracy"):
            raise ArchsimError("size: checking in order until the first design at the floor needs an objective "
                               "other than accuracy and not every design checked")
        from archsim.explore.simcache import ArrayCache
        run = _fid.check_candidates(df, feasible.copy(), dict(zip(df["key"], configs)), data,
                                    base_objs, every_design=check.every_design, progress=progress, first=first,
                                    cache=arrays if arrays is not None else ArrayCache())
        within = feasible.copy()
        feasible &= (df["floor"] == "pass").to_numpy()
    df["feasible"] = feasible
    pareto = np.zeros(len(df), dtype=bool)
    if feasible.any():
        cols = [_col(o, df) for o in objectives]
        pareto[np.flatnonzero(feasible)] = pareto_mask(df.loc[feasible, cols].to_numpy(dtype=float),
                                                       [OBJECTIVES[o][1] for o in objectives])
    df["pareto"] = pareto
    rec_idx = _best_index(df, feasible, objective, objectives)
    df["recommended"] = df.index == rec_idx if rec_idx is not None else False

    dev_name = str(df["device"].iloc[0])
    space_text = _space_text(workload, dev_name, configs, space, budget)
    binding: list[str] = []
    phrase = OBJECTIVES[objective][2]
    if rec_idx is None:
        if run is not None and within.any():
            message = _fid_nothing_fits(df, within, data, run)
        else:
            message = _why_nothing_fits(df, ok, active) if ok.any() else (
                f"none of the {len(df)} designs could be built; first error: {df['error'].dropna().iloc[0]}")
        rec = None
    else:
        rec = df.loc[rec_idx]
        among = (f"the {int(feasible.sum())} feasible designs" if run is None else
                 f"the {int(feasible.sum())} designs simulated at or above the floor")
        message = f"recommended ({phrase} among {among}): {_describe(rec)}"
        binding = _binding(df, ok, active, objective, objectives, rec)
        if run is not None:
            binding += _floor_binds(df, within, data, objective, rec)
    notes = _check_notes(run, accuracy_fn, acc_avail)
    return SizingResult(str(df["workload"].iloc[0]), dev_name, df, objectives, objective, active, rec, binding,
                        message, space_text, acc_avail, failed, notes, run)


def _col(objective: str, df: pd.DataFrame) -> str:
    """The table column of an objective: accuracy is ``agreement`` for a network checked by fidelity."""
    if objective == "accuracy" and "accuracy" not in df and "agreement" in df:
        return "agreement"
    return OBJECTIVES[objective][0]


def _check_notes(run, accuracy_fn, acc_avail: bool) -> list[str]:
    if run is None and accuracy_fn is None:
        return ["accuracy: NOT CHECKED (--no-simulate): the recommended design may lose accuracy or fidelity "
                "unseen; the front is over energy, area and throughput only"]
    if run is None:
        return [] if acc_avail else ["accuracy: not simulated (the network has no trained weights); the front is "
                                     "over energy, area and throughput"]
    d = run.data
    what = "every feasible design" if d is not None and run.scored and acc_avail else "every design of the front"
    how = (f"checked in order of the objective, one design at a time, until the first met the floor (every design "
           f"better on the objective was simulated and found below it, screened out or too large to simulate): "
           f"{run.scored} designs scored " if run.first
           else f"checked {what}, round by round until the whole front meets the floor: {run.scored} designs scored ")
    return [f"{d.metric}: {d.source}",
            f"floor: {d.floor_text}; a design whose mean is below it is never recommended",
            how +
            f"by {run.simulations} simulations in {run.rounds} round(s), {run.seconds:.0f} s (designs differing "
            f"only in columns per ADC or tile budget share one); {run.below} below the floor"
            + (f"; {run.too_large} design(s) whose chip would not fit the memory available were not simulated and "
               f"not kept" if run.too_large else "")
            + (f"; {run.screened} design(s) screened out unsimulated (never recommended): a design with the same keys "
               f"but at most their rows and bits per cell and at least their ADC bits was simulated clearly below the floor "
               f"(its 95% interval under it) "
               f"({run.probes} such kinder design(s) simulated ahead of the order to screen others)"
               if run.screened or run.probes else ""),
            f"{d.metric} interval: 95%, chip-to-chip (t over chips) and image sampling (binomial) combined"
            + ("; logit error: ||z_analog - z_float|| / ||z_float|| over the scored inputs" if d.metric == "fidelity"
               else "")]


def _floor_binds(df, within, data, objective, rec) -> list[str]:
    """Whether the floor excluded designs better on ``objective`` than the recommended one."""
    col, sense, phrase = OBJECTIVES[objective]
    if objective == "accuracy":
        return []
    below = within & (df["floor"] == "below floor").to_numpy()
    x = df[col].to_numpy(dtype=float)
    better = below & ((x < float(rec[col])) if sense == "min" else (x > float(rec[col])))
    if not better.any():
        return [f"the {data.metric} floor does not bind: no design better on this objective was below it"]
    j = df.index[np.flatnonzero(better)[np.argmin(x[better]) if sense == "min" else np.argmax(x[better])]]
    r = df.loc[j]
    return [f"the {data.metric} floor binds: {int(better.sum())} design(s) with {phrase.replace('least', 'less').replace('most', 'more').replace('smallest', 'smaller')} fell below it, the best "
            f"{_obj_text(objective, r)} with {_metric_text(r, data)}: {_describe(r)}"]


def _metric_text(r: pd.Series, data) -> str:
    c = data.column
    from archsim.sim.accuracy import format_ci
    t = f"{data.column} {format_ci(r[c], r[f'{c}_ci95_low'], r[f'{c}_ci95_high'])}"
    return t + (f", logit error {r['logit_error']:.3g}" if data.metric == "fidelity" else "")


def _fid_nothing_fits(df, within, data, run) -> str:
    c = data.column
    x = np.where(within, df[c].to_numpy(dtype=float), np.nan)
    n = int(within.sum())
    if np.all(np.isnan(x)):
        return f"no design meets the floor ({data.floor_text})"
    r = df.iloc[int(np.nanargmax(x))]
    how = "in order of the objective" if run.first else "the front, round by round"
    return (f"no design meets the floor ({data.floor_text}) within the constraints: {run.scored} of the {n} designs "
            f"meeting them were checked ({how}, until none was left) and the best reaches "
            f"{_metric_text(r, data)}: {_describe(r)}")


def _space_text(workload, device, configs, space, budget) -> str:
    rows = sorted({c["rows"] for c in configs})
    bpc = sorted({c["bits_per_cell"] for c in configs})
    adc = sorted({c["adc_bits"] for c in configs})
    cpa = sorted({c["cols_per_adc"] for c in configs})
    mult = sorted(set(budget.values()))
    enc = sorted({encoding_name(c) for c in configs})
    encs = f"; signed weights {_lst(enc)}" if space.encodings else ""
    return (f"{workload} on {device}: {len(configs)} designs searched (rows = cols {_lst(rows)}; bits/cell {_lst(bpc)}; "
            f"ADC bits {_lst(adc)}; columns per ADC {_lst(cpa)}{encs}; tile budget {', '.join(f'{m}x' for m in mult)} "
            f"the minimal tile count)")



def _lst(v) -> str:
    return ", ".join(map(str, v))


def _describe(r: pd.Series) -> str:
    acc_t = ""
    for c in ("accuracy", "agreement"):
        v = r.get(c)
        if v is not None and np.isfinite(v):
            lo, hi = r.get(f"{c}_ci95_low"), r.get(f"{c}_ci95_high")
            acc_t = f", {c} {v:.4g}" + (f" (95% interval {lo:.3g} to {hi:.3g})" if lo is not None and np.isfinite(lo)
                                         else "")
    enc = encoding_of(r)
    enc = "" if enc == "differential" else f"{enc} weights, "
    return (f"{r['rows']}x{r['cols']} arrays, {enc}{r['bits_per_cell']} bits/cell, {r['adc_bits']}-bit ADC, "
            f"{r['cols_per_adc']} columns/ADC, {r['mesh']} mesh ({r['budget']} the minimal tiles): "
            f"{num(r['energy_per_inference_J'] * 1e6)} uJ/inference, {num(r['area_mm2'])} mm2, "
            f"{num(r['inferences_per_s'])} inferences/s, {num(r['tops_per_W'])} TOPS/W{acc_t}")


def _value(c: Constraint, r: pd.Series) -> float:
    return float(r[c.column]) * c.scale


def _binding(df, ok, active, objective, objectives, rec) -> list[str]:
    if not active:
        return ["no constraints given"]
    _, sense, phrase = OBJECTIVES[objective]
    col = _col(objective, df)
    out = []
    known_bad = (df["floor"] == "below floor").to_numpy() if "floor" in df else np.zeros(len(df), dtype=bool)
    for c, v in active:
        mask = ok & ~known_bad      # a design found below the floor is no alternative
        for d, w in active:
            if d is not c:
                mask &= satisfies(df, d, w)
        j = _best_index(df, mask, objective, objectives)
        if j is None:
            continue
        better = df.loc[j, col] < rec[col] if sense == "min" else df.loc[j, col] > rec[col]
        if better:
            alt = df.loc[j]
            gain = abs(float(alt[col]) / float(rec[col]) - 1.0) * 100 if rec[col] else float("inf")
            out.append(f"{c.flag} {num(v)} binds: without it the {phrase} would be {_obj_text(objective, alt)}, "
                       f"{gain:.3g}% {'less' if sense == 'min' else 'more'} (at {fill(c.at, x=_value(c, alt))}"
                       + ("; its accuracy not simulated" if alt.get("floor") == "not simulated" else "") + ")")
    if not out:
        out.append("no constraint binds: the best design of the whole search on this objective meets them all")
    return out


def _obj_text(objective: str, r: pd.Series) -> str:
    if objective == "energy":
        return f"{num(r['energy_per_inference_J'] * 1e6)} uJ"
    if objective == "area":
        return f"{num(r['area_mm2'])} mm2"
    if objective == "fps":
        return f"{num(r['inferences_per_s'])} inferences/s"
    return num(r["accuracy"] if "accuracy" in r else r["agreement"])


def _why_nothing_fits(df, ok, active) -> str:
    """Name the smallest set of constraints no design meets together, and how close the search comes."""
    n = int(ok.sum())
    sat = {c.name: satisfies(df, c, v) & ok for c, v in active}
    for k in range(1, len(active) + 1):
        for subset in itertools.combinations(active, k):
            both = ok.copy()
            for c, _ in subset:
                both &= sat[c.name]
            if both.any():
                continue
            (t, tv), others = subset[0], subset[1:]
            within = " and ".join(fill(c.within, v=v) for c, v in others)
            mask = ok.copy()
            for c, _ in others:
                mask &= sat[c.name]
            x = df[t.column].to_numpy(dtype=float) * t.scale
            x = np.where(mask & np.isfinite(x), x, np.nan)
            if np.all(np.isnan(x)):
                return f"no design {fill(t.goal, v=tv)}" + (f" {within}" if within else "")
            j = int(np.nanargmax(x) if t.sense == ">=" else np.nanargmin(x))
            r = df.iloc[j]
            head = f"no design {fill(t.goal, v=tv)}" + (f" {within}" if within else "")
            if others:
                ctx = ", ".join(fill(c.at, x=_value(c, r)) for c, _ in others)
                return f"{head}; {t.best} {within} {fill(t.reach, x=x[j])} at {ctx}: {_describe(r)}"
            return f"{head}; {t.best} of the {n} designs searched {fill(t.reach, x=x[j])}: {_describe(r)}"
    return "nothing fits"  # not reached: the full set is infeasible
