"""Store core: appends, batched reads, labels and status, to_atoms, CG view (both backends)."""

from __future__ import annotations

import numpy as np
import pytest

import cgkit
import cgkit.data
from cgkit.mapping import CGMap


@pytest.fixture(params=["h5", "zarr"])
def suffix(request):
    return request.param


def _ethanol_store(path, atoms, rng, n_frames=37, chunk=10):
    """A store of ``n_frames`` jittered ethanol frames appended in chunks; returns arrays."""
    positions = atoms.positions + rng.normal(scale=0.05, size=(n_frames, len(atoms), 3))
    cell = np.diag([12.0, 13.0, 14.0]) + rng.normal(scale=0.1, size=(n_frames, 3, 3))
    forces = rng.normal(size=(n_frames, len(atoms), 3))
    homo = rng.normal(-7.0, 0.2, size=n_frames)
    with cgkit.data.create(path, provenance={"seed": 12345, "recipe": "test"}) as store:
        system = store.add_system("ethanol", atoms.get_chemical_symbols())
        for start in range(0, n_frames, chunk):
            stop = min(n_frames, start + chunk)
            system.append_frames(
                positions[start:stop],
                cell=cell[start:stop],
                pbc=[True, True, False],
                time=np.arange(start, stop) * 0.5,
                forces=forces[start:stop],
                labels={"homo": homo[start:stop]},
            )
    return positions, cell, forces, homo


def test_batched_read_equals_single_frame_reads(tmp_path, suffix, ethanol_atoms, rng):
    path = tmp_path / f"ethanol.{suffix}"
    positions, cell, forces, homo = _ethanol_store(path, ethanol_atoms, rng)
    indices = [30, 2, 2, 17, -1, 0, 30, 9]
    with cgkit.data.open(path) as store:
        system = store["ethanol"]
        assert system.n_frames == 37
        batch = system.read_positions(indices)
        singles = np.stack([system.read_positions(i) for i in indices])
        np.testing.assert_array_equal(batch, singles)
        np.testing.assert_array_equal(batch, positions[indices])
        np.testing.assert_array_equal(system.read_cell(indices), cell[indices])
        np.testing.assert_array_equal(system.read_forces(indices), forces[indices])
        np.testing.assert_array_equal(system.read_labels("homo", indices), homo[indices])
        np.testing.assert_array_equal(system.read_time(indices), np.arange(37)[indices] * 0.5)
        assert system.read_pbc(indices).tolist() == [[True, True, False]] * len(indices)
        # a sparse selection spanning the file (point-selection path of the h5 backend)
        sparse = np.array([36, 0, 18, 0])
        np.testing.assert_array_equal(system.read_positions(sparse), positions[sparse])
        with pytest.raises(IndexError, match="frame index 37 out of range"):
            system.read_positions([1, 37])


def test_labels_status_and_failures(tmp_path, suffix, water_atoms):
    path = tmp_path / f"water.{suffix}"
    with cgkit.data.create(path) as store:
        system = store.add_system("water", water_atoms.numbers)
        system.append_frames(np.stack([water_atoms.positions] * 6))
        info = system.add_label("gap", method="GFN2-xTB", program="tblite", program_version="0.4")
        assert info.unit == "eV"  # from cgkit.units
        system.write_labels("gap", [4, 1], [2.5, 1.5])
        system.mark_failed("gap", 3, "SCF did not converge")
        system.add_label("polarisability", unit="Å^3", shape=(3, 3))
        with pytest.raises(KeyError, match="no registered unit"):
            system.add_label("mystery")
    with cgkit.data.open(path) as store:
        system = store["water"]
        assert system.label_counts("gap") == {"pending": 3, "ok": 2, "failed": 1}
        assert system.label_status("gap").tolist() == [0, 1, 0, 2, 1, 0]
        assert system.failure_reasons("gap") == {3: "SCF did not converge"}
        values = system.read_labels("gap")
        np.testing.assert_array_equal(values[[1, 4]], [1.5, 2.5])
        assert np.isnan(values[[0, 2, 3, 5]]).all()
        assert system.ok_frames("gap").tolist() == [1, 4]
        labels = system.labels
        assert labels["gap"].program == "tblite" and labels["gap"].method == "GFN2-xTB"
        assert labels["polarisability"].unit == "Å^3"
        assert labels["polarisability"].shape == (3, 3)
    # a later successful relabel clears the failure
    with cgkit.data.open(path, "a") as store:
        store["water"].write_labels("gap", [3], [9.0])
        assert store["water"].failure_reasons("gap") == {}
        assert store["water"].label_counts("gap")["ok"] == 3


def test_to_atoms_and_iteration(tmp_path, suffix, ethanol_atoms, rng):
    path = tmp_path / f"ethanol.{suffix}"
    positions, cell, forces, homo = _ethanol_store(path, ethanol_atoms, rng, n_frames=5)
    with cgkit.data.open(path) as store:
        system = store["ethanol"]
        frames = list(system)
        assert len(frames) == 5
        atoms = frames[3]
        assert atoms.get_chemical_symbols() == ethanol_atoms.get_chemical_symbols()
        np.testing.assert_array_equal(atoms.positions, positions[3])
        np.testing.assert_array_equal(atoms.cell.array, cell[3])
        assert atoms.pbc.tolist() == [True, True, False]
        np.testing.assert_array_equal(atoms.arrays["forces"], forces[3])
        np.testing.assert_allclose(atoms.get_masses(), ethanol_atoms.get_masses())
        assert atoms.info["homo"] == homo[3]
        assert atoms.info["time"] == 1.5
        assert atoms.info["frame"] == 3
        assert system.to_atoms(-1).info["frame"] == 4


def test_cg_view_maps_with_cell_and_matches_cgmap(tmp_path, suffix, ethanol_atoms, rng):
    path = tmp_path / f"ethanol.{suffix}"
    positions, cell, forces, _ = _ethanol_store(path, ethanol_atoms, rng, n_frames=12)
    symbols = ethanol_atoms.get_chemical_symbols()
    heavy = [i for i, s in enumerate(symbols) if s != "H"]
    groups = [
        [h]
        + [
            i
            for i in range(len(symbols))
            if symbols[i] == "H" and _closest(ethanol_atoms.positions, i, heavy) == h
        ]
        for h in heavy
    ]
    cgmap = CGMap.from_groups(groups, weights="mass", masses=ethanol_atoms.get_masses())
    with cgkit.data.open(path, "a") as store:
        store["ethanol"].add_map("heavy", cgmap)
    with cgkit.data.open(path) as store:
        view = store.cg("heavy")
        assert view.n_beads == len(heavy) and len(view) == 12
        idx = [7, 1, 7]
        beads = view.bead_positions(idx)
        expected = np.stack(
            [cgmap.map_positions(positions[i], cell=cell[i], pbc=[True, True, False]) for i in idx]
        )
        np.testing.assert_allclose(beads, expected, atol=1e-12)
        # total force is conserved by the force map
        np.testing.assert_allclose(
            view.bead_forces(idx).sum(axis=1), forces[idx].sum(axis=1), atol=1e-12
        )
        bead_atoms = view.to_atoms(7)
        assert len(bead_atoms) == len(heavy) and "homo" in bead_atoms.info
        assert store["ethanol"].maps["heavy"] == cgmap


def _closest(positions, atom, candidates):
    distances = np.linalg.norm(positions[candidates] - positions[atom], axis=1)
    return candidates[int(np.argmin(distances))]


def test_root_attributes_and_provenance(tmp_path, suffix, water_atoms):
    path = tmp_path / f"w.{suffix}"
    with cgkit.data.create(path, provenance={"seeds": [1, 2]}) as store:
        store.update_provenance(command_line="cgkit build x.toml")
        assert store.backend == suffix
    with cgkit.data.open(path) as store:
        assert store.schema_version == cgkit.data.SCHEMA_VERSION
        assert store.cgkit_version == cgkit.__version__
        assert store.created.startswith("20")
        assert store.provenance == {"seeds": [1, 2], "command_line": "cgkit build x.toml"}
        with pytest.raises(PermissionError, match="read-only"):
            store.add_system("x", [1])
    with cgkit.data.create(tmp_path / "deeper" / f"w.{suffix}") as store:  # parents made
        assert "pytest" in store.provenance["command_line"]


def test_sparse_batched_read_of_a_long_system(tmp_path, suffix, rng):
    """Indices spread over many chunks (the h5 point-selection path), unsorted with repeats."""
    positions = rng.normal(size=(3000, 9, 3))
    path = tmp_path / f"long.{suffix}"
    with cgkit.data.create(path) as store:
        store.add_system("s", [6] * 9).append_frames(positions)
    indices = np.array([2999, 0, 1500, 0, 2001, 7, 2999])
    with cgkit.data.open(path) as store:
        system = store["s"]
        np.testing.assert_array_equal(system.read_positions(indices), positions[indices])
        singles = np.stack([system.read_positions(int(i)) for i in indices])
        np.testing.assert_array_equal(system.read_positions(indices), singles)
        np.testing.assert_array_equal(system.read_positions(slice(10, 20)), positions[10:20])
