"""--plot and report.html on the command line: where the files go, and one-line errors before any work."""
import pytest

from archsim.cli.main import main
from archsim.report import style

needs_plots = pytest.mark.skipif(not style.matplotlib_available(), reason="figures need matplotlib (plots extra)")


@needs_plots
def test_plot_without_out_writes_into_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["estimate", "-w", "lenet5", "-d", "sonos", "--plot"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["estimate_lenet5_sonos_components.png",
                                                           "estimate_lenet5_sonos_layers.png"]
    assert "wrote estimate_lenet5_sonos_components.png" in capsys.readouterr().out


def test_plot_without_matplotlib_is_one_line_before_work(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(style, "matplotlib_available", lambda: False)
    assert main(["estimate", "-w", "lenet5", "--plot", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "archsim: error: --plot: figures need matplotlib; pip install 'archsim[plots]'"
    assert not (tmp_path / "o").exists()


def test_plot_refused_with_ideal(capsys):
    assert main(["accuracy", "-w", "lenet5", "--ideal", "--plot"]) == 2
    assert "--plot" in capsys.readouterr().err


@needs_plots
def test_sweep_plot_two_columns_and_a_bad_one(tmp_path, capsys):
    pytest.importorskip("jinja2", reason="report.html needs the report extra")
    spec = tmp_path / "s.yaml"
    spec.write_text("name: tiny\nworkloads: [lenet5]\ndevices: [reram, sram]\ngrid:\n  rows: [64, 128]\n")
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress",
                 "--plot", "area_mm2", "energy_per_inference_J"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "sweep_tiny_area_mm2_vs_energy_per_inference_J.png"} <= names
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 1
    capsys.readouterr()
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress", "--resume",
                 "--plot", "area_mm2", "colour"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "column 'colour' is not a numeric column" in err


def test_report_html_target_checked_before_any_work(tmp_path, capsys):
    """A FIFO planted as report.html is refused in one line before the estimate runs (the output rule of
    archsim/io/files.py), and nothing else is written."""
    import os
    import stat
    pytest.importorskip("jinja2", reason="report.html needs the report extra")
    os.mkfifo(tmp_path / "report.html")
    assert main(["estimate", "-w", "mlp", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FIFO" in err and "report.html" in err
    assert sorted(os.listdir(tmp_path)) == ["report.html"] and stat.S_ISFIFO(os.lstat(tmp_path / "report.html").st_mode)
