"""The estimate states where its leakage comes from and the power gating mode it was priced with."""
from archsim.cli import main as cli
from archsim.model import arch
from archsim.report import notes


def test_leakage_note_names_the_law_its_source_and_the_gating_mode():
    line = notes.leakage(arch.Architecture())
    assert "off-current" in line and "source: NeuroSim V1.4 Technology.cpp" in line
    assert "techlib/circuits/leakage.yaml" in line and "power_gating none" in line
    gated = notes.leakage(arch.Architecture(power_gating="idle_tiles"))
    assert "power_gating idle_tiles" in gated and "busy time" in gated
    # a library with its own leakage file and law is named as such (NeuroSim's: inside its subarray figure)
    ns = notes.leakage(arch.Architecture(circuits="neurosim", node_nm=22, device="neurosim_rram"))
    assert "techlib/circuits/neurosim/leakage.yaml" in ns and "assumed" in ns


def test_estimate_prints_the_leakage_line_and_its_written_notes_carry_it(capsys):
    from archsim.cli.args import _notes
    assert cli.main(["estimate", "-w", "lenet5", "--set", "power_gating=idle_tiles"]) == 0
    assert "power_gating idle_tiles" in capsys.readouterr().out
    md = _notes(["reram"], arch.Architecture(power_gating="idle_tiles"))   # the tables' and report.html's notes
    assert "power_gating idle_tiles" in md and "NeuroSim V1.4 Technology.cpp" in md
