"""Energy and latency of a training step from the circuit model: forward, backward and update events.

Priced with the component prices of :func:`archsim.cost.components.prices_for` (the same laws as the
inference estimate) plus the device file's ``update`` section and ``techlib/circuits/training.yaml``.
Counts come from a training run (:class:`archsim.sim.training.TrainResult`): measured pulses, coincidences
and transfers, so the update is priced as it happened; reads are counted from the shapes.

Per layer of ``K`` rows (bias included) and ``N`` columns on arrays of ``R x C`` (``P = input_pulses``,
``bK = ceil(K/R)``, ``bN = ceil(N/C)`` blocks), per sample and per read tile:

===============  ==============================================================================
event            count per sample
===============  ==============================================================================
fwd cell read    ``P K N`` (every cell, every pulse)
fwd row drive    ``P K``
fwd array pulse  ``P bK bN``
fwd conversion   ``P N bK`` (each array digitizes its own columns; ADC + sample + shift-add)
bwd cell read    ``P K N``;  bwd row drive ``P N``;  bwd conversion ``P K bN``  (the transposed read)
activation       ``N`` (forward) + ``N`` (the derivative in the backward pass)
translator       ``(K + N)`` ops per rank-1 update cycle (values to pulse trains)
update driver    row pulses + column pulses fired (measured), each one driver pulse
device pulse     coincidences + transfer pulses (measured), each ``update.energy_per_pulse``
accumulate       mixed precision: ``K N`` digital MACs and ``2 K N`` accumulator words moved per sample
program          write-verify programs (carry, refresh): ``write_verify.pulses`` pulses and reads each
===============  ==============================================================================

Latency per sample: a read takes ``P (t_read + cols_per_adc t_adc)`` per layer (arrays in parallel);
a rank-1 update takes ``BL`` pulse slots of ``update.pulse`` (all devices of the layer in parallel,
Gokmen and Vlasov 2016); mixed-precision transfers run row by row, one pulse slot per row touched;
a write-verify program takes ``write_verify.pulses`` (pulse + read).  Layers run one after the other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from archsim.io import techlib
from archsim.cost.components import prices_for
from archsim.model.arch import Architecture
from archsim.model.device import Device, load_device
from archsim.model.errors import ArchsimError

#: events of a training step, in table order
EVENTS = ("fwd_read", "bwd_read", "activation", "translator", "update_driver", "device_pulse", "accumulate",
          "program")
#: algorithm -> tiles read by the forward and backward passes
READ_TILES = {"float": 1, "sgd": 1, "mixed": 1, "tiki-taka": 1, "carry": 2}


@dataclass(frozen=True)
class LayerCounts:
    """Events of one layer per training sample (floats: measured counts are averages)."""

    layer: str
    K: int
    N: int
    fwd_cells: float
    fwd_rows: float
    fwd_array_pulses: float
    fwd_conversions: float
    bwd_cells: float
    bwd_rows: float
    bwd_array_pulses: float
    bwd_conversions: float
    activations: float
    translator_ops: float
    driver_pulses: float
    device_pulses: float
    accumulations: float
    accumulator_words: float
    programs: float
    update_cycles: float
    rows_transferred: float


def layer_counts(layer: dict, arch: Architecture, samples: int, algorithm: str, first: bool) -> LayerCounts:
    """Per-sample event counts of one trained layer (``layer`` a :attr:`TrainResult.layers` entry)."""
    K, N = int(layer["K"]), int(layer["N"])
    P = arch.input_pulses
    bK, bN = math.ceil(K / arch.rows), math.ceil(N / arch.cols)
    t = READ_TILES[algorithm]
    c = layer["counters"]
    s = float(samples)
    bwd = 0.0 if first else 1.0          # the first layer sends no error further back
    rows_t = 0.0
    if algorithm == "mixed":
        rows_t = K * min(1.0, c["transfer_pulses"] / max(s, 1.0) / max(N, 1))   # rows touched, at most all
    return LayerCounts(
        layer=layer["name"], K=K, N=N,
        fwd_cells=t * P * K * N, fwd_rows=t * P * K, fwd_array_pulses=t * P * bK * bN, fwd_conversions=t * P * N * bK,
        bwd_cells=bwd * t * P * K * N, bwd_rows=bwd * t * P * N, bwd_array_pulses=bwd * t * P * bK * bN,
        bwd_conversions=bwd * t * P * K * bN, activations=2.0 * N,
        translator_ops=(K + N) * c["update_cycles"] / s,
        driver_pulses=(c["row_pulses"] + c["col_pulses"] + c["transfer_pulses"]) / s,
        device_pulses=(c["coincidences"] + c["transfer_pulses"]) / s,
        accumulations=float(layer.get("accumulations", 0)) / s,
        accumulator_words=2.0 * float(layer.get("accumulations", 0)) / s,
        programs=float(c["programmed"]) / s, update_cycles=c["update_cycles"] / s, rows_transferred=rows_t)


def _price_layer(lc: LayerCounts, arch: Architecture, dev: Device, bl: int) -> dict:
    pr = prices_for(arch, dev)
    up = dev.update
    tr = techlib.circuit("training", arch.circuits)
    e_cell = float(pr.cell_read_energy(0.5))                 # mid-range conductance
    e_conv = pr.e_adc + pr.e_sh + pr.shift_add_energy(arch.adc_bits + arch.input_bits)
    acc_bits = tr["accumulator.bits"]
    wv = tr["write_verify.pulses"]
    e = {
        "fwd_read": lc.fwd_cells * e_cell + lc.fwd_rows * pr.e_dac + lc.fwd_array_pulses * pr.e_dac_array
        + lc.fwd_conversions * e_conv,
        "bwd_read": lc.bwd_cells * e_cell + lc.bwd_rows * pr.e_dac + lc.bwd_array_pulses * pr.e_dac_array
        + lc.bwd_conversions * e_conv,
        "activation": lc.activations * pr.e_act_op,
        "translator": lc.translator_ops * tr["translator.ops_per_element"] * pr.e_digital_op,
        "update_driver": lc.driver_pulses * pr.e_dac,
        "device_pulse": lc.device_pulses * up.energy_per_pulse,
        "accumulate": lc.accumulations * pr.e_digital_op
        + lc.accumulator_words * acc_bits * float(pr.buffer_bit_energy(lc.K * lc.N * acc_bits)),
        "program": lc.programs * wv * (up.energy_per_pulse + e_cell),
    }
    t_read = arch.input_pulses * (pr.t_pulse + arch.cols_per_adc * pr.t_adc)
    t = {
        "fwd_read": t_read if lc.fwd_cells else 0.0,
        "bwd_read": t_read if lc.bwd_cells else 0.0,
        "update": lc.update_cycles * bl * up.pulse * (1.0 + up.verify_reads)
        + lc.rows_transferred * up.pulse * (1.0 + up.verify_reads),
        "program": (lc.programs / max(lc.K * lc.N, 1)) * wv * (up.pulse + pr.t_read),
    }
    return e, t


def training_cost(result, arch: Architecture | None = None) -> pd.DataFrame:
    """Energy (J) and latency (s) per training sample and per epoch, by layer and event, of a
    :class:`~archsim.sim.training.TrainResult` on its device (``arch``: the architecture, default
    ``Architecture(device=result.device)``)."""
    if result.device == "float":
        raise ArchsimError("training cost: a float run has no device to price; train on a device")
    arch = arch or Architecture(device=result.device)
    if arch.device != result.device:
        arch = arch.replace(device=result.device)
    dev = load_device(arch.device)      # resolved once, priced for every layer
    if dev.update is None:
        raise ArchsimError(f"training cost: device '{arch.device}' has no 'update' section")
    cfg = result.config
    samples = cfg.epochs * result.extra.get("samples_per_epoch", 0)
    if samples <= 0:
        raise ArchsimError("training cost: the result does not say how many samples it trained on")
    rows = []
    for i, lay in enumerate(result.layers):
        lc = layer_counts(lay, arch, samples, cfg.algorithm, first=(i == 0))
        e, t = _price_layer(lc, arch, dev, cfg.bl)
        row = {"layer": lc.layer, "K": lc.K, "N": lc.N}
        row.update({f"E_{k}_J": v for k, v in e.items()})
        row["E_sample_J"] = sum(e.values())
        row["t_sample_s"] = sum(t.values())
        row["t_update_s"] = t["update"]
        rows.append(row)
    df = pd.DataFrame(rows)
    per_epoch = samples / cfg.epochs
    df["E_epoch_J"] = df["E_sample_J"] * per_epoch
    df["t_epoch_s"] = df["t_sample_s"] * per_epoch
    return df


def epoch_totals(result, arch: Architecture | None = None) -> dict:
    """Chip totals per epoch: energy (J), time (s), and the share of the update in the energy."""
    df = training_cost(result, arch)
    upd = df[["E_update_driver_J", "E_device_pulse_J", "E_translator_J", "E_accumulate_J", "E_program_J"]].sum().sum()
    tot = float(df["E_epoch_J"].sum())
    return {"energy_epoch_J": tot, "time_epoch_s": float(df["t_epoch_s"].sum()),
            "energy_sample_J": float(df["E_sample_J"].sum()), "update_share": float(upd / df["E_sample_J"].sum())}
