"""Units registry, optional-extra errors and the CLI dispatcher."""

import subprocess
import sys

import pytest

from cgkit import __version__
from cgkit._optional import MissingExtraError, require
from cgkit.cli import main
from cgkit.units import HARTREE_EV, KEYS, unit_of


def test_units_defined_once():
    assert unit_of("positions") == "Å"
    assert unit_of("homo") == "eV"
    assert unit_of("forces") == "eV/Å"
    assert abs(HARTREE_EV - 27.211386) < 1e-5
    assert all(key.name == name for name, key in KEYS.items())
    with pytest.raises(KeyError, match="no registered unit"):
        unit_of("not_a_quantity")


def test_missing_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyscf", None)  # makes `import pyscf` fail
    with pytest.raises(MissingExtraError, match=r"cgkit\[dft\]"):
        require("pyscf")


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out
    assert main([]) == 0


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "cgkit", "--help"], capture_output=True, text=True, check=True
    )
    assert "COMMAND" in result.stdout


def test_import_cgkit_does_not_import_torch():
    code = "import sys, cgkit, cgkit.calculators, cgkit.units; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
