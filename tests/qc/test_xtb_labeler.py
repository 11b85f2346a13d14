"""XTBLabeler: units, forces = -dE/dx, invariances, open shells, failures and retries."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cgkit.qc import (
    LabelingError,
    RetryPolicy,
    SCFConvergenceError,
    XTBLabeler,
    frontier_orbitals,
    label_with_retry,
    labeler_from_dict,
    orbital_properties,
)

TEMPO_SMILES = "CC1(C)CCCC(C)(C)N1[O]"


@pytest.fixture(scope="module")
def labeler():
    return XTBLabeler("GFN2-xTB")


def test_energy_matches_tblite_ase_calculator(labeler, ethanol_atoms):
    from tblite.ase import TBLite

    atoms = ethanol_atoms.copy()
    atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
    values = labeler(ethanol_atoms)
    assert values["energy"] == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(values["forces"], atoms.get_forces(), atol=1e-6)
    assert values["gap"] == pytest.approx(values["lumo"] - values["homo"])
    assert values["forces"].shape == (9, 3) and values["dipole"].shape == (3,)


def test_forces_are_negative_energy_gradient(labeler, ethanol_atoms):
    forces = labeler(ethanol_atoms)["forces"]
    h = 1e-4
    for atom, axis in [(0, 0), (2, 1), (8, 2)]:
        plus, minus = ethanol_atoms.copy(), ethanol_atoms.copy()
        plus.positions[atom, axis] += h
        minus.positions[atom, axis] -= h
        numeric = -(labeler(plus)["energy"] - labeler(minus)["energy"]) / (2 * h)
        assert forces[atom, axis] == pytest.approx(numeric, abs=2e-4)


def test_rigid_motion_invariance(labeler, ethanol_atoms):
    reference = labeler(ethanol_atoms)
    rotation = Rotation.from_euler("xyz", [30, -50, 110], degrees=True).as_matrix()
    moved = ethanol_atoms.copy()
    moved.positions = ethanol_atoms.positions @ rotation.T + np.array([3.0, -1.0, 7.5])
    values = labeler(moved)
    for key in ("energy", "homo", "lumo", "gap"):
        assert values[key] == pytest.approx(reference[key], abs=1e-6)
    np.testing.assert_allclose(values["forces"], reference["forces"] @ rotation.T, atol=1e-6)
    # neutral molecule: the dipole rotates with it and does not depend on the origin
    np.testing.assert_allclose(values["dipole"], reference["dipole"] @ rotation.T, atol=1e-6)


def test_frontier_orbitals_count_singly_occupied_as_homo():
    energies = np.array([-12.0, -10.0, -7.0, -1.0, 2.0])
    assert frontier_orbitals(energies, np.array([2, 2, 1, 0, 0])) == (-7.0, -1.0)
    assert frontier_orbitals(energies, np.array([2, 2, 2, 0, 0])) == (-7.0, -1.0)
    assert frontier_orbitals(energies, np.array([1, 1, 0.9, 0.1, 0])) == (-7.0, -1.0)
    spin = orbital_properties(
        np.stack([energies, energies + 0.5]), np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
    )
    assert spin["homo_alpha"] == -7.0 and spin["homo_beta"] == -9.5
    assert spin["lumo_alpha"] == -1.0 and spin["lumo_beta"] == -6.5
    assert spin["homo"] == -7.0 and spin["lumo"] == -6.5


def test_tempo_radical_somo_is_the_homo():
    from cgkit.sampling import from_smiles, smiles_multiplicity

    atoms = from_smiles(TEMPO_SMILES, seed=1)
    assert smiles_multiplicity(TEMPO_SMILES) == 2
    unrestricted = XTBLabeler(multiplicity=2)(atoms)
    assert {"homo_alpha", "homo_beta", "lumo_alpha", "lumo_beta"} <= set(unrestricted)
    # one unpaired alpha electron: the alpha SOMO lies above the highest beta orbital,
    # and the beta partner of the SOMO is empty (the beta LUMO lies below the alpha LUMO)
    assert unrestricted["homo"] == unrestricted["homo_alpha"] > unrestricted["homo_beta"]
    assert unrestricted["lumo"] == unrestricted["lumo_beta"] < unrestricted["lumo_alpha"]
    assert unrestricted["lumo_beta"] > unrestricted["homo_alpha"]

    restricted = XTBLabeler(multiplicity=2, spin_polarization=0.0)
    values = restricted(atoms)
    assert "homo_alpha" not in values
    calc = restricted._calculators[next(iter(restricted._calculators))]
    result = calc.singlepoint()
    from ase.units import Hartree

    occupations = result.get("orbital-occupations")
    somo = int(np.flatnonzero(np.isclose(occupations, 1.0, atol=1e-3))[0])
    assert values["homo"] == pytest.approx(result.get("orbital-energies")[somo] * Hartree)
    # the wrong test (occupation > 1) would report the doubly occupied orbital below
    assert values["homo"] > result.get("orbital-energies")[somo - 1] * Hartree + 1e-3


def test_scf_failure_is_recorded_with_reason_after_retries(ethanol_atoms):
    labeler = XTBLabeler(max_iterations=2)
    with pytest.raises(SCFConvergenceError, match="not converged"):
        labeler(ethanol_atoms)
    outcome = label_with_retry(labeler, ethanol_atoms, RetryPolicy(max_attempts=2))
    assert not outcome.ok and outcome.attempts == 2
    assert "SCFConvergenceError" in outcome.reason and "not converged" in outcome.reason


def test_retry_uses_robust_settings_and_recovers(ethanol_atoms):
    # a limit too low for the first attempt; the retry doubles it and damps the mixer
    reference = XTBLabeler()(ethanol_atoms)
    for limit in range(3, 40):
        labeler = XTBLabeler(max_iterations=limit)
        outcome = label_with_retry(labeler, ethanol_atoms, RetryPolicy(max_attempts=2))
        if outcome.ok and outcome.attempts == 2:
            break
    else:
        pytest.fail("no iteration limit where only the retry converged")
    assert outcome.errors and "not converged" in outcome.errors[0]
    assert outcome.values["energy"] == pytest.approx(reference["energy"], abs=1e-5)


def test_non_finite_positions_fail_cleanly_without_retry(labeler, ethanol_atoms):
    atoms = ethanol_atoms.copy()
    atoms.positions[3, 1] = np.nan
    with pytest.raises(LabelingError, match="NaN"):
        labeler(atoms)
    outcome = label_with_retry(labeler, atoms, RetryPolicy(max_attempts=3))
    assert not outcome.ok and outcome.attempts == 1


def test_config_round_trip_gives_same_labels(ethanol_atoms):
    labeler = XTBLabeler("GFN1-xTB", electronic_temperature=500.0)
    rebuilt = labeler_from_dict(labeler.to_dict())
    assert rebuilt.to_dict() == labeler.to_dict()
    a, b = labeler(ethanol_atoms), rebuilt(ethanol_atoms)
    assert a["energy"] == b["energy"] and a["homo"] == b["homo"]
    with pytest.raises(ValueError, match="unknown xTB method"):
        XTBLabeler("GFN3-xTB")
    with pytest.raises(ValueError, match="unknown labeler kind"):
        labeler_from_dict({"kind": "orca"})


def test_retry_policy_matches_exception_names():
    policy = RetryPolicy(max_attempts=3, retry_on=("LabelingError",))
    assert policy.should_retry(SCFConvergenceError("x"), 0)
    assert not policy.should_retry(SCFConvergenceError("x"), 2)
    assert not policy.should_retry(ValueError("x"), 0)
    assert RetryPolicy(retry_on=("Exception",)).should_retry(ValueError("x"), 0)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
