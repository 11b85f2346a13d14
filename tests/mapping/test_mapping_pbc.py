"""Periodic boundaries: exact minimum images in skewed cells, whole molecules across the box."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cgkit.mapping import CGMap, make_whole, minimum_image, wrap_positions

# strongly skewed cell (heights 14.7, 18.3 and 19.2 Å) for a ~12 Å molecule
SKEWED_CELL = 1.6 * np.array([[14.0, 0.0, 0.0], [9.5, 13.0, 0.0], [-6.0, 6.5, 12.0]])


def _brute_force_minimum_image(displacements, cell, reach=8):
    shifts = np.array(list(itertools.product(range(-reach, reach + 1), repeat=3)), dtype=float)
    candidates = displacements[:, None, :] + (shifts @ cell)[None]
    best = np.argmin(np.linalg.norm(candidates, axis=-1), axis=1)
    return candidates[np.arange(len(displacements)), best]


def test_minimum_image_is_exact_in_a_skewed_cell(rng):
    displacements = rng.uniform(-40.0, 40.0, size=(1, 500, 3))
    result = minimum_image(displacements, SKEWED_CELL)[0]
    expected = _brute_force_minimum_image(displacements[0], SKEWED_CELL)
    np.testing.assert_allclose(
        np.linalg.norm(result, axis=1), np.linalg.norm(expected, axis=1), atol=1e-12
    )
    # the result is a lattice translate of the input
    lattice = np.linalg.solve(SKEWED_CELL.T, (displacements[0] - result).T).T
    np.testing.assert_allclose(lattice, np.round(lattice), atol=1e-9)


def test_minimum_image_is_exact_with_a_cell_per_frame(rng):
    cells = np.stack([SKEWED_CELL, 1.2 * SKEWED_CELL, np.diag([15.0, 18.0, 21.0])])
    displacements = rng.uniform(-40.0, 40.0, size=(3, 200, 3))
    result = minimum_image(displacements, cells)
    for frame, cell in enumerate(cells):
        expected = _brute_force_minimum_image(displacements[frame], cell)
        np.testing.assert_allclose(
            np.linalg.norm(result[frame], axis=1), np.linalg.norm(expected, axis=1), atol=1e-12
        )


def test_minimum_image_leaves_non_periodic_axes_alone(rng):
    cell = np.diag([10.0, 10.0, 10.0])
    displacements = np.array([[[9.0, 9.0, 9.0]]])
    result = minimum_image(displacements, cell, pbc=[True, False, True])
    np.testing.assert_allclose(result, [[[-1.0, 9.0, -1.0]]])


def test_wrap_positions_puts_points_inside_the_cell(rng):
    points = rng.uniform(-60, 60, size=(2, 200, 3))
    wrapped = wrap_positions(points, SKEWED_CELL)
    fractional = wrapped @ np.linalg.inv(SKEWED_CELL)
    assert np.all(fractional >= -1e-12) and np.all(fractional < 1 + 1e-12)
    moved = np.linalg.solve(SKEWED_CELL.T, (points - wrapped).reshape(-1, 3).T)
    np.testing.assert_allclose(moved, np.round(moved), atol=1e-9)


@pytest.fixture
def split_bithiophene(bithiophene_dir, bithiophene_npz):
    """Frame 0 placed across a corner of a skewed triclinic cell and wrapped atom by atom."""
    cgmap = CGMap.read(bithiophene_dir / "maps" / "8_bead.map")
    whole = bithiophene_npz["positions"][0] - bithiophene_npz["positions"][0].mean(0)
    whole = whole + 0.5  # centred next to the origin corner: atoms fall into 8 images
    wrapped = wrap_positions(whole[None], SKEWED_CELL)[0]
    return cgmap, whole, wrapped


def test_mapping_a_molecule_split_across_a_triclinic_box(split_bithiophene):
    cgmap, whole, wrapped = split_bithiophene
    assert np.ptp(wrapped, axis=0).max() > 15.0  # the molecule really is torn apart
    naive = cgmap.map_positions(wrapped)
    periodic = cgmap.map_positions(wrapped, cell=SKEWED_CELL)
    expected = cgmap.map_positions(whole)
    gap = minimum_image((periodic - expected)[None], SKEWED_CELL)[0]
    np.testing.assert_allclose(gap, 0.0, atol=1e-10)
    fractional = periodic @ np.linalg.inv(SKEWED_CELL)
    assert np.all(fractional >= -1e-12) and np.all(fractional < 1 + 1e-12)
    naive_gap = minimum_image((naive - expected)[None], SKEWED_CELL)[0]
    assert np.linalg.norm(naive_gap, axis=1).max() > 1.0  # without the cell it is wrong


def test_bead_distances_survive_splitting(split_bithiophene):
    from cgkit.features import distance_features

    cgmap, whole, wrapped = split_bithiophene
    periodic = cgmap.map_positions(wrapped, cell=SKEWED_CELL)
    unwrapped_beads = make_whole(periodic, SKEWED_CELL, cgmap.bead_bonds)
    np.testing.assert_allclose(
        distance_features(unwrapped_beads), distance_features(cgmap.map_positions(whole)), atol=1e-9
    )


def test_make_whole_restores_the_molecule(split_bithiophene):
    cgmap, whole, wrapped = split_bithiophene
    restored = make_whole(wrapped, SKEWED_CELL, cgmap.atom_bonds)
    offset = restored - whole
    np.testing.assert_allclose(offset, offset[:1].repeat(len(whole), 0), atol=1e-10)
    lattice = np.linalg.solve(SKEWED_CELL.T, offset[0])
    np.testing.assert_allclose(lattice, np.round(lattice), atol=1e-9)


def test_per_frame_cells(split_bithiophene):
    cgmap, whole, wrapped = split_bithiophene
    cells = np.stack([SKEWED_CELL, SKEWED_CELL * 1.1])
    frames = np.stack([wrapped, wrap_positions(whole[None], cells[1])[0]])
    periodic = cgmap.map_positions(frames, cell=cells)
    expected = cgmap.map_positions(whole)
    for frame in range(2):
        gap = minimum_image((periodic[frame] - expected)[None], cells[frame])[0]
        np.testing.assert_allclose(gap, 0.0, atol=1e-10)


def test_call_makes_molecules_whole(split_bithiophene):
    from ase import Atoms

    cgmap, whole, wrapped = split_bithiophene
    atoms = Atoms(cgmap.symbols, positions=wrapped, cell=SKEWED_CELL, pbc=True)
    beads = cgmap(atoms)
    gap = minimum_image((beads.positions - cgmap.map_positions(whole))[None], SKEWED_CELL)[0]
    np.testing.assert_allclose(gap, 0.0, atol=1e-10)
