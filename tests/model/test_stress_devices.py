"""Stress devices (``stress: true``): loadable by name, marked by ``archsim list``, left out of ``bench``."""
import pytest

from archsim.io import techlib
from archsim.cli import main as cli
from archsim.explore import bench
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError


def test_yao_taox_noisy_is_a_stress_device_and_still_loads():
    assert techlib.is_stress_device("yao_taox_noisy")
    assert "yao_taox_noisy" in techlib.device_names()            # still in the registry: --device works
    assert load_device("yao_taox_noisy").stress and not load_device("yao_taox").stress
    assert "yao_taox_noisy" not in techlib.real_device_names()


def test_bench_default_devices_exclude_stress_devices():
    names = bench.bench_devices()
    assert "yao_taox_noisy" not in names
    assert not any(techlib.is_stress_device(d) for d in names)
    # every other registry device is benchmarked: only stress cases are dropped
    assert set(techlib.device_names()) - set(names) == {d for d in techlib.device_names()
                                                         if techlib.is_stress_device(d)}
    assert {c["device"] for c in bench.bench_configs()} == set(names)


def test_list_marks_stress_devices(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Devices"):out.index("Presets")]
    header = next(line for line in section.splitlines() if line.startswith("name"))
    col = header.split().index("stress")
    rows = {line.split()[0]: line.split() for line in section.splitlines()
            if line and line.split()[0] in techlib.device_names()}
    assert rows["yao_taox_noisy"][col] == "yes"
    assert rows["yao_taox"][col] == "no" and rows["reram"][col] == "no"


@pytest.mark.parametrize("value", ["'yes'", "maybe", "[true]"])
def test_stress_key_must_be_a_boolean(tmp_path, value):
    src = (techlib.DEVICE_DIR / "yao_taox_noisy.yaml").read_text()
    assert "stress: true\n" in src
    p = tmp_path / "bad_stress.yaml"
    p.write_text(src.replace("stress: true\n", f"stress: {value}\n", 1))
    with pytest.raises(ArchsimError, match=r"bad_stress\.yaml: key 'stress' .* allowed true or false"):
        load_device(str(p))
