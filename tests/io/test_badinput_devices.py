"""Fault corpus of device files against their kind, generated from the one table the loader reads
(``archsim/model/device_kinds.py``, ``KIND_RULES``): for every kind, each required quantity removed, each
contradicting field added, error laws on exact cells, and levels outside the kind's range are refused in one
line naming the file and the key; the shipped devices all pass; and refused files fail the commands with
exit 2.  A kind added to the table without samples here fails ``test_every_refused_prefix_has_a_sample``.
"""
from __future__ import annotations

import copy

import pytest
import yaml

from archsim.model.device import DeviceKind, load_device
from archsim.model.device_kinds import KIND_RULES, LAW_SECTIONS
from archsim.model.errors import ArchsimError

from archsim.io import techlib

from tests.support import ROOT

#: a shipped file of each kind, the base every case edits
BASE = {"analog": "reram", "digital": "sram", "charge": "sram_charge"}
_Q = {"assumption": "a test value"}
#: a plausible quantity for each refused prefix (dotted key -> quantity)
SAMPLES = {
    "input_line": ("input_line.energy_per_cell", dict(value=0.1, unit="fJ", **_Q)),
    "conductance.g_min": ("conductance.g_min", dict(value=1.0, unit="uS", **_Q)),
    "conductance.g_max": ("conductance.g_max", dict(value=10.0, unit="uS", **_Q)),
    "d2d": ("d2d.sigma_rel", dict(value=0.05, unit="1", **_Q)),
    "programming_error.clip_max": ("programming_error.clip_max", dict(value=10.0, unit="uS", **_Q)),
}
#: a real error law of each law section, to put on an exact cell
LAWS = {
    "programming_error": {"model": "constant", "sigma": dict(value=1.0, unit="uS", **_Q)},
    "read_noise": {"model": "constant", "sigma": dict(value=1.0, unit="uS", **_Q)},
    "drift": {"model": "pcm"},
}


def _doc(kind: str) -> dict:
    return yaml.safe_load((ROOT / "techlib" / "devices" / f"{BASE[kind]}.yaml").read_text())


def _set(doc: dict, dotted: str, value) -> None:
    node = doc
    *head, last = dotted.split(".")
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value


def _drop(doc: dict, dotted: str) -> None:
    node = doc
    *head, last = dotted.split(".")
    for k in head:
        node = node[k]
    del node[last]


def _refused(tmp_path, doc: dict, *words) -> str:
    p = tmp_path / "dev.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ArchsimError) as e:
        load_device(str(p))
    msg = str(e.value)
    assert "\n" not in msg and "dev.yaml" in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


def test_the_table_covers_every_kind_and_the_shipped_devices_pass():
    assert set(KIND_RULES) == {k.value for k in DeviceKind} == set(BASE)
    for name in techlib.device_names():
        load_device(name)     # every shipped device satisfies its kind's rule


def test_every_refused_prefix_has_a_sample():
    for rule in KIND_RULES.values():
        for prefix in rule.refused:
            assert prefix in SAMPLES, prefix


CASES_MISSING = [(k, key) for k, r in KIND_RULES.items() for key in r.required]


@pytest.mark.parametrize("kind,key", CASES_MISSING, ids=[f"{k}-{key}" for k, key in CASES_MISSING])
def test_each_required_quantity_missing_is_refused(tmp_path, kind, key):
    doc = _doc(kind)
    _drop(doc, key)
    _refused(tmp_path, doc, key)


@pytest.mark.parametrize("kind", list(KIND_RULES))
def test_one_of_groups_all_missing_are_refused(tmp_path, kind):
    for group in KIND_RULES[kind].one_of:
        doc = _doc(kind)
        for key in group:
            try:
                _drop(doc, key)
            except KeyError:
                pass
        _refused(tmp_path, doc, *group)


CASES_REFUSED = [(k, p) for k, r in KIND_RULES.items() for p in r.refused]


@pytest.mark.parametrize("kind,prefix", CASES_REFUSED, ids=[f"{k}-{p}" for k, p in CASES_REFUSED])
def test_each_contradicting_field_is_refused(tmp_path, kind, prefix):
    doc = _doc(kind)
    key, q = SAMPLES[prefix]
    _set(doc, key, copy.deepcopy(q))
    _refused(tmp_path, doc, key, f"kind: {kind}")


CASES_LAWS = [(k, s) for k, r in KIND_RULES.items() if not r.laws_allowed for s in LAW_SECTIONS]


@pytest.mark.parametrize("kind,section", CASES_LAWS, ids=[f"{k}-{s}" for k, s in CASES_LAWS])
def test_error_laws_on_exact_cells_are_refused_but_model_none_is_allowed(tmp_path, kind, section):
    doc = _doc(kind)
    doc[section] = copy.deepcopy(LAWS[section])
    _refused(tmp_path, doc, section, f"kind: {kind}")
    doc[section] = {"model": "none"}
    p = tmp_path / "ok.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert load_device(str(p)).kind == kind


def _level_cases():
    out = []
    for kind, r in KIND_RULES.items():
        lo, hi = r.levels
        for v in {lo - 1, hi + 1, 16, 256} - set(range(lo, hi + 1)):
            out.append((kind, v))
    return out


@pytest.mark.parametrize("kind,levels", _level_cases(), ids=[f"{k}-{v}" for k, v in _level_cases()])
def test_levels_outside_the_kinds_range_are_refused(tmp_path, kind, levels):
    doc = _doc(kind)
    doc["conductance"]["levels"]["value"] = levels
    _refused(tmp_path, doc, "conductance.levels")


def test_the_issues_cases_through_the_command_line(capsys, tmp_path):
    """The three cases the issue found priced silently: each is now one line, exit 2, naming the key."""
    from archsim.cli import main as cli
    cases = []
    d = _doc("digital")
    d["conductance"]["levels"]["value"] = 256
    cases.append((d, "conductance.levels"))
    c = _doc("charge")
    c["conductance"]["levels"]["value"] = 16
    cases.append((c, "conductance.levels"))
    n = _doc("digital")
    del n["input_line"]
    cases.append((n, "input_line.energy_per_cell"))
    for doc, key in cases:
        p = tmp_path / "dev.yaml"
        p.write_text(yaml.safe_dump(doc, sort_keys=False))
        for argv in (["estimate", "-w", "mlp", "--device", str(p)],
                     ["accuracy", "-w", "mlp", "--device", str(p), "--samples", "5", "--no-progress"]):
            rc = cli.main(argv)
            err = capsys.readouterr().err.strip().splitlines()
            assert rc == 2 and len(err) == 1 and key in err[0] and "dev.yaml" in err[0], err
