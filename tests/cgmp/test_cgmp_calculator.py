"""CGMPCalculator: ASE adapter around a fitted CGMPRanker."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from scipy.spatial.transform import Rotation

from cgkit.calculators import CGMPCalculator
from cgkit.cgmp import CGMPRanker


@pytest.fixture(scope="module")
def ranker():
    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    base = np.array([[0, 0, 0], [1.5, 0, 0], [2.2, 1.3, 0], [3.7, 1.3, 0.2], [-0.6, 0.9, 0]])
    positions = base + rng.normal(scale=0.2, size=(60, 5, 3))
    y = np.linalg.norm(positions[:, 0] - positions[:, 2], axis=1)
    data = {"numbers": [6, 6, 8, 6, 1], "positions": positions, "y": y}
    return CGMPRanker(hidden=8, layers=1, warmup=2, epochs_per_step=1, seed=0).fit(data)


def _atoms(rng):
    base = np.array([[0, 0, 0], [1.5, 0, 0], [2.2, 1.3, 0], [3.7, 1.3, 0.2], [-0.6, 0.9, 0]])
    return Atoms("C2OCH", positions=base + rng.normal(scale=0.2, size=(5, 3)))


def test_calculator_matches_ranker_and_writes_arrays(ranker, rng):
    atoms = _atoms(rng)
    atoms.calc = CGMPCalculator(ranker, resolution=2)
    value = atoms.calc.get_property("homo", atoms)
    assert value == pytest.approx(float(ranker.predict(atoms.positions[None], 2)[0]), abs=1e-6)
    contributions = atoms.arrays["cgmp_homo_contributions"]
    assert atoms.info["cgmp_homo"] == pytest.approx(value)
    kept = set(ranker.kept_(2).tolist())
    assert np.all(contributions[[i for i in range(5) if i not in kept]] == 0.0)
    # contributions carry all frame dependence: prediction - sum is a constant offset
    other = _atoms(rng)
    other.calc = CGMPCalculator(ranker, resolution=2)
    other_value = other.calc.get_property("homo", other)
    offset = value - contributions.sum()
    other_offset = other_value - other.arrays["cgmp_homo_contributions"].sum()
    assert offset == pytest.approx(other_offset, abs=1e-5)


def test_calculator_invariant_to_rigid_motion(ranker, rng):
    atoms = _atoms(rng)
    atoms.calc = CGMPCalculator(ranker)
    value = atoms.calc.get_property("homo", atoms)
    moved = atoms.copy()
    moved.positions = atoms.positions @ Rotation.random(random_state=2).as_matrix().T + 4.0
    moved.calc = CGMPCalculator(ranker)
    assert moved.calc.get_property("homo", moved) == pytest.approx(value, abs=1e-5)


def test_calculator_rejects_other_molecules(ranker, rng):
    atoms = _atoms(rng)
    atoms.numbers[2] = 7
    atoms.calc = CGMPCalculator(ranker, resolution=3)
    with pytest.raises(ValueError, match="atom 2 has atomic number 7"):
        atoms.calc.get_property("homo", atoms)
    with pytest.raises(ValueError, match="resolution 9 was not recorded"):
        CGMPCalculator(ranker, resolution=9)
