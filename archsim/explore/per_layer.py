"""Per-layer design search (``archsim size --per-layer``): ADC bits, bits per cell and replication per layer.

A chip can give each layer its own converters, cells and copies (``layer_overrides`` of the architecture,
honoured by mapping, cost and simulator).  That space, choices per layer to the power of the layers, is
not searched point by point; instead, from the best uniform design at the floor:

1. **The best uniform design** ``U``: :func:`archsim.explore.sizing.size` (array size, bits per cell, ADC
   bits, columns per ADC, tile budget) under the constraints, checked against the floor by simulation.
   The array size and columns per ADC stay ``U``'s (the tile is one circuit); the rest is per layer.
2. **Options per layer**: each layer alone moved to another ADC resolution (the search space's, at ``U``'s
   bits per cell) or another bits per cell (1 to what the device holds reliably, at ``U``'s ADC bits).
   Each option is priced with every other layer as in ``U``; only options that save energy and keep the
   constraints go on.
3. **Sensitivity from the simulator**, one layer perturbed at a time: each remaining option is simulated
   on the same images, chips and seed as ``U``, and its drop is ``U``'s checked figure minus its own.
4. **The combination**: at most one option per layer, the largest saving whose summed drops (negative
   drops counted as zero) fit the slack ``U``'s figure minus the floor; greedy, cheapest drop per joule
   first.  It is **checked by simulation**; below the floor, the option with the worst drop per joule
   leaves and the smaller combination is checked again, until one passes (at worst ``U`` itself, which
   passed).  So the design returned was simulated at or above the floor.  Steps 2-4 run from ``U`` and,
   where it meets the floor, from ``U`` one ADC step finer (more slack: the layers that tolerate fewer
   bits then go below ``U``'s resolution while the sensitive ones keep the finer one); the design with
   less energy is kept.
5. **Replication per layer**: with the chosen converters and cells, each layer gets the fewest copies
   that keep its stage within ``U``'s period (throughput at least ``U``'s, so every throughput
   constraint ``U`` met still holds) on exactly the tiles they need; that design and the mapping's own
   balancing over ``U``'s mesh are both priced and the one with less energy meeting the constraints is
   kept (replication does not change the simulation: replicas hold the same weights).

The gain reported is the energy per inference of the per-layer design against ``U``'s, both at the same
floor and constraints.  Without simulation (``check=None``) steps 3 and 4's checks are skipped: the
options are combined on energy alone and the report says accuracy was not checked.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from archsim.explore import fidelity as _fid
from archsim.explore import sizing
from archsim.explore.objectives import Constraints, num, satisfies
from archsim.explore.points import CONFIG_KEYS, EvalCache, evaluate_point
from archsim.mapping.layout import ceil_div
from archsim.model import arch as _arch
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError

#: at most this many combinations are checked by simulation (each failure drops one option)
MAX_COMBINATION_CHECKS = 8


@dataclass
class PerLayerResult:
    workload: str
    device: str
    uniform: sizing.SizingResult           # the best uniform design's search
    uniform_config: dict | None
    config: dict | None                    # the per-layer design (layer_overrides), None: nothing fits
    uniform_summary: dict | None
    summary: dict | None
    layers: pd.DataFrame                   # per layer: uniform vs chosen ADC bits, bits per cell, replication
    options: pd.DataFrame                  # every option priced (and simulated): layer, change, saving, drop
    metric: str | None                     # accuracy | fidelity | None (not simulated)
    uniform_figure: float = float("nan")
    figure: float = float("nan")
    figure_ci: tuple = (float("nan"), float("nan"))
    floor: float = float("nan")
    simulations: int = 0
    checks: list = field(default_factory=list)    # (options in the combination, figure, passed)
    seconds: float = 0.0
    message: str = ""
    notes: list = field(default_factory=list)

    @property
    def gain(self) -> float:
        """Energy saved against the best uniform design, a fraction (0: none)."""
        if self.summary is None or self.uniform_summary is None:
            return float("nan")
        return 1.0 - self.summary["energy_per_inference_J"] / self.uniform_summary["energy_per_inference_J"]


def config_of(row: pd.Series) -> dict:
    """The flat configuration of a sizing table row (the mesh back to a list)."""
    cfg = {k: row[k] for k in CONFIG_KEYS if k in row.index}
    for k, v in list(cfg.items()):
        if isinstance(v, (np.integer,)):
            cfg[k] = int(v)
        elif isinstance(v, (np.floating,)):
            cfg[k] = float(v)
        elif isinstance(v, (np.bool_,)):
            cfg[k] = bool(v)
    if isinstance(cfg.get("mesh"), str) and "x" in cfg["mesh"]:
        cfg["mesh"] = [int(v) for v in cfg["mesh"].split("x")]
    cfg["layer_overrides"] = {}
    return cfg


def _with(cfg: dict, state: dict, reps: dict | None = None, **changes) -> dict:
    """``cfg`` with per-layer ``state`` ({layer: {key: value}}, only the keys differing from ``cfg``) and
    fixed replications."""
    ov: dict = {}
    for name, d in state.items():
        d = {k: v for k, v in d.items() if cfg.get(k) != v}
        if d:
            ov[name] = dict(d)
    for name, r in (reps or {}).items():
        ov.setdefault(name, {})["replication"] = int(r)
    out = dict(cfg, **changes)
    out["layer_overrides"] = ov
    return out


def _state(chosen: dict) -> dict:
    """``{layer: (key, value, ...)}`` -> ``{layer: {key: value}}``."""
    return {n: {t[0]: t[1]} for n, t in chosen.items()}


def _sim_config(cfg: dict) -> dict:
    """What the simulation reads: replication dropped from the overrides (replicas hold the same weights)."""
    ov = {n: {k: v for k, v in sorted(d.items()) if k != "replication"}
          for n, d in sorted(cfg.get("layer_overrides", {}).items())}
    return dict(cfg, layer_overrides={n: d for n, d in ov.items() if d})


def size_per_layer(workload: str, base: _arch.Architecture | None = None, constraints: Constraints = Constraints(),
                   space: sizing.SearchSpace = sizing.SearchSpace(), check: _fid.CheckSpec | None = _fid.CheckSpec(),
                   workers: int | None = None, progress: bool = False) -> PerLayerResult:
    """The per-layer design of least energy at the floor and constraints, and its gain over the best
    uniform design (see the module docstring for the steps)."""
    t0 = time.perf_counter()
    base = base or _arch.Architecture()
    if base.layer_overrides:
        raise ArchsimError("per-layer search: the architecture already has layer_overrides; the search sets them")
    uni = sizing.size(workload, base, constraints=constraints, space=space, objective="energy", workers=workers,
                      progress=progress, check=check)
    data = uni.check.data if uni.check is not None else None
    empty = pd.DataFrame()
    if uni.recommended is None:
        return PerLayerResult(uni.workload, uni.device, uni, None, None, None, None, empty, empty,
                              data.metric if data else None, message=f"no uniform design fits: {uni.message}",
                              seconds=time.perf_counter() - t0)
    rec = uni.recommended
    U = config_of(rec)
    cache = EvalCache()
    wl = cache.workload(U["workload"])
    names = [l.name for l in wl.weighted_layers()]
    dev = load_device(U["device"])
    active = constraints.active()
    cons = [(c, v) for c, v in active if c.name != "min_accuracy"]

    def price(cfg: dict) -> dict | None:
        r = evaluate_point(cfg, cache=cache)
        return r.get("summary")

    def meets(s: dict | None) -> bool:
        if s is None:
            return False
        df = pd.DataFrame([s])
        return all(bool(satisfies(df, c, v)[0]) for c, v in cons)

    sU = price(U)
    if sU is None:   # not reached: U was evaluated by the search
        raise ArchsimError(f"per-layer search: the uniform design of {workload} could not be priced again")
    eU = sU["energy_per_inference_J"]
    top = sizing.max_bits_per_cell(_arch.Architecture(**{k: U[k] for k in _arch.KEY_BY_NAME if k in U}), dev)
    adcs = sorted(set(space.adc_bits) | {U["adc_bits"]})
    bpcs = list(range(1, top + 1)) if space.bits_per_cell is None else sorted(set(space.bits_per_cell))
    col = data.column if data is not None else None
    sims, done = 0, {}

    def simulate(cfg: dict) -> dict:
        nonlocal sims
        c = _sim_config(cfg)
        k = _fid.sim_key(c)
        if k not in done:
            _fid.memory_guard(data, c)
            done[k] = _fid.check_design(data, c)
            sims += 1
        return done[k]

    def descend(S: dict, sS: dict, fS: float, ciS: tuple, label: str):
        """Steps 2-4 from the uniform start ``S``: (state, figure, interval, checks, options, slack)."""
        eS = sS["energy_per_inference_J"]
        opts = [("adc_bits", b) for b in adcs if b != S["adc_bits"]] + \
               [("bits_per_cell", b) for b in bpcs if b != S["bits_per_cell"]]
        rows = []
        for name in names:
            for k, v in opts:
                s = price(_with(S, {name: {k: v}}))
                rows.append(dict(start=label, layer=name, key=k, value=v,
                                 energy_per_inference_J=s["energy_per_inference_J"] if s else float("nan"),
                                 saving_J=eS - s["energy_per_inference_J"] if s else float("nan"),
                                 meets_constraints=meets(s)))
        options = pd.DataFrame(rows)
        keep = (options["meets_constraints"] & (options["saving_J"] > 0)).to_numpy()
        options["start_figure"], options["figure"], options["drop"] = fS, np.nan, np.nan
        # sensitivity: one layer perturbed at a time, simulated on the same images, chips and seed as S
        if data is not None:
            for i in np.flatnonzero(keep):
                r = options.iloc[i]
                if progress:
                    print(f"sensitivity ({label}): {r['layer']} with {r['key']} = {r['value']}", flush=True)
                res = simulate(_with(S, {r["layer"]: {r["key"]: int(r["value"])}}))
                options.iat[i, options.columns.get_loc("figure")] = res[col]
                options.iat[i, options.columns.get_loc("drop")] = fS - res[col]
            slack = fS - data.floor
        else:
            options.loc[keep, "drop"] = 0.0
            slack = 0.0
        # the combination: at most one option per layer, cheapest drop per joule first, within the slack
        cand = options[keep].copy()
        cand["cost"] = np.maximum(cand["drop"].to_numpy(dtype=float), 0.0)
        cand = cand[np.isfinite(cand["cost"]) & (cand["cost"] <= slack + 1e-12)]
        cand["ratio"] = cand["cost"] / cand["saving_J"]
        cand = cand.sort_values(["ratio", "saving_J"], ascending=[True, False])
        chosen: dict[str, tuple] = {}
        spent = 0.0
        for _, r in cand.iterrows():
            old = chosen.get(r["layer"])
            extra = r["cost"] - (old[2] if old else 0.0)
            if (old is None or r["saving_J"] > old[3]) and spent + extra <= slack + 1e-12:
                chosen[r["layer"]] = (r["key"], int(r["value"]), float(r["cost"]), float(r["saving_J"]))
                spent += extra
        checks, final, fig, ci = [], dict(chosen), fS, ciS
        if data is not None:   # the combination checked by simulation; below the floor, the worst option leaves
            while final:
                res = simulate(_with(S, _state(final)))
                ok = res["floor"] == "pass"
                checks.append((label, dict(final), float(res[col]), ok))
                if ok:
                    fig, ci = float(res[col]), (float(res[f"{col}_ci95_low"]), float(res[f"{col}_ci95_high"]))
                    break
                if len(checks) >= MAX_COMBINATION_CHECKS:
                    final = {}
                    break
                final.pop(max(final, key=lambda n: (final[n][2] / final[n][3], -final[n][3])))
        return _state(final), fig, ci, checks, options, slack

    # the starts: U, and U one ADC step finer (more slack for the layers that tolerate fewer bits)
    fU = float(rec[col]) if col else float("nan")
    ciU = (float(rec[f"{col}_ci95_low"]), float(rec[f"{col}_ci95_high"])) if col else (np.nan, np.nan)
    starts = [("uniform", U, sU, fU, ciU)]
    finer = [b for b in adcs if b > U["adc_bits"]]
    if data is not None and finer:
        U2 = dict(U, adc_bits=finer[0])
        s2 = price(U2)
        if s2 is not None and meets(s2):
            r2 = simulate(U2)
            if r2["floor"] == "pass":
                starts.append((f"uniform {finer[0]}-bit ADC", U2, s2, float(r2[col]),
                               (float(r2[f"{col}_ci95_low"]), float(r2[f"{col}_ci95_high"]))))
    best = None
    all_checks, all_options, slack = [], [], 0.0
    for label, S, sS, fS, ciS in starts:
        state, fig, ci, checks, options, sl = descend(S, sS, fS, ciS, label)
        all_checks += checks
        all_options.append(options)
        cfg = _with(S, state)
        s = price(cfg)
        if s is None or not meets(s):
            continue
        if label == "uniform":
            slack = sl
        if best is None or s["energy_per_inference_J"] < best[1]["energy_per_inference_J"]:
            best = (cfg, s, fig, ci, S, state)
    options = pd.concat(all_options, ignore_index=True)
    best_cfg, best_s, figure, ci, S, state = best if best is not None and \
        best[1]["energy_per_inference_J"] <= eU else (U, sU, fU, ciU, U, {})
    checks = all_checks

    # ---- replication per layer: the fewest copies keeping every stage within U's period, on the tiles needed
    reps = _fewest_copies(best_cfg, cache, 1.0 / sU["inferences_per_s"])
    if reps is not None:
        rc = _with(S, state, reps, mesh=_arch.AUTO, tiles=_arch.AUTO, replicate=False)
        s = price(rc)
        if meets(s) and s["energy_per_inference_J"] < best_s["energy_per_inference_J"]:
            best_cfg, best_s = rc, s

    m = cache.mapping(wl, _arch.Architecture(**{k: best_cfg[k] for k in _arch.KEY_BY_NAME if k in best_cfg}))
    mU = cache.mapping(wl, _arch.Architecture(**{k: U[k] for k in _arch.KEY_BY_NAME if k in U}))
    layers = pd.DataFrame({
        "layer": names,
        "adc_bits_uniform": [U["adc_bits"]] * len(names),
        "adc_bits": [m.layer_arch(n).adc_bits for n in names],
        "bits_per_cell_uniform": [mU.layer_bits_per_cell(n) for n in names],
        "bits_per_cell": [m.layer_bits_per_cell(n) for n in names],
        "replication_uniform": [l.replication for l in mU.layers],
        "replication": [l.replication for l in m.layers],
    })
    res = PerLayerResult(uni.workload, uni.device, uni, U, best_cfg, sU, best_s, layers, options,
                         data.metric if data else None, fU, figure, ci, data.floor if data else float("nan"),
                         sims, checks, time.perf_counter() - t0)
    res.message = _message(res)
    res.notes = _notes(res, slack)
    return res


def _fewest_copies(cfg: dict, cache: EvalCache, period: float) -> dict | None:
    """Per layer, the fewest copies whose compute stage fits ``period`` (the stage times of ``cfg``'s own
    mapping give each layer's time per vector); None where ``cfg`` cannot be mapped."""
    from archsim.cost.price import evaluate
    wl = cache.workload(cfg["workload"])
    a = _arch.Architecture(**{k: cfg[k] for k in _arch.KEY_BY_NAME if k in cfg})
    try:
        m = cache.mapping(wl, a)
        est = evaluate(m, task=cfg.get("task", "inference"))
    except ArchsimError:
        return None
    out = {}
    for lm, stage in zip(m.layers, est.layers["stage_latency_s"].to_numpy(dtype=float)):
        t_vec = stage / lm.vectors_per_replica     # the stage's time per vector (compute, buffer or link bound)
        r = max(1, ceil_div(lm.vectors, max(1, int(np.floor(period / t_vec * (1 + 1e-9)))))) if t_vec > 0 else 1
        out[lm.layer] = int(min(r, lm.vectors))
    return out


def _design(cfg: dict, s: dict) -> str:
    return (f"{cfg['rows']}x{cfg['cols']} arrays, {cfg['cols_per_adc']} columns/ADC: "
            f"{num(s['energy_per_inference_J'] * 1e6)} uJ/inference, {num(s['area_mm2'])} mm2, "
            f"{num(s['inferences_per_s'])} inferences/s")


def _message(r: PerLayerResult) -> str:
    if r.config is None:
        return r.message
    fig = ""
    if r.metric is not None:
        col = "accuracy" if r.metric == "accuracy" else "agreement"
        fig = (f"; {col} {r.figure:.4g} (95% interval {r.figure_ci[0]:.3g} to {r.figure_ci[1]:.3g}) against the "
               f"uniform design's {r.uniform_figure:.4g}, floor {r.floor:.4g}")
    return (f"per-layer design ({_design(r.config, r.summary)}) saves {100 * r.gain:.1f}% of the energy per inference "
            f"of the best uniform design ({r.uniform_config['adc_bits']}-bit ADC, {r.uniform_config['bits_per_cell']} "
            f"bits/cell everywhere; {_design(r.uniform_config, r.uniform_summary)}){fig}")


def _notes(r: PerLayerResult, slack: float) -> list[str]:
    n_opt = len(r.options)
    priced = int((r.options["meets_constraints"] & (r.options["saving_J"] > 0)).sum()) if n_opt else 0
    out = [f"options: {n_opt} single-layer changes priced (each layer alone to another ADC resolution or bits per "
           f"cell), {priced} save energy within the constraints"]
    if r.metric is None:
        out.append("accuracy: NOT CHECKED (--no-simulate): the per-layer design may lose accuracy or fidelity unseen; "
                   "options were combined on energy alone")
        return out
    starts = list(dict.fromkeys(r.options["start"])) if n_opt else []
    out.append(f"sensitivity: each of the {priced} simulated with that layer alone changed, on the same images, "
               f"chips and seed, from {len(starts)} uniform start(s) ({', '.join(starts)}: the best uniform design "
               f"and, where it meets the floor, the same design one ADC step finer); slack of the best uniform design "
               f"{slack:.4g} (its {r.uniform_figure:.4g} minus the floor {r.floor:.4g})")
    for label, ch, fig, ok in r.checks:
        what = ", ".join(f"{n} {k}={v}" for n, (k, v, *_) in ch.items())
        out.append(f"combination checked by simulation (from the {label} design): {what}: {fig:.4g} -> "
                   f"{'meets' if ok else 'below'} the floor")
    if not r.checks:
        out.append("no single-layer change saving energy stayed within the slack: the uniform design stands")
    out.append(f"{r.simulations} simulations in all, {r.seconds:.0f} s")
    return out


def format_per_layer(r: PerLayerResult) -> str:
    from archsim.report import tables as report
    lines = [r.uniform.space_text, "", "best uniform design: " + r.uniform.message]
    if r.config is None:
        return "\n".join(lines + [r.message])
    lines += ["", "per layer (uniform -> chosen):", "", report.to_text(r.layers), "", r.message]
    lines += r.notes
    return "\n".join(lines)


def write_per_layer(r: PerLayerResult, out) -> list:
    from archsim.explore.sizing_report import result_stem
    from archsim.report import tables as report
    stem = result_stem(r.workload, r.device) + "_per_layer"
    notes = "\n\n".join([r.uniform.message, r.message] + r.notes)
    files = report.write_tables(out, stem, r.layers, f"Per-layer design of {r.workload} on {r.device}", notes)
    if len(r.options):
        files += report.write_tables(out, stem + "_options", r.options,
                                     f"Single-layer options of {r.workload} on {r.device}", notes)
    return files

