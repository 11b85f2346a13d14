"""Shared fixtures: seeded tiny molecules and (optional) paths to ../shared data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CGKIT_SHARED", ROOT.parent / "shared")) / "data"
BITHIOPHENE_DIR = SHARED / "bithiophene_dft"
SPS_DIR = SHARED / "sps_melt"


@pytest.fixture(scope="session")
def bithiophene_dir() -> Path:
    """Path of ../shared/data/bithiophene_dft; skips the test when absent."""
    if not (BITHIOPHENE_DIR / "train.npz").exists():
        pytest.skip(f"shared bithiophene data not found at {BITHIOPHENE_DIR}")
    return BITHIOPHENE_DIR


@pytest.fixture(scope="session")
def bithiophene_npz(bithiophene_dir):
    """The loaded train.npz (symbols, positions Å, homo_eV, lumo_eV, energy_eV)."""
    with np.load(bithiophene_dir / "train.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def sps_dir() -> Path:
    """Path of ../shared/data/sps_melt; skips the test when absent."""
    if not (SPS_DIR / "mapping" / "PS1.map").exists():
        pytest.skip(f"shared sPS data not found at {SPS_DIR}")
    return SPS_DIR


@pytest.fixture
def rng():
    """A seeded NumPy generator."""
    return np.random.default_rng(12345)


@pytest.fixture
def water_atoms():
    """One water molecule as ase.Atoms (O, H, H)."""
    from ase.build import molecule

    return molecule("H2O")


@pytest.fixture
def ethanol_atoms():
    """Ethanol (9 atoms) as ase.Atoms, with a small seeded distortion."""
    from ase.build import molecule

    atoms = molecule("CH3CH2OH")
    atoms.positions += np.random.default_rng(7).normal(scale=0.02, size=atoms.positions.shape)
    return atoms
