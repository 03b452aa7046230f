"""Node scaling by circuit class (logic, SRAM, analog), never applied to device cells; device nodes.

Laws: each circuit moves from its file's node by its own class's factor (converters, drivers and
sample-and-holds analog; shift-adds, digital units and the network logic; the buffer array SRAM, its bus
and registers logic); a cell's read energy is the same at every node; the analog exponents stated in
scaling.yaml are what the ADC survey anchors give; a device file's ``nodes`` flags (or, where it says so,
refuses) a design at another node.
"""
import numpy as np
import pytest

from archsim.cost.adc import adc_law
from archsim.cost.components import outside_nodes_note, prices_for as _prices_for
from archsim.cost.readpath import read_path
from archsim.cost.scaling import CLASSES, circuit_class, node_scaling, scale
from archsim.io import techlib
from archsim.model.arch import Architecture
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError
from archsim.report import tables

EXACT = 1e-12     # ratios of products of the same stored factors: rounding only


def prices_for(a):
    return _prices_for(a, load_device(a.device))


def _f(cls, q, node, ref=32):
    sc = techlib.circuit("scaling")
    f = dict(zip((int(n) for n in sc["nodes"]), sc[f"{cls}.{q}_scale"]))
    return f[node] / f[ref]


@pytest.mark.parametrize("node", [14, 22, 45, 65, 130])
def test_each_component_scales_by_its_class(node):
    a = prices_for(Architecture(device="reram", node_nm=32, adc_rate_Hz=1e9))      # one rate at both nodes
    b = prices_for(Architecture(device="reram", node_nm=node, adc_rate_Hz=1e9))
    rp = read_path()
    expect = {  # Prices field -> (class, quantity)
        "e_adc": ("analog", "energy"), "a_adc": ("analog", "area"), "a_dac": ("analog", "area"),
        "e_sh": ("analog", "energy"), "a_sh": ("analog", "area"),
        "e_add_bit": ("logic", "energy"), "a_shift_add": ("logic", "area"), "e_digital_op": ("logic", "energy"),
        "e_router_bit": ("logic", "energy"), "a_router": ("logic", "area"),
        "e_link_bit_m": ("wire", "energy"), "e_bus_bit_m": ("wire", "energy"),
        "e_buf_bit_ref": ("sram", "energy"), "a_buf_per_bit": ("sram", "area"),
        "a_bus": ("logic", "area"), "a_reg_per_array": ("logic", "area"),
    }
    # the converter's law, its column mux aside (the mux's access capacitance follows the feature size)
    assert ((b.e_adc - rp.mux_energy(8, node)) / (a.e_adc - rp.mux_energy(8, 32))
            == pytest.approx(_f("analog", "energy", node), rel=EXACT))
    for name, (cls, q) in expect.items():
        if name != "e_adc":
            assert getattr(b, name) / getattr(a, name) == pytest.approx(_f(cls, q, node), rel=EXACT), name


def test_classes_differ_where_the_sources_differ():
    """At 14 nm logic area shrinks to 0.38 of 32 nm, a bit cell to 0.344, analog only to 0.47."""
    assert _f("analog", "area", 14) > _f("logic", "area", 14) > _f("sram", "area", 14)
    assert _f("analog", "area", 130) < _f("logic", "area", 130)


@pytest.mark.parametrize("device", ["reram", "pcm", "sonos", "ecram", "sram_charge"])
def test_cell_energy_independent_of_node(device):
    """V_read^2 G t_read (or the device's energy per read) is the device's: identical at 22, 32 and 65 nm."""
    e = {n: prices_for(Architecture(device=device, node_nm=n)) for n in (22, 32, 65)}
    for n in (22, 65):
        assert e[n].e_cell_gmin == e[32].e_cell_gmin and e[n].e_cell_span == e[32].e_cell_span
        assert e[n].cell_read_energy(0.3) == e[32].cell_read_energy(0.3)


def test_analog_exponents_are_what_the_survey_anchors_give():
    """Refit log(E / shape) = c_arch + alpha log(s_logic(node)) over the SAR and flash anchors (one intercept per
    architecture): energy 1.04, area 0.78, the exponents scaling.yaml states (1.0 and 0.78) within 0.1."""
    lib, sc = adc_law(), techlib.circuit("scaling")
    nodes = [int(n) for n in sc["nodes"]]
    le, la = dict(zip(nodes, sc["logic.energy_scale"])), dict(zip(nodes, sc["logic.area_scale"]))
    rows = []
    for k, arch in enumerate(("sar", "flash")):
        law = lib.law(arch)
        an = law.anchors
        for b, f, n, e, a in zip(an.bits, an.rate, an.node, an.energy, an.area):
            rows.append((k, np.log(le[int(n)]), np.log(la[int(n)]),
                         np.log(e / (law.energy_units(int(b)) * law.rate_factor(f))), np.log(a / law.area_units(int(b)))))
    r = np.array(rows)
    onehot = np.c_[r[:, 0] == 0, r[:, 0] == 1].astype(float)
    alpha_e = np.linalg.lstsq(np.c_[onehot, r[:, 1]], r[:, 3], rcond=None)[0][-1]
    alpha_a = np.linalg.lstsq(np.c_[onehot, r[:, 2]], r[:, 4], rcond=None)[0][-1]
    assert alpha_e == pytest.approx(1.04, abs=0.01) and alpha_a == pytest.approx(0.78, abs=0.01)
    # the stored analog series are the logic series to those powers (stored to 3 significant digits)
    for n in nodes:
        assert _f("analog", "area", n) == pytest.approx(_f("logic", "area", n) ** 0.78, rel=6e-3)
        assert _f("analog", "energy", n) == pytest.approx(_f("logic", "energy", n), rel=6e-3)


def test_factors_broadcast_over_arrays_of_nodes():
    sc = node_scaling()
    nodes = np.array([[14, 22], [65, 130]])
    got = sc.factor("analog", "area", nodes, 32)
    assert got.shape == (2, 2)
    for n, g in zip(nodes.ravel(), got.ravel()):
        assert g == sc.factor("analog", "area", int(n), 32)
    with pytest.raises(ArchsimError, match=r"key 'node_nm' = 7 has no scaling factors in techlib/circuits/scaling.yaml; allowed: 130"):
        sc.factor("logic", "energy", np.array([22, 7]), 32)


def test_every_scaled_circuit_file_states_its_class():
    libs = ["default"] + [l for l in techlib.circuit_libraries() if l != "default"]
    for lib in libs:
        for name in ("adc", "dac", "sample_hold", "shift_add", "buffer", "noc", "digital"):
            rec = techlib.circuit(name, lib)
            if rec.has("node"):
                assert circuit_class(rec) in CLASSES, rec.file


def test_unknown_class_is_refused_in_one_line():
    rec = techlib.circuit("dac")
    bad = techlib.Record(rec.name, rec.file, rec.quantities, {**rec.fields, "class": "cmos"})
    with pytest.raises(ArchsimError, match=r"dac.yaml: key 'class' = 'cmos'; allowed: logic, sram, analog"):
        scale(bad, 22, "default")


def test_device_outside_its_nodes_is_flagged_and_priced():
    """reram is demonstrated from 130 down to 22 nm: at 14 nm it is priced and flagged in the assumptions."""
    rec = techlib.device("reram")
    assert outside_nodes_note(rec, 22) is None
    note = outside_nodes_note(rec, 14)
    assert "node_nm = 14 is outside the nodes this device is demonstrated at (130, 65, 45, 40, 32, 28, 22 nm)" in note
    assert prices_for(Architecture(device="reram", node_nm=14)).e_adc > 0
    flags = tables.node_flags(["reram"], 14)
    assert [(q.file, q.key) for q in flags] == [("techlib/devices/reram.yaml", "nodes")]
    assert "node_nm = 14 is outside" in tables.assumptions_markdown(["reram"], 14)
    assert tables.node_flags(["reram"], 32) == [] and tables.node_flags(["sram"], 14) == []


def test_a_refused_node_lists_only_nodes_the_circuit_library_also_scales_to():
    """NeuroSim's RRAM exists at 22-130 nm, but the neurosim library scales to 22, 32 and 45 nm only: the refusal
    of 14 nm offers those three (65 would be refused next by the library), not the device's whole list."""
    a = Architecture(device="neurosim_rram", circuits="neurosim", node_nm=14)
    with pytest.raises(ArchsimError, match=r"exists at 22, 32, 45, 65, 90, 130 nm only .*; allowed node_nm: 22, 32, 45 "
                                           r"\(of those, the nodes circuit library 'neurosim' scales to, "
                                           r"techlib/circuits/neurosim/scaling.yaml\)$"):
        prices_for(a)
    prices_for(a.replace(node_nm=45))          # an offered node is priced


def test_device_that_says_refuse_is_refused_with_its_nodes():
    with pytest.raises(ArchsimError, match=r"key 'node_nm' = 14: device 'neurosim_rram' exists at 22, 32, 45, 65, 90, "
                                           r"130 nm only \(techlib/devices/neurosim_rram.yaml, key 'nodes'\); "
                                           r"allowed node_nm: 22"):
        prices_for(Architecture(device="neurosim_rram", node_nm=14))


def test_every_device_states_its_nodes_or_exists_at_any_node():
    """Only CMOS bit cells (SRAM) and the idealized reference exist at every node."""
    without = {d for d in techlib.device_names() if not techlib.device(d).has("nodes")}
    assert without == {"sram", "sram_charge", "ideal"}
