"""The numbered tutorials run as scripts in their CGKIT_SMOKE=1 mode and end on their asserts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"

#: script -> files (relative to its output folder) that the smoke run must write
EXPECTED_OUTPUTS = {
    "01_build_and_share_a_dataset.py": ["bithiophene.h5", "bithiophene.zarr", "roundtrip.h5"],
    "02_ecg_calculator_in_ase.py": [
        "ecg-homo-8bead.pt",
        "homo_along_trajectory.png",
        "homo_dos.png",
    ],
    "03_choosing_a_cg_map.py": ["bithiophene.h5", "cgmp_4bead.json"],
    "04_cg_only_dos_via_ibi.py": ["ibi/potentials.json", "ibi/iteration_00.png"],
    "05_backmapping.py": ["dbm.pt"],
    "06_scaling_out_with_dask.py": ["pool.h5", "dask.zarr"],
}


def run_tutorial(
    name: str, tmp_path: Path, **extra_env
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run ``tutorials/name`` in smoke mode with cwd ``tmp_path``; returns (result, out dir)."""
    out = tmp_path / "out"
    env = {
        **os.environ,
        "CGKIT_SMOKE": "1",
        "CGKIT_TUTORIAL_OUT": str(out),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        **extra_env,
    }
    result = subprocess.run(
        [sys.executable, str(TUTORIALS / name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result, out


def check_run(name: str, tmp_path: Path) -> None:
    result, out = run_tutorial(name, tmp_path)
    assert result.returncode == 0, (
        f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    number = name[:2]
    assert f"tutorial {number} done" in result.stdout
    for relative in EXPECTED_OUTPUTS[name]:
        assert (out / relative).exists(), f"{name} did not write {relative}"
    # everything goes to the output folder: nothing else appears in the working directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_every_tutorial_is_a_percent_format_notebook_with_a_smoke_mode():
    scripts = sorted(p.name for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
    assert scripts == sorted(EXPECTED_OUTPUTS)
    for name in scripts:
        text = (TUTORIALS / name).read_text()
        assert text.count("\n# %% [markdown]") >= 2, name
        assert len(re.findall(r"^# %%$", text, flags=re.M)) >= 2, name
        assert 'os.environ.get("CGKIT_SMOKE") == "1"' in text, name
        assert 'os.environ.get("CGKIT_TUTORIAL_OUT")' in text, name


@pytest.mark.slow
def test_01_build_and_share_a_dataset(tmp_path):
    check_run("01_build_and_share_a_dataset.py", tmp_path)


@pytest.mark.slow
def test_02_ecg_calculator_in_ase(tmp_path):
    check_run("02_ecg_calculator_in_ase.py", tmp_path)


@pytest.mark.slow
def test_03_choosing_a_cg_map(tmp_path):
    check_run("03_choosing_a_cg_map.py", tmp_path)


@pytest.mark.slow
def test_04_cg_only_dos_via_ibi(tmp_path):
    check_run("04_cg_only_dos_via_ibi.py", tmp_path)


@pytest.mark.slow
def test_05_backmapping(sps_dir, tmp_path):
    check_run("05_backmapping.py", tmp_path)


def test_05_backmapping_without_the_shared_data_exits_cleanly(tmp_path):
    result, out = run_tutorial(
        "05_backmapping.py", tmp_path, CGKIT_SHARED=str(tmp_path / "no_shared_data")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tutorial 05 skipped: the sPS melt data is not at" in result.stdout
    assert not (out / "dbm.pt").exists()


@pytest.mark.slow
def test_06_scaling_out_with_dask(tmp_path):
    check_run("06_scaling_out_with_dask.py", tmp_path)
