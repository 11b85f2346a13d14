"""Importers: arrays, ASE trajectories (+ labels), the shared bithiophene and sPS data sets."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

import cgkit.data
from cgkit.features import distance_features
from cgkit.mapping import CGMap
from cgkit.mapping.pbc import minimum_image


def _trajectory(water_atoms, rng, n=7):
    frames = []
    for k in range(n):
        atoms = water_atoms.copy()
        atoms.positions += rng.normal(scale=0.05, size=(3, 3))
        atoms.cell = np.eye(3) * 9.0
        atoms.pbc = True
        atoms.calc = SinglePointCalculator(atoms, energy=-0.5 * k, forces=np.full((3, 3), 0.1 * k))
        frames.append(atoms)
    return frames


@pytest.mark.parametrize("fmt", ["extxyz", "traj"])
def test_import_trajectory_with_labels(tmp_path, water_atoms, rng, fmt):
    from ase.io import write

    frames = _trajectory(water_atoms, rng)
    first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    write(first, frames[:4])
    write(second, frames[4:])
    homo = rng.normal(size=7)
    out = cgkit.data.import_trajectory(
        [first, second],
        tmp_path / "w.zarr",
        labels={"homo": homo, "score": np.arange(7.0)},
        label_units={"score": "1"},
        system="water",
    )
    with cgkit.data.open(out) as store:
        system = store["water"]
        assert system.n_frames == 7
        np.testing.assert_allclose(
            system.read_positions(), np.stack([a.positions for a in frames]), atol=1e-6
        )
        np.testing.assert_allclose(system.read_labels("energy"), -0.5 * np.arange(7))
        np.testing.assert_allclose(system.read_forces([6])[0], np.full((3, 3), 0.6))
        np.testing.assert_array_equal(system.read_labels("homo"), homo)
        assert system.labels["score"].unit == "1"
        np.testing.assert_allclose(system.read_cell([3])[0], np.eye(3) * 9.0)
        assert store.provenance["sources"] == [str(first), str(second)]


def test_import_trajectory_bad_frames_name_file_and_frame(tmp_path, water_atoms, rng):
    from ase import Atoms
    from ase.io import write

    frames = [a.copy() for a in _trajectory(water_atoms, rng, n=3)]
    write(tmp_path / "ok.xyz", frames)
    longer = frames + [Atoms("OH2N", positions=np.zeros((4, 3)))]
    write(tmp_path / "count.xyz", longer)
    with pytest.raises(
        ValueError, match=r"count.xyz frame 3: has 4 atoms but the first frame has 3"
    ):
        cgkit.data.import_trajectory(tmp_path / "count.xyz", tmp_path / "a.h5")
    swapped = [a.copy() for a in frames]
    swapped[1].symbols[2] = "N"
    write(tmp_path / "elements.xyz", swapped)
    with pytest.raises(ValueError, match=r"elements.xyz frame 1: atom 2 is N but H in the first"):
        cgkit.data.import_trajectory(tmp_path / "elements.xyz", tmp_path / "b.h5")
    broken = tmp_path / "nan.xyz"
    lines = (tmp_path / "ok.xyz").read_text().splitlines()
    lines[2 + 5 + 1] = "H nan 0.0 0.0"  # frame 1, atom 1
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"nan.xyz frame 1: position of atom 1 is not finite"):
        cgkit.data.import_trajectory(broken, tmp_path / "c.h5")
    assert not (tmp_path / "c.h5").exists()
    # importing into an open store: frames of earlier appends stay
    with cgkit.data.create(tmp_path / "kept.zarr") as store:
        cgkit.data.import_trajectory(tmp_path / "ok.xyz", store, system="first")
        with pytest.raises(ValueError, match="nan.xyz frame 1"):
            cgkit.data.import_trajectory(broken, store, system="second", chunk_frames=1)
    with cgkit.data.open(tmp_path / "kept.zarr") as store:
        assert store["first"].n_frames == 3 and store["second"].n_frames == 1
    with pytest.raises(ValueError, match="label 'homo' has 2 values but 3 frames"):
        cgkit.data.import_trajectory(
            tmp_path / "ok.xyz", tmp_path / "d.h5", labels={"homo": [1, 2]}
        )


def test_from_arrays_chunks(tmp_path, rng):
    positions = rng.normal(size=(25, 4, 3))
    out = cgkit.data.from_arrays(
        tmp_path / "x.h5",
        ["C", "O", "H", "H"],
        positions,
        labels={"gap": rng.normal(size=25)},
        label_attrs={"gap": {"method": "m", "program": "p"}},
        chunk_frames=10,
    )
    with cgkit.data.open(out) as store:
        system = store["system"]
        np.testing.assert_array_equal(system.read_positions(), positions)
        assert system.labels["gap"].method == "m"
        assert system.group.array("positions").shape[0] == 25


def test_bithiophene_slice_with_seven_maps(tmp_path, bithiophene_dir, bithiophene_npz):
    out = cgkit.data.import_bithiophene_dft(bithiophene_dir, tmp_path / "bt.h5", n_frames=50)
    with cgkit.data.open(out) as store:
        system = store["bithiophene"]
        assert system.n_frames == 50
        assert system.symbols == bithiophene_npz["symbols"].tolist()
        assert system.map_names == sorted(f"{n}_bead" for n in (4, 6, 8, 10, 12, 14, 16))
        np.testing.assert_array_equal(system.read_labels("homo"), bithiophene_npz["homo_eV"][:50])
        assert system.labels["homo"].program == "ORCA"
        idx = [49, 3, 3]
        beads = store.cg("8_bead").bead_positions(idx)
        by_file = CGMap.read(bithiophene_dir / "maps" / "8_bead.map")
        expected = by_file.map_positions(bithiophene_npz["positions"][idx])
        np.testing.assert_allclose(beads, expected, atol=1e-12)
        assert distance_features(beads).shape == (3, 28)


def test_sps_pairs_cg_view_reproduces_shipped_cg_frames(tmp_path, sps_dir):
    out = cgkit.data.import_sps_melt(sps_dir, tmp_path / "sps.h5")
    with cgkit.data.open(out) as store:
        aa, cg = store["aa"], store["cg"]
        assert (aa.n_frames, aa.n_atoms, cg.n_atoms) == (14, 5832, 720)
        assert len(aa.bonds) > 0 and aa.labels["velocities"].unit == "Å/fs"
        beads = store.cg("fritz").bead_positions()
        cell = cg.read_cell()
        deviation = minimum_image(beads - cg.read_positions(), cell, True)
        assert np.abs(deviation).max() < 0.02  # .gro precision 0.001 nm
        np.testing.assert_allclose(cg.masses.sum(), aa.masses.sum(), rtol=0.01)
