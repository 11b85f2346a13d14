"""PySCFLabeler: functional spellings, forces = -dE/dx, open shells, failures, published labels."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

pytest.importorskip("pyscf")

from cgkit.qc import (  # noqa: E402
    LabelingError,
    PySCFLabeler,
    RetryPolicy,
    SCFConvergenceError,
    label_with_retry,
    labeler_from_dict,
    resolve_xc,
)


def test_wb97x_d3_spelling_resolves_to_libxc():
    from pyscf.dft import libxc

    assert resolve_xc("wB97X-D3") == "HYB_GGA_XC_WB97X_D3"
    assert libxc.parse_xc(resolve_xc("wb97x-d3"))[1][0][0] == 399
    assert resolve_xc("PBE0") == "PBE0"


def test_forces_are_negative_energy_gradient(water_atoms):
    labeler = PySCFLabeler("pbe", "sto-3g", density_fit=True)
    values = labeler(water_atoms)
    assert set(values) == {"energy", "forces", "homo", "lumo", "gap", "dipole"}
    h = 1e-3
    plus, minus = water_atoms.copy(), water_atoms.copy()
    plus.positions[1, 2] += h
    minus.positions[1, 2] -= h
    numeric = -(labeler(plus)["energy"] - labeler(minus)["energy"]) / (2 * h)
    assert values["forces"][1, 2] == pytest.approx(numeric, abs=2e-3)
    # net force vanishes (translation invariance) and the dipole points along the C2 axis
    np.testing.assert_allclose(values["forces"].sum(axis=0), 0.0, atol=2e-3)
    assert abs(values["dipole"][2]) > 0.2 and np.allclose(values["dipole"][:2], 0, atol=1e-6)
    assert values["gap"] == pytest.approx(values["lumo"] - values["homo"])


def test_radical_is_unrestricted_with_somo_as_homo():
    hydroxyl = Atoms("OH", positions=[[0, 0, 0], [0, 0, 0.97]])
    labeler = PySCFLabeler("b3lyp", "sto-3g", multiplicity=2, properties=("energy", "homo", "lumo"))
    values = labeler(hydroxyl)
    assert labeler.properties[-4:] == ("homo_alpha", "homo_beta", "lumo_alpha", "lumo_beta")
    # OH (doublet Pi): 5 alpha and 4 beta electrons; in UKS the exchange-stabilised alpha
    # SOMO lies below the beta HOMO, so the HOMO is the higher of the two channels
    assert values["homo"] == max(values["homo_alpha"], values["homo_beta"])
    assert values["lumo"] == min(values["lumo_alpha"], values["lumo_beta"])
    assert values["lumo_beta"] > values["homo_alpha"] and values["lumo"] > values["homo"]
    rebuilt = labeler_from_dict(labeler.to_dict())
    assert rebuilt(hydroxyl)["homo"] == pytest.approx(values["homo"], abs=1e-8)


def test_scf_failure_and_bad_input_become_per_frame_failures(water_atoms):
    labeler = PySCFLabeler("pbe", "sto-3g", max_cycle=1, properties=("energy", "homo"))
    with pytest.raises(SCFConvergenceError, match="not converged in 1 cycles"):
        labeler(water_atoms)
    outcome = label_with_retry(labeler, water_atoms, RetryPolicy(max_attempts=2))
    assert not outcome.ok and outcome.attempts == 2 and "SCFConvergenceError" in outcome.reason
    hydroxyl = water_atoms[:2]  # OH has 9 electrons: it cannot be a singlet
    outcome = label_with_retry(PySCFLabeler("pbe", "sto-3g"), hydroxyl, RetryPolicy(3))
    assert not outcome.ok and outcome.attempts == 1 and "LabelingError" in outcome.reason


@pytest.mark.slow
def test_reproduces_published_bithiophene_frame0(bithiophene_npz):
    atoms = Atoms(
        symbols=[str(s) for s in bithiophene_npz["symbols"]],
        positions=bithiophene_npz["positions"][0],
    )
    labeler = PySCFLabeler("wb97x-d3", "def2-svp", density_fit=True, properties=("homo", "lumo"))
    values = labeler(atoms)
    assert values["homo"] == pytest.approx(-7.7904, abs=5e-3)
    assert values["lumo"] == pytest.approx(0.7236, abs=5e-3)
    assert values["homo"] == pytest.approx(bithiophene_npz["homo_eV"][0], abs=5e-3)
    assert values["lumo"] == pytest.approx(bithiophene_npz["lumo_eV"][0], abs=5e-3)


@pytest.mark.filterwarnings("ignore:Basis may be available")
def test_crash_inside_pyscf_is_a_labeling_error(water_atoms):
    labeler = PySCFLabeler("pbe", "no-such-basis", properties=("energy",))
    with pytest.raises(LabelingError, match="no-such-basis"):
        labeler(water_atoms)
