"""The front door (archsim/io/load.py): the API and the CLI load architectures, networks and devices through
the same functions; a library error names the parameter, the CLI words it as its flag."""
import pytest

import archsim
from archsim.cli.main import main
from archsim.io import load
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError, ParameterError
from archsim.model import presets


def test_architecture_from_every_source_is_the_same_object():
    a = load.architecture({"rows": 64, "device": "sonos"})
    assert a.rows == 64 and a.device == "sonos"
    assert load.architecture(None, device="sonos", overrides={"rows": 64}).as_dict() == a.as_dict()
    assert load.architecture(Architecture(rows=64), device="sonos").as_dict() == a.as_dict()
    assert load.architecture(preset="isaac").as_dict() == presets.load("isaac").architecture.as_dict()


def test_a_parameter_error_names_the_parameter_in_the_library_and_the_flag_in_the_cli(capsys):
    with pytest.raises(ParameterError) as e:
        load.architecture("a.yaml", preset="isaac")
    assert str(e.value).startswith("parameter 'arch' and parameter 'preset' both given")
    assert e.value.worded({"arch": "--arch", "preset": "--preset", "overrides": "--set"}) == \
        "--arch and --preset both given; choose one (change a preset's keys with --set)"
    with pytest.raises(ArchsimError, match="parameter 'overrides': unknown key 'colour'"):
        archsim.estimate("lenet5", colour="red")
    assert main(["estimate", "-w", "lenet5", "--arch", "a.yaml", "--preset", "isaac"]) == 2
    assert "archsim: error: --arch and --preset both given" in capsys.readouterr().err


def test_overrides_parse_yaml_scalars_and_refuse_the_rest():
    assert load.overrides(["rows=64", "mesh=[2, 3]", "replicate=false"]) == \
        {"rows": 64, "mesh": [2, 3], "replicate": False}
    for bad, why in ((["rows"], "write key=value"), (["rows=1", "rows=2"], "given twice"),
                     (["rows="], "no value"), (["rows={a: 1}"], "is a mapping")):
        with pytest.raises(ParameterError, match=why):
            load.overrides(bad)


def test_network_and_devices():
    wl, builtin = load.network("lenet5")
    assert builtin and wl.name == "lenet5"
    assert load.network(wl) == (wl, False)
    with pytest.raises(ParameterError, match="parameter 'input_shape' applies to"):
        load.network("lenet5", input_shape="1,28,28")
    assert load.devices("sonos, reram") == ["sonos", "reram"]
    with pytest.raises(ParameterError, match="give a comma-separated list"):
        load.devices(",")
    with pytest.raises(ArchsimError, match="mram"):
        load.devices("sonos,mram")
