"""Technology library: devices, circuits, presets and published figures as YAML data files, each number
with its source (paper, table, figure) or marked as an assumption.

This package is data and a thin entry point: it says where the files are and imports nothing.  The reader
that parses and checks them (units to SI, provenance kept) is :mod:`archsim.io.techlib`; adding a device
is adding a file under ``devices/``.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEVICE_DIR = ROOT / "devices"
CIRCUIT_DIR = ROOT / "circuits"
PRESET_DIR = ROOT / "presets"
PUBLISHED_DIR = ROOT / "published"
