"""Tabulated CG force field: spline values, analytic forces vs finite differences, invariance."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.fd import calculate_numerical_forces
from scipy.spatial.transform import Rotation

from cgkit.calculators.tabulated import TabulatedCGCalculator
from cgkit.ibi import StackedSplines, TabulatedPotential, coordinate_gradients
from cgkit.ibi.coordinates import internal_coordinates


def _table(kind, tuples, lo, hi, rng, name, n=40):
    if kind == "dihedral":
        grid = -np.pi + 2 * np.pi / n * (np.arange(n) + 0.5)
        values = 0.05 * np.cos(grid - 0.3) + 0.02 * np.cos(3 * grid) + 0.003 * rng.normal(size=n)
    else:
        grid = np.linspace(lo, hi, n)
        centre = 0.5 * (lo + hi)
        values = 0.8 * (grid - centre) ** 2 / (hi - lo) ** 2 + 0.003 * rng.normal(size=n)
    return TabulatedPotential(kind, tuples, grid, values, name)


@pytest.fixture
def chain(rng):
    """A 6-bead zig-zag chain with bond, angle, dihedral and pair tables (several tuples)."""
    positions = np.array(
        [
            [0, 0, 0],
            [1.5, 0.3, 0],
            [2.6, -0.6, 0.4],
            [4.0, 0.0, 0.9],
            [5.0, 1.1, 0.2],
            [6.3, 0.6, -0.5],
        ],
        float,
    ) + rng.normal(scale=0.1, size=(6, 3))
    potentials = [
        _table("bond", [[0, 1], [1, 2], [2, 3]], 1.0, 2.0, rng, "bond A"),
        _table("bond", [[3, 4], [4, 5]], 1.2, 1.8, rng, "bond B"),  # some bonds fall outside
        _table("angle", [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], 1.2, 2.9, rng, "angle"),
        _table("dihedral", [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]], 0, 0, rng, "dih"),
        _table("pair", [[0, 4], [0, 5], [1, 5]], 3.0, 7.0, rng, "pair"),
    ]
    return positions, potentials


def test_stacked_splines_match_scipy_inside_and_continue_linearly(rng):
    grids = [np.linspace(1.0, 2.0, 30), np.linspace(0.5, 3.0, 50)]
    values = [np.sin(3 * g) + rng.normal(scale=0.01, size=g.size) for g in grids]
    splines = StackedSplines(grids, values, periodic=False)
    potentials = [
        TabulatedPotential("bond", [[0, 1]], g, v) for g, v in zip(grids, values, strict=True)
    ]
    for table, (grid, potential) in enumerate(zip(grids, potentials, strict=True)):
        x = rng.uniform(grid[0], grid[-1], 200)
        energy, derivative = splines(np.full(200, table), x)
        reference = potential.spline()
        np.testing.assert_allclose(energy, reference(x), atol=1e-10)
        np.testing.assert_allclose(derivative, reference(x, 1), atol=1e-8)
        # beyond the table: straight line with the end slope
        outside = np.array([grid[-1] + 0.3, grid[0] - 0.2])
        energy, derivative = splines(np.full(2, table), outside)
        np.testing.assert_allclose(derivative, [reference(grid[-1], 1), reference(grid[0], 1)])
        np.testing.assert_allclose(energy[0], reference(grid[-1]) + 0.3 * reference(grid[-1], 1))


def test_periodic_spline_is_periodic_and_smooth(rng):
    n = 36
    grid = -np.pi + 2 * np.pi / n * (np.arange(n) + 0.5)
    potential = TabulatedPotential(
        "dihedral", [[0, 1, 2, 3]], grid, np.cos(grid) + 0.1 * np.sin(2 * grid)
    )
    x = rng.uniform(-np.pi, np.pi, 50)
    e0, d0 = potential.evaluate(x)
    e1, d1 = potential.evaluate(x + 2 * np.pi)
    np.testing.assert_allclose(e0, e1, atol=1e-12)
    np.testing.assert_allclose(d0, d1, atol=1e-12)
    np.testing.assert_allclose(e0, np.cos(x) + 0.1 * np.sin(2 * x), atol=2e-3)  # interpolates
    # continuous value and slope across the seam at -pi
    e, d = potential.evaluate(np.array([-np.pi - 1e-7, -np.pi + 1e-7]))
    assert abs(e[0] - e[1]) < 1e-6 and abs(d[0] - d[1]) < 1e-5


@pytest.mark.parametrize(
    "kind,tuples",
    [
        ("bond", [[0, 3], [1, 2]]),
        ("angle", [[0, 1, 2], [4, 2, 3]]),
        ("dihedral", [[0, 1, 2, 3], [4, 3, 1, 0]]),
    ],
)
def test_coordinate_gradients_match_finite_differences(rng, kind, tuples):
    positions = rng.normal(scale=1.5, size=(5, 3))
    tuples = np.array(tuples)
    values, gradients = coordinate_gradients(positions, kind, tuples)
    np.testing.assert_allclose(values, internal_coordinates(positions, kind, tuples))
    eps = 1e-6
    for k, members in enumerate(tuples):
        for slot, bead in enumerate(members):
            for axis in range(3):
                shifted = positions.copy()
                shifted[bead, axis] += eps
                plus = internal_coordinates(shifted, kind, tuples)[k]
                shifted[bead, axis] -= 2 * eps
                minus = internal_coordinates(shifted, kind, tuples)[k]
                difference = plus - minus
                if kind == "dihedral":
                    difference = (difference + np.pi) % (2 * np.pi) - np.pi
                assert gradients[k, slot, axis] == pytest.approx(difference / (2 * eps), abs=1e-6)


def test_calculator_forces_equal_finite_differences(chain):
    positions, potentials = chain
    atoms = Atoms("X6", positions=positions)
    atoms.calc = TabulatedCGCalculator(potentials)
    numeric = calculate_numerical_forces(atoms, eps=1e-5)
    np.testing.assert_allclose(atoms.get_forces(), numeric, atol=1e-6)
    # stretch one bond beyond its table: forces still exact, pulling it back
    stretched = atoms.copy()
    stretched.positions[5] += 2.0 * (positions[5] - positions[4])
    stretched.calc = TabulatedCGCalculator(potentials)
    np.testing.assert_allclose(
        stretched.get_forces(), calculate_numerical_forces(stretched, eps=1e-5), atol=1e-6
    )
    energy_by_name = stretched.calc.interaction_energies(stretched.positions)
    assert sum(energy_by_name.values()) == pytest.approx(stretched.get_potential_energy())


def test_energy_invariant_to_rotation_and_translation(chain, rng):
    positions, potentials = chain
    calculator = TabulatedCGCalculator(potentials)
    energy, forces = calculator.energy_and_forces(positions)
    rotation = Rotation.random(random_state=3).as_matrix()
    moved = positions @ rotation.T + rng.normal(size=3) * 10
    energy_moved, forces_moved = calculator.energy_and_forces(moved)
    assert energy_moved == pytest.approx(energy, abs=1e-10)
    np.testing.assert_allclose(forces_moved, forces @ rotation.T, atol=1e-9)
    # internal forces: no net force, no net torque
    np.testing.assert_allclose(forces.sum(0), 0, atol=1e-10)
    np.testing.assert_allclose(np.cross(positions, forces).sum(0), 0, atol=1e-9)


def test_replicated_copies_do_not_interact(chain, rng):
    from cgkit.ibi.iterate import replicate

    positions, potentials = chain
    other = positions + rng.normal(scale=0.1, size=positions.shape)
    copies = TabulatedCGCalculator(replicate(potentials, 6, 2))
    single = TabulatedCGCalculator(potentials)
    energy, forces = copies.energy_and_forces(np.concatenate([positions, other]))
    e1, f1 = single.energy_and_forces(positions)
    e2, f2 = single.energy_and_forces(other)
    assert energy == pytest.approx(e1 + e2, abs=1e-12)
    np.testing.assert_allclose(forces, np.concatenate([f1, f2]), atol=1e-12)
