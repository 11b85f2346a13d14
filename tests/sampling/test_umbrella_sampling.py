"""Umbrella windows on a CG dihedral: bias forces, periodicity, windows that hold."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.calculators.fd import calculate_numerical_forces

from cgkit.ibi import internal_coordinates
from cgkit.mapping import CGMap
from cgkit.sampling.umbrella import CGDihedralUmbrella, umbrella_windows

BEADS = [0, 1, 2, 3]


@pytest.fixture
def hydroxyl_map(ethanol_atoms):
    """CH3 | CH2 | O | H: the bead dihedral is the C-C-O-H torsion."""
    groups = [[0, 6, 7, 8], [1, 4, 5], [2], [3]]
    return CGMap.from_groups(groups, weights="mass", masses=ethanol_atoms.get_masses())


def _bead_dihedral(cgmap, positions):
    return float(np.degrees(internal_coordinates(cgmap.map_positions(positions), "dihedral",
                                                 [BEADS])[0]))  # fmt: skip


def test_bias_forces_equal_finite_differences(ethanol_atoms, hydroxyl_map):
    phi = _bead_dihedral(hydroxyl_map, ethanol_atoms.positions)
    atoms = ethanol_atoms.copy()
    atoms.calc = CGDihedralUmbrella(EMT(), hydroxyl_map, BEADS, phi + 40.0, force_constant=2.0)
    assert atoms.calc.dihedral(atoms.positions) == pytest.approx(phi, abs=1e-9)
    atoms.get_potential_energy()
    bias = atoms.calc.results["bias_energy"]
    assert bias == pytest.approx(0.5 * 2.0 * np.radians(40.0) ** 2, rel=1e-9)
    np.testing.assert_allclose(atoms.get_forces(), calculate_numerical_forces(atoms, eps=1e-5),
                               atol=1e-5)  # fmt: skip
    # the bias alone: its forces push the torsion toward the centre and sum to zero
    _, forces = atoms.calc.bias(atoms.positions)
    np.testing.assert_allclose(forces.sum(0), 0.0, atol=1e-12)
    step = atoms.positions + 1e-3 * forces
    assert atoms.calc.bias(step)[0] < bias


def test_bias_is_periodic_and_zero_at_the_centre(ethanol_atoms, hydroxyl_map):
    phi = _bead_dihedral(hydroxyl_map, ethanol_atoms.positions)
    at_centre = CGDihedralUmbrella(EMT(), hydroxyl_map, BEADS, phi, 5.0)
    energy, forces = at_centre.bias(ethanol_atoms.positions)
    assert energy == 0.0 and np.abs(forces).max() < 1e-12
    # a centre 358° away is 2° away
    across = CGDihedralUmbrella(EMT(), hydroxyl_map, BEADS, phi + 358.0, 5.0)
    assert across.bias(ethanol_atoms.positions)[0] == pytest.approx(
        0.5 * 5.0 * np.radians(2.0) ** 2
    )
    with pytest.raises(ValueError, match="4 bead indices"):
        CGDihedralUmbrella(EMT(), hydroxyl_map, [0, 1, 2], 0.0, 1.0)
    with pytest.raises(ValueError, match="force_constant"):
        CGDihedralUmbrella(EMT(), hydroxyl_map, BEADS, 0.0, 0.0)


def test_windows_hold_the_dihedral_near_their_centres(ethanol_atoms, hydroxyl_map):
    phi = _bead_dihedral(hydroxyl_map, ethanol_atoms.positions)
    centers = [phi + 60.0, phi - 60.0]
    sample = umbrella_windows(
        [ethanol_atoms, ethanol_atoms], EMT, hydroxyl_map, BEADS, centers,
        force_constant=20.0, steps=200, timestep=0.5, interval=20, equilibration=100,
        labeler=lambda atoms: {"n": len(atoms)}, seed=3,
    )  # fmt: skip
    assert sample.positions.shape == (20, 9, 3)
    np.testing.assert_array_equal(sample.window, np.repeat([0, 1], 10))
    assert np.all(sample.labels["n"] == 9) and np.all(sample.bias_energy >= 0)
    for w, center in enumerate(centers):
        offsets = np.angle(np.exp(1j * np.radians(sample.dihedral[sample.window == w] - center)))
        assert np.degrees(np.abs(offsets)).mean() < 25.0
        recomputed = [_bead_dihedral(hydroxyl_map, p) for p in sample.positions[sample.window == w]]
        np.testing.assert_allclose(recomputed, sample.dihedral[sample.window == w], atol=1e-8)
    with pytest.raises(ValueError, match="one start structure per window"):
        umbrella_windows([ethanol_atoms], EMT, hydroxyl_map, BEADS, centers)
