"""The walk-throughs of docs/extending.md, each done for real in a temporary folder and checked by an estimate.

Each test adds one thing the way the page says (a device file, a device kind, a layer kind, a cost
component, a CLI command), runs an estimate with it and checks a law the addition must obey; what it
registers in a table it removes again.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import archsim
import workloads
from archsim.cost import events as ev_mod
from archsim.cost import price as price_mod
from archsim.cost.price import evaluate
from archsim.io import techlib
from archsim.mapping.layout import map_workload
from archsim.model import device_kinds, kinds
from archsim.model.arch import Architecture
from archsim.model.device import Device, load_device
from archsim.model.errors import ArchsimError
from archsim.model.workload import GraphBuilder

ROOT = Path(__file__).resolve().parents[1]


def _device_file(tmp_path: Path, name: str, edit) -> Path:
    """A copy of techlib/devices/reram.yaml, changed by ``edit(text) -> text``, as ``tmp_path/name.yaml``."""
    text = (techlib.DEVICE_DIR / "reram.yaml").read_text()
    p = tmp_path / f"{name}.yaml"
    p.write_text(edit(text))
    return p


def test_a_device_file_joins_an_estimate(tmp_path):
    """Walk-through 1: a device is a file.  The same ReRAM file with its cell area doubled gives twice the
    array area; its energy grows, since the cell pitch sets the length of the lines and of the tile's wires (the
    floorplan), while the cells' own read energy is unchanged."""
    p = _device_file(tmp_path, "big_cell", lambda t: t.replace("cell:\n  area:\n    value: 12\n",
                                                               "cell:\n  area:\n    value: 24\n"))
    assert load_device(str(p)).cell_area == 2 * load_device("reram").cell_area
    base = archsim.estimate("lenet5", device="reram").summary
    big = archsim.estimate("lenet5", device=str(p)).summary
    # a ratio of two sums of identical products: exact up to rounding
    assert big["area_array_mm2"] == pytest.approx(2 * base["area_array_mm2"], rel=1e-12)
    assert big["energy_per_inference_J"] > base["energy_per_inference_J"]
    assert big["energy_array_J"] == pytest.approx(base["energy_array_J"], rel=1e-12)   # cell reads: same events
    assert big["latency_s"] >= base["latency_s"]     # longer row and column lines select and settle slower


def test_a_device_kind_is_one_table_entry(tmp_path):
    """Walk-through 2: a new kind is one KindBehaviour entry.  A kind that behaves as ``analog`` prices a
    file exactly as ``analog`` does: behaviour, not the kind's name, decides."""
    new = dataclasses.replace(device_kinds.KIND_BEHAVIOUR["analog"], kind="photonic",
                              reads="optical power x transmission, summed on a photodiode, converted by an ADC")
    device_kinds.register(new, device_kinds.KIND_RULES["analog"])
    try:
        p = _device_file(tmp_path, "photonic_cell", lambda t: t.replace("kind: analog", "") + "\nkind: photonic\n")
        dev = load_device(str(p))
        assert dev.kind == "photonic" and dev.behaviour is new
        same = archsim.estimate("lenet5", device=str(p)).summary
        ref = archsim.estimate("lenet5", device="reram").summary
        assert same["energy_per_inference_J"] == pytest.approx(ref["energy_per_inference_J"], rel=1e-12)
        assert same["area_mm2"] == pytest.approx(ref["area_mm2"], rel=1e-12)
    finally:
        device_kinds.unregister("photonic")
    with pytest.raises(ArchsimError, match="key 'kind' = 'photonic' is not allowed"):   # gone with its entry
        Device.from_record(techlib.device(str(tmp_path / "photonic_cell.yaml")))


def test_a_layer_kind_is_one_table_entry():
    """Walk-through 3: an unweighted kind is one KindSpec.  A 'scale2' layer costing two element operations
    per output adds exactly that many digital operations to the estimate's events."""
    spec = kinds.KindSpec("scale2", kinds.KINDS["identity"].shape, lambda layer, n_in: 2 * layer.out_size,
                          trainable=False)
    kinds.register(spec)
    try:
        def net(extra: bool):
            b = GraphBuilder("scaled" if extra else "plain", (1, 8, 8))
            b.conv("c", 4, 3, padding=1)
            if extra:
                b.layer("scale2", "s")
            b.flatten("f")
            b.dense("fc", 10, relu=False)
            return b.build()
        a = Architecture(rows=64, cols=64)
        plain, scaled = (ev_mod.events(map_workload(net(x), a)) for x in (False, True))
        assert scaled.total("digital_op") - plain.total("digital_op") == 2 * 4 * 8 * 8
        assert evaluate(map_workload(net(True), a)).summary["energy_digital_J"] > \
            evaluate(map_workload(net(False), a)).summary["energy_digital_J"]
    finally:
        kinds.unregister("scale2")
    assert "scale2" not in kinds.KINDS


def test_a_cost_component_is_an_event_with_a_price(monkeypatch):
    """Walk-through 4: a component is an event (what happens, per layer), the energy part it is reported
    under and its price.  Every event the cost model counts has a part and a price, and the estimate's
    energy is the sum over events of count x price (so a new event with its price adds count x price)."""
    m = map_workload(workloads.get("lenet5"), Architecture())
    est = evaluate(m)
    ev = ev_mod.events(m)
    up = price_mod.unit_prices(m, price_mod.prices_for(m.arch, m.device), ev)
    assert set(up) == set(ev_mod.EVENT_PARTS)
    dynamic = sum(float(np.sum(ev[e] * up[e])) for e in ev_mod.EVENT_PARTS)
    s = est.summary
    # dynamic energy = total minus leakage and I/O (which are power x period, not events); 1e-12: one sum
    # regrouped by part
    assert dynamic == pytest.approx(s["energy_per_inference_J"] - s["energy_leakage_J"] - s["energy_io_J"], rel=1e-12)
    # add a component: an event counted once per output element, priced at 1 pJ, reported under 'digital'
    monkeypatch.setitem(ev_mod.EVENT_PARTS, "checksum", "digital")
    monkeypatch.setitem(price_mod.PRICE_FIELD, "checksum", "e_digital_op")
    orig = ev_mod.events

    def with_checksum(mm, task="inference", activity=None):
        e = orig(mm, task, activity)
        counts = dict(e.counts)
        counts["checksum"] = np.array([float(l.N * l.vectors) for l in mm.layers])
        return dataclasses.replace(e, counts=counts)

    monkeypatch.setattr(price_mod, "events", with_checksum)
    more = price_mod.evaluate(m).summary
    p = price_mod.prices_for(m.arch, m.device)
    extra = sum(l.N * l.vectors for l in m.layers) * p.e_digital_op
    assert more["energy_digital_J"] - s["energy_digital_J"] == pytest.approx(extra, rel=1e-9)


def test_a_cli_command_is_one_entry_in_a_group(monkeypatch, capsys):
    """Walk-through 5: a command is a function adding its parser to a group's COMMANDS, named in ORDER."""
    from archsim.cli import args as cli_args
    from archsim.cli import design, main

    def cmd_energy(a) -> int:
        arch = cli_args._arch_from_args(a)
        wl, _ = cli_args._network(a)
        print(f"{evaluate(map_workload(wl, arch)).summary['energy_per_inference_J']:.6e}")
        return 0

    def add_energy(sub) -> None:
        sp = sub.add_parser("energy", help="energy per inference of one design, one number")
        cli_args.add_common(sp)
        sp.set_defaults(func=cmd_energy)

    monkeypatch.setitem(design.COMMANDS, "energy", add_energy)
    monkeypatch.setattr(main, "ORDER", main.ORDER + ("energy",))
    assert main.main(["energy", "-w", "lenet5", "--set", "device=sonos"]) == 0
    got = float(capsys.readouterr().out.strip())
    ref = archsim.estimate("lenet5", device="sonos").summary["energy_per_inference_J"]
    assert got == pytest.approx(ref, rel=1e-6)     # printed with 7 significant digits
    assert main.main(["energy", "-w", "lenet5", "--set", "colour=red"]) == 2
    assert "--set: unknown key 'colour'" in capsys.readouterr().err
