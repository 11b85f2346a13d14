"""CG topology selection, JSON round trip of tables, and clear errors on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms

from cgkit.calculators.tabulated import TabulatedCGCalculator
from cgkit.ibi import (
    TabulatedPotential,
    cg_interactions,
    coordinate_spread,
    default_grid,
    independent_interactions,
    stiffest_first,
    without_ring_angles,
)


def _butane_like(rng, n_frames=10):
    base = np.array([[0, 0, 0], [1.5, 0, 0], [2.0, 1.4, 0], [3.5, 1.5, 0.6]], float)
    return base + rng.normal(scale=0.05, size=(n_frames, 4, 3))


def test_chain_topology_keeps_every_internal_coordinate(rng):
    interactions = cg_interactions(
        4, [[0, 1], [1, 2], [2, 3]], [[0, 1, 2], [1, 2, 3]], [[0, 1, 2, 3]]
    )
    kept, redundant = independent_interactions(_butane_like(rng), interactions)
    assert [i.name for i in kept] == [i.name for i in interactions]  # 3N-6 = 6, none redundant
    assert redundant == []


def test_triangle_angles_and_duplicate_torsions_are_redundant(rng):
    # two bead triangles joined by a bond: 0-1-2 and 3-4-5, link 1-3
    bonds = [[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5], [1, 3]]
    angles = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 3], [2, 1, 3], [1, 3, 4], [1, 3, 5]]
    dihedrals = [[0, 1, 3, 4], [0, 1, 3, 5], [2, 1, 3, 4], [2, 1, 3, 5]]
    assert without_ring_angles(angles, bonds).tolist() == [
        [0, 1, 3],
        [2, 1, 3],
        [1, 3, 4],
        [1, 3, 5],
    ]
    frames = np.array(
        [[0, 1, 0], [0, 0, 0], [1, 0.6, 0], [-1.5, -0.2, 0], [-2.2, -1.0, 0.8], [-2.4, -0.6, -0.8]],
        float,
    ) + rng.normal(scale=0.05, size=(12, 6, 3))
    interactions = cg_interactions(6, bonds, angles, dihedrals)
    kept, redundant = independent_interactions(frames, interactions)
    assert sum(i.kind == "bond" for i in kept) == 7
    assert not {"angle 0-1-2", "angle 1-2-0", "angle 2-0-1"} & {i.name for i in kept}
    assert len(kept) == 3 * 6 - 6  # exactly the internal degrees of freedom
    # bead 3 lies in the plane of triangle 0-1-2: the second angle at bead 1 adds nothing,
    # the out-of-plane motion comes from a torsion; of four torsions about 1-3, two remain
    assert "angle 2-1-3" in {i.name for i in redundant}
    assert sum(i.kind == "dihedral" for i in kept) == 2
    assert len(kept) + len(redundant) == len(interactions)


def test_stiffest_first_orders_by_spread(rng):
    frames = _butane_like(rng, 200)
    frames[:, 3] += rng.normal(scale=0.4, size=(200, 3))  # a floppy end bead
    interactions = cg_interactions(
        4, [[0, 1], [1, 2], [2, 3]], [[0, 1, 2], [1, 2, 3]], [[0, 1, 2, 3]]
    )
    ordered = stiffest_first(frames, interactions)
    assert [i.kind for i in ordered[:3]] == ["bond"] * 3
    spreads = [coordinate_spread(frames, i) for i in ordered[3:]]
    assert spreads == sorted(spreads) and ordered[3].name == "angle 0-1-2"


def test_pairs_and_type_grouping():
    bonds = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]
    pairs = [i for i in cg_interactions(6, bonds, pairs=True) if i.kind == "pair"]
    assert sorted(map(tuple, pairs_tuples(pairs))) == [(0, 4), (0, 5), (1, 5)]
    grouped = cg_interactions(6, bonds, bead_types="ABABAB", group="type")
    assert len(grouped) == 1 and grouped[0].name == "bond A-B" and len(grouped[0].tuples) == 5
    with pytest.raises(ValueError, match="bead_types"):
        cg_interactions(6, bonds, group="type")
    with pytest.raises(ValueError, match="group"):
        cg_interactions(6, bonds, group="kind")


def pairs_tuples(sets):
    return np.concatenate([s.tuples for s in sets])


def test_default_grids():
    dihedral = default_grid("dihedral", np.zeros(3), 36)
    assert dihedral[0] == pytest.approx(-np.pi + np.pi / 36) and len(dihedral) == 36
    angle = default_grid("angle", np.array([0.1, 3.1]))
    assert angle[0] > 0 and angle[-1] < np.pi


def _potentials():
    grid = np.linspace(1.0, 2.0, 30)
    n = 24
    dihedral_grid = -np.pi + 2 * np.pi / n * (np.arange(n) + 0.5)
    return [
        TabulatedPotential("bond", [[0, 1], [1, 2]], grid, 3 * (grid - 1.5) ** 2, "bond"),
        TabulatedPotential("angle", [[0, 1, 2]], grid, (grid - 1.9) ** 2, "angle"),
        TabulatedPotential("dihedral", [[0, 1, 2, 3]], dihedral_grid, np.cos(dihedral_grid), "dih"),
        TabulatedPotential("bond", [[2, 3]], grid, 2 * (grid - 1.4) ** 2, "bond 2-3"),
    ]


def test_json_round_trip_gives_identical_energies_and_forces(tmp_path, rng):
    calculator = TabulatedCGCalculator(_potentials())
    path = tmp_path / "tables.json"
    calculator.write(path)
    document = json.loads(path.read_text())
    assert document["schema"] == "cgkit.tabulated/1" and "cgkit_version" in document
    assert document["potentials"][0]["units"] == {"grid": "Å", "values": "eV"}
    loaded = TabulatedCGCalculator.read(path)
    positions = np.array([[0, 0, 0], [1.5, 0, 0], [2.2, 1.2, 0], [3.5, 1.4, 0.8]]) + rng.normal(
        scale=0.1, size=(4, 3)
    )
    e1, f1 = calculator.energy_and_forces(positions)
    e2, f2 = loaded.energy_and_forces(positions)
    assert e1 == e2
    np.testing.assert_array_equal(f1, f2)


def test_bad_files_and_tables_raise_clear_errors(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json.*not a JSON"):
        TabulatedCGCalculator.read(path)
    path.write_text(json.dumps({"schema": "other/1", "potentials": []}))
    with pytest.raises(ValueError, match="unknown schema"):
        TabulatedCGCalculator.read(path)
    table = _potentials()[0].to_dict()
    table["values"][3] = None
    path.write_text(json.dumps({"schema": "cgkit.tabulated/1", "potentials": [table]}))
    with pytest.raises(ValueError, match="bad.json.*invalid potential"):
        TabulatedCGCalculator.read(path)
    grid = np.linspace(1.0, 2.0, 10)
    with pytest.raises(ValueError, match="'b'.*non-finite"):
        TabulatedPotential("bond", [[0, 1]], grid, np.full(10, np.nan), "b")
    with pytest.raises(ValueError, match="regular"):
        TabulatedPotential("bond", [[0, 1]], grid**2, grid, "b")
    with pytest.raises(ValueError, match="span 2 pi"):
        TabulatedPotential("dihedral", [[0, 1, 2, 3]], grid, grid, "d")
    with pytest.raises(ValueError, match="unknown interaction kind"):
        TabulatedPotential("improper", [[0, 1, 2, 3]], grid, grid, "i")


def test_calculator_refuses_periodic_cells_and_missing_beads():
    atoms = Atoms("X3", positions=[[0, 0, 0], [1.5, 0, 0], [2, 1, 0]])
    atoms.calc = TabulatedCGCalculator(_potentials())
    with pytest.raises(ValueError, match="refer to bead 3.*3 beads"):
        atoms.get_potential_energy()
    atoms = Atoms("X4", positions=np.arange(12.0).reshape(4, 3), cell=[10, 10, 10], pbc=True)
    atoms.calc = TabulatedCGCalculator(_potentials())
    with pytest.raises(ValueError, match="pbc"):
        atoms.get_forces()
