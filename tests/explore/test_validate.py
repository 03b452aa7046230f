"""Presets and the validation report: each reproduced published figure pinned with its tolerance."""
import pytest

from archsim.cost import peak as compose
from archsim.model import presets
from archsim.explore import validate
from archsim.model.errors import ArchsimError
from archsim.api import estimate
from archsim.model.device import load_device


@pytest.fixture(scope="module")
def frame():
    return validate.validation_frame()


def row(frame, source, figure):
    r = frame[(frame.source == source) & (frame.figure == figure)]
    assert len(r) == 1, (source, figure)
    return r.iloc[0]


@pytest.mark.parametrize("figure", ["tile_power", "tile_area", "chip_power", "chip_area", "peak_ops_per_W",
                                    "peak_ops_per_s_mm2", "peak_ops_per_W__sandia"])
def test_isaac_within_5_percent(frame, figure):
    assert abs(row(frame, "isaac", figure).ratio - 1) < 0.05


def test_isaac_totals_follow_components():
    """Removing one IMA (8 arrays) from each tile removes its Table I power and area, nothing else."""
    a = presets.load("isaac").architecture
    full = compose.peak(a)
    less = compose.peak(a.replace(arrays_per_tile=88))
    ima_power = 16 + 4 + 0.01 + 2.4 + 0.2 + 1.24 + 0.23  # mW, ISAAC Table I IMA rows
    ima_area = 0.0096 + 0.00017 + 0.00004 + 0.0002 + 0.00024 + 0.0021 + 0.00077  # mm2
    assert (full.tile_power_total_W - less.tile_power_total_W) * 1e3 == pytest.approx(ima_power, rel=0.01)
    assert full.tile_area_total_mm2 - less.tile_area_total_mm2 == pytest.approx(ima_area, rel=0.01)
    bigger_buffer = compose.peak(a.replace(buffer_kB=128))
    assert bigger_buffer.tile_area_total_mm2 - full.tile_area_total_mm2 == pytest.approx(0.083, rel=0.01)


def test_seed002_table_through_estimator(frame):
    rows = frame[frame.source == "Marinella et al., IEEE JETCAS 2018, tile table"]
    assert len(rows) == 16
    assert ((rows.ratio - 1).abs() < 1e-9).all()


def test_marinella_ratios(frame):
    assert abs(row(frame, "Marinella 2018", "SRAM / ReRAM energy (VMM + MVM + OPU)").ratio - 1) < 0.02
    assert abs(row(frame, "Marinella 2018", "SRAM / ReRAM latency (VMM + MVM + OPU)").ratio - 1) < 0.03


def test_layer_counts(frame):
    rows = frame[frame.source == "layer counts"]
    assert len(rows) == 14 and ((rows.ratio - 1).abs() < 1e-3).all()


# Predictions: pinned where they stand now (each band says how far the prediction is from the paper), so a
# change that moves one shows.
def test_sonos_resnet50_predicted(frame):
    r = row(frame, "sonos_sandia", "workload_ops_per_W")
    assert r.role == "predicted"
    assert 0.95 < r.ratio < 1.25, r.ratio          # 22.8 TOPS/W against the slides' 21.8 (whole chip vs unknown)


def test_digital_sram_macro_predicted(frame):
    """Chih et al. 2021 (22 nm, 4b x 4b, 89 TOPS/W): archsim's digital SRAM model, built from generic
    adder and bit-cell energies, lands within 25%."""
    r = row(frame, "chih2021", "macro_ops_per_W")
    assert r.role == "predicted" and 0.75 < r.ratio < 1.25, r.ratio


def test_reram_silicon_macro_predicted(frame):
    """NeuRRAM (Wan et al. 2022, 130 nm, 4-bit inputs, 6-bit outputs, 16.0 TOPS/W) within 25%."""
    r = row(frame, "neurram", "macro_ops_per_W")
    assert r.role == "predicted" and 0.75 < r.ratio < 1.25, r.ratio


def test_every_row_says_its_role_and_what_it_counts(frame):
    assert set(frame.role) <= {"consistency", "calibrated", "predicted"}
    pres = frame[frame.source.isin(["isaac", "sonos_sandia", "chih2021", "neurram", "ibm_pcm", "yao2020"])]
    assert (pres.counts.str.len() > 0).all()
    # read-backs are never called predictions
    assert (frame[frame.source == "Marinella et al., IEEE JETCAS 2018, tile table"].role == "consistency").all()
    assert (frame[frame.source == "isaac"].role == "consistency").all()


def test_yao_pinned(frame):
    # the transcribed figures cannot be reached from the summarized components (see the notes); the
    # components are read from the same paper's energy breakdown, so the rows are calibrated, not consistency
    assert {row(frame, "yao2020", f).role for f in ("peak_ops_per_W", "peak_ops_per_s_mm2")} == {"calibrated"}
    assert 0.07 < row(frame, "yao2020", "peak_ops_per_W").ratio < 0.12
    assert row(frame, "yao2020", "peak_ops_per_s_mm2").ratio < 0.01


def test_ibm_pcm_density_inside_projection(frame):
    assert row(frame, "ibm_pcm", "peak_ops_per_s_mm2__low").ratio >= 1
    assert row(frame, "ibm_pcm", "peak_ops_per_s_mm2__high").ratio <= 1
    assert 1.2 < row(frame, "ibm_pcm", "peak_ops_per_W").ratio < 1.6


def test_every_gap_explained(frame):
    pres = frame[frame.source.isin(presets.names())]
    gaps = pres[(pres.ratio - 1).abs() > 0.05]
    assert len(gaps) > 0 and gaps.note.str.len().min() > 20


def test_every_preset_estimates():
    for name in presets.names():
        p = presets.load(name)
        s = estimate(p.validate_workload or "lenet5", arch=p.architecture).summary
        assert s["energy_per_inference_J"] > 0 and s["tops_per_W"] > 0


def test_yao_chip_holds_the_cnn_in_eight_arrays():
    s = estimate("mnist_cnn5", arch=presets.load("yao2020").architecture).summary
    assert s["arrays"] == 8 and s["tiles"] == 8


def test_unknown_preset():
    with pytest.raises(ArchsimError, match="unknown preset 'tpu'; choose one of: ambrogio2023, chih2021, dpe, hermes2022, ibm_pcm"):
        presets.load("tpu")


def test_report_written(tmp_path):
    md, csv = validate.write_report(tmp_path, accuracy=False)
    text = md.read_text()
    for name in presets.names():
        if presets.load(name).published:
            assert f"## {name}" in text
    assert "## Marinella et al., IEEE JETCAS 2018, tile table" in text and "2 operations" in text


@pytest.mark.slow   # a study of minutes: benchmarks/slow_studies.py runs it
def test_accuracy_claims():
    rows = {r["figure"]: r for r in validate.accuracy_rows(samples=300, trials=1)}
    # 4-bit weights (15-level pairs) of a software-trained net, no hybrid training: near the paper's 96%
    assert rows["yao2020 chip, mnist_cnn5, MNIST top-1"]["archsim"] > 0.94
    order = [rows[f"device ordering: {d} top-1"] for d in ("reram", "sonos", "pcm")]
    assert "PCM lowest: holds" in order[0]["note"]
    assert order[2]["archsim"] < min(order[0]["archsim"], order[1]["archsim"])


# NeuroSim V1.4's VGG-8 default: the neurosim preset's subarray laws plus five constants read from that run
# (techlib/circuits/neurosim/subarray.yaml, buffer.yaml, the preset's link width): calibrated rows.  Throughput
# and area land within 2%; energy within 12% (archsim's interconnect law is its own): bands of 12%.
@pytest.mark.parametrize("figure", ["workload_energy_J", "workload_ops_per_s", "chip_area_used"])
def test_neurosim_vgg8_calibrated_within_12_percent(frame, figure):
    r = row(frame, "neurosim", figure)
    print(f"neurosim {figure}: archsim {r.archsim:.4g} {r.unit} / NeuroSim {r.published:.4g} = {r.ratio:.3f}")
    assert r.role == "calibrated"
    assert 0.88 < r.ratio < 1.12, r.ratio


def test_neurosim_tops_per_W_pinned(frame):
    # 26.9 against 27.1 like-for-like TOPS/W (0.99): two gaps that offset, pinned so that either moving shows.
    # The interconnect energy archsim's once-per-activation, placed-hop law does not count (NeuroSim re-sends
    # inputs per kernel column over chip-wide distances: 3.7 against 8.8 uJ) and the ADC priced at the neurosim
    # activity (the synthetic traces' 0.175 input bit density), denser than the published run's activations
    # (MLSA + mux + word line 30.6 against 24.3 uJ).  Band 0.95-1.05: the two gaps are about 5 uJ each.
    r = row(frame, "neurosim", "workload_ops_per_W")
    assert r.role == "calibrated" and 0.95 < r.ratio < 1.05, r.ratio


def test_neurosim_library_changes_no_other_preset():
    """The neurosim library (and the array_pulse event it prices) leaves every other preset's estimate as
    it was: the default library prices array_pulse at 0."""
    from archsim.cost.components import prices_for
    for name in presets.names():
        a = presets.load(name).architecture
        if a.circuits == "neurosim":
            continue
        assert prices_for(a, load_device(a.device)).e_dac_array == 0.0, name
        s = estimate(presets.load(name).validate_workload or "lenet5", arch=a)
        assert s.summary["energy_per_inference_J"] > 0
        assert (s.layers["energy_dac_J"] >= 0).all()


def test_neurosim_array_pulse_law():
    """The switch matrix's fixed part: 128 DFFs x 8 mux cycles x 1.41 fJ = 1.444 pJ per array per input bit,
    whatever the data."""
    from archsim.cost.events import Activity, events
    from archsim.mapping.layout import map_workload
    import workloads
    a = presets.load("neurosim").architecture
    m = map_workload(workloads.get("vgg8"), a)
    lo = events(m, activity=Activity(0.1, 0.5))
    hi = events(m, activity=Activity(0.9, 0.5))
    assert lo.total("array_pulse") == hi.total("array_pulse") == sum(l.vectors * 8 * l.arrays for l in m.layers)
    assert hi.total("row_drive") == pytest.approx(9 * lo.total("row_drive"))
