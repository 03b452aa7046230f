"""report.html: escaped, self-contained, its trust table equal to archsim validate's ratios, and opening in
headless Chromium without console errors and with every figure shown (skipped where no browser exists)."""
import base64
import re
import struct

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("jinja2", reason="report.html needs the report extra (jinja2)")

from archsim.cli.main import main  # noqa: E402
from archsim.report import html  # noqa: E402
from archsim.report.style import Picture, matplotlib_available  # noqa: E402
from tests.report.browser import find_chromium, open_page  # noqa: E402

HOSTILE = "<script>alert('x')</script>&\"'"


def _png(width: int = 4, height: int = 2) -> bytes:
    """A real PNG (matplotlib not needed): drawn with the stdlib's zlib."""
    import zlib
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _page(**kw) -> html.Page:
    base = dict(title=f"net {HOSTILE}", command=f"archsim estimate --model {HOSTILE}.onnx",
                tables=(html.Table(f"t {HOSTILE}", pd.DataFrame({"layer": [HOSTILE, "fc"], "energy_J": [1e-9, 2.0]}),
                                   note=HOSTILE),),
                pictures=(Picture("a.png", f"cap {HOSTILE}", _png(40, 20)),), notes=f"note {HOSTILE}",
                validation=pd.DataFrame({"source": ["x"], "figure": ["workload_ops_per_W"], "role": ["predicted"],
                                         "unit": ["GOPS/W"], "published": [1.0], "archsim": [1.2], "ratio": [1.2],
                                         "workload": ["w"]}))
    base.update(kw)
    return html.Page(**base)


def test_user_text_is_escaped_everywhere():
    text = html.render_html(_page())
    assert "<script>" not in text and "alert('x')" not in text
    # title, command, table title, cell, note, caption and notes: 7 escaped copies at least
    assert text.count("&lt;script&gt;") >= 7


def test_page_is_self_contained():
    text = html.render_html(_page())
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//|file:)", text)
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert len(srcs) == 1 and srcs[0].startswith("data:image/png;base64,")
    png = base64.b64decode(srcs[0].split(",", 1)[1])
    assert png == _png(40, 20)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_long_tables_are_cut_and_say_so():
    df = pd.DataFrame({"i": np.arange(html.MAX_ROWS + 5)})
    text = html.render_html(_page(tables=(html.Table("long", df),), validation=None))
    assert text.count("<tr>") == html.MAX_ROWS + 1   # the rows shown and the header; no trust table here
    assert f"First {html.MAX_ROWS} of {html.MAX_ROWS + 5} rows" in text


def test_trust_ranges_are_the_predicted_ratios_of_validate():
    from archsim.explore.validate import validation_frame
    v = validation_frame(accuracy=False)
    summary, detail = html.trust_frame(v)
    pred = v[(v["role"] == "predicted") & v["ratio"].notna()]
    for row in summary.itertuples(index=False):
        kind = row[0]
        ratios = pred[[html.figure_kind(f) == kind for f in pred["figure"]]]["ratio"]
        assert row[1] == len(ratios) and row[2] == ratios.min() and row[3] == ratios.max()
    # every kind holds a figure, and no consistency or calibrated figure counts as a check
    assert {"energy efficiency and energy", "area and throughput density"} <= set(summary["kind of figure"])
    assert set(detail["source"]) <= set(pred["source"])


def test_no_jinja_one_line(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_jinja(name, *a, **k):
        if name == "jinja2":
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_jinja)
    from archsim.model.errors import ArchsimError
    with pytest.raises(ArchsimError, match=r"pip install 'archsim\[report\]'"):
        html.render_html(_page())


@pytest.mark.skipif(not matplotlib_available(), reason="figures need matplotlib (plots extra)")
def test_estimate_out_writes_report_beside_tables(tmp_path, capsys):
    assert main(["estimate", "-w", "lenet5", "-d", "reram", "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.html", "estimate_lenet5_reram.csv", "estimate_lenet5_reram.md"} <= names
    assert not any(n.endswith(".png") for n in names)      # without --plot the figures live in the page only
    text = (tmp_path / "report.html").read_text()
    assert text.count("data:image/png;base64,") == 2 and "How far the figures can be trusted" in text
    assert "archsim estimate -w lenet5 -d reram --out" in text
    assert "techlib/devices/reram.yaml" in text                  # the assumptions it rests on


# ---------------------------------------------------------------------------------------------------------------------
# in a browser

needs_browser = pytest.mark.skipif(find_chromium() is None,
                                   reason="no chromium binary (Debian: apt-get install chromium; .ci/run does)")


@needs_browser
def test_browser_check_can_fail(tmp_path):
    """The check itself: a broken image and a blocked script are seen (so a pass means something)."""
    bad = tmp_path / "bad.html"
    bad.write_text(html.render_html(_page(pictures=(Picture("b.png", "broken", _png()[:30]),)))
                   .replace("</body>", "<script>console.error('boom')</script></body>"))
    r = open_page(bad)
    assert [img[1] for img in r["images"]] == [0]
    assert r["errors"] and "Content Security Policy" in r["errors"][0]


@needs_browser
@pytest.mark.skipif(not matplotlib_available(), reason="figures need matplotlib (plots extra)")
def test_report_opens_in_chromium_with_its_figures(tmp_path):
    out = tmp_path / "compare"
    assert main(["compare", "-w", "lenet5", "-D", "reram,sram", "--out", str(out)]) == 0
    r = open_page(out / "report.html")
    assert r["errors"] == []
    assert r["title"] == "Device comparison on lenet5"
    assert len(r["images"]) == 2 and all(done and width > 0 for done, width, _ in r["images"])


# ---------------------------------------------------------------------------------------------------------------------
# every command with --out

COMMANDS = {   # command line (the folder appended) -> figures its page holds
    "estimate": (["estimate", "-w", "mlp", "-d", "pcm"], 2),
    "compare": (["compare", "-w", "mlp", "-D", "reram,sram"], 2),
    "accuracy": (["accuracy", "-w", "lenet5", "-d", "reram", "--samples", "40", "--trials", "2"], 1),
    "accuracy --ideal": (["accuracy", "-w", "lenet5", "--samples", "40", "--ideal"], 0),
    "size": (["size", "-w", "mlp", "-d", "reram", "--no-simulate", "--rows", "64,128", "--adc-bits", "6",
              "--cols-per-adc", "4", "--budgets", "1", "--workers", "1", "--no-progress"], 1),
    "validate": (["validate", "--no-accuracy"], 1),
}


def _figures(page: str) -> list[bytes]:
    return [base64.b64decode(s) for s in re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)]


@pytest.mark.skipif(not matplotlib_available(), reason="figures need matplotlib (plots extra)")
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_with_out_writes_its_page(name, tmp_path, capsys):
    argv, n = COMMANDS[name]
    assert main(argv + ["--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    figs = _figures(page)
    assert len(figs) == n and all(html._png_width(f) > 0 for f in figs)
    assert "How far the figures can be trusted" in page and "<table>" in page
    assert str(tmp_path / "report.html") in capsys.readouterr().out


@pytest.mark.skipif(not matplotlib_available(), reason="figures need matplotlib (plots extra)")
def test_bench_writes_its_page(tmp_path, monkeypatch, capsys):
    from archsim.explore import bench
    monkeypatch.setattr(bench._workloads, "names", lambda: ["lenet5", "mlp"])
    monkeypatch.setattr(bench.techlib, "real_device_names", lambda: ["reram", "sram"])
    assert main(["bench", "--out", str(tmp_path), "--workers", "1", "--no-accuracy"]) == 0
    page = (tmp_path / "report.html").read_text()
    assert len(_figures(page)) == 2 and "Published accelerators" in page
