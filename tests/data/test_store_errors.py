"""Bad input: every case is refused with a message naming the file/frame/atom, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import cgkit.data
from cgkit.data import StoreError, StoreLockedError
from cgkit.mapping import CGMap


@pytest.fixture(params=["h5", "zarr"])
def suffix(request):
    return request.param


def _water_store(path, water_atoms, n_frames=4):
    positions = np.stack([water_atoms.positions + 0.01 * k for k in range(n_frames)])
    with cgkit.data.create(path) as store:
        store.add_system("water", water_atoms.numbers).append_frames(
            positions, labels={"energy": np.arange(n_frames, dtype=float)}
        )
    return positions


def test_nan_coordinates_refused_naming_frame_and_atom_earlier_frames_kept(
    tmp_path, suffix, water_atoms
):
    path = tmp_path / f"w.{suffix}"
    positions = _water_store(path, water_atoms)
    bad = np.stack([water_atoms.positions] * 3)
    bad[2, 1, 0] = np.nan
    with cgkit.data.open(path, "a") as store:
        system = store["water"]
        with pytest.raises(ValueError, match=r"w\.\w+:water: position of frame 6, atom 1 "):
            system.append_frames(bad, labels={"energy": [0.0, 1.0, 2.0]})
        bad[2, 1, 0] = np.inf
        with pytest.raises(ValueError, match="frame 6, atom 1 is not finite"):
            system.append_frames(bad, labels={"energy": [0.0, 1.0, 2.0]})
        assert system.n_frames == 4
    with cgkit.data.open(path) as store:
        system = store["water"]
        assert system.n_frames == 4
        np.testing.assert_array_equal(system.read_positions(), positions)
        np.testing.assert_array_equal(system.read_labels("energy"), np.arange(4.0))


def test_atom_count_mismatch_frames_topology_map(tmp_path, suffix, water_atoms, ethanol_atoms):
    path = tmp_path / f"w.{suffix}"
    _water_store(path, water_atoms)
    with cgkit.data.open(path, "a") as store:
        system = store["water"]
        with pytest.raises(
            ValueError, match=r"shape \(1, 9, 3\) do not match the system's 3 atoms"
        ):
            system.append_frames(ethanol_atoms.positions[None])
        ethanol_map = CGMap.from_groups([[0, 1, 2], [3, 4, 5, 6, 7, 8]], weights="center")
        with pytest.raises(ValueError, match="map 'eth' is for 9 atoms but the system has 3"):
            system.add_map("eth", ethanol_map)
        with pytest.raises(ValueError, match="masses of shape"):
            store.add_system("bad", [1, 1], masses=[1.0, 1.0, 1.0])
        with pytest.raises(ValueError, match="bond 0 refers to atom 5"):
            store.add_system("bad", [1, 1], bonds=[[0, 5]])
        with pytest.raises(ValueError, match="label 'energy' has shape"):
            system.append_frames(water_atoms.positions, labels={"energy": [1.0, 2.0]})
        with pytest.raises(ValueError, match="every append must give the same per-frame arrays"):
            system.append_frames(water_atoms.positions, forces=np.zeros((3, 3)))
        assert system.n_frames == 4


def test_unknown_element_names_atom(tmp_path, suffix):
    with cgkit.data.create(tmp_path / f"x.{suffix}") as store:
        with pytest.raises(ValueError, match="atom 2 has unknown element 'Qq'"):
            store.add_system("bad", ["C", "H", "Qq"])
        with pytest.raises(ValueError, match="atom 1 has invalid atomic number 200"):
            store.add_system("bad", [6, 200])
        assert store.system_names == []


def test_truncated_and_corrupt_files(tmp_path, water_atoms):
    good = tmp_path / "good.h5"
    _water_store(good, water_atoms)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(StoreError, match="truncated.h5: not a readable HDF5 file"):
        cgkit.data.open(truncated)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(StoreError, match="garbage.h5: not a readable HDF5 file"):
        cgkit.data.open(garbage)
    with h5py.File(tmp_path / "plain.h5", "w") as handle:
        handle["x"] = np.zeros(3)
    with pytest.raises(StoreError, match="plain.h5: not a cgkit store"):
        cgkit.data.open(tmp_path / "plain.h5")

    zarr_store = tmp_path / "good.zarr"
    _water_store(zarr_store, water_atoms)
    broken = tmp_path / "broken.zarr"
    shutil.copytree(zarr_store, broken)
    (broken / "zarr.json").write_text("{ truncated")
    with pytest.raises(StoreError, match="broken.zarr: not a readable Zarr v3 store"):
        cgkit.data.open(broken)
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    with pytest.raises(StoreError, match="empty.zarr: not a Zarr v3 store"):
        cgkit.data.open(empty)
    missing = tmp_path / "missing.zarr"
    shutil.copytree(zarr_store, missing)
    shutil.rmtree(missing / "systems" / "water" / "positions")
    with pytest.raises(StoreError, match="missing.zarr: array /systems/water/positions is missing"):
        cgkit.data.open(missing)
    # a chunk file cut short: opening works, reading that chunk names file and array
    cut = tmp_path / "cut.zarr"
    shutil.copytree(zarr_store, cut)
    chunk = next(
        p
        for p in (cut / "systems" / "water" / "positions").rglob("*")
        if p.is_file() and p.name != "zarr.json"
    )
    chunk.write_bytes(chunk.read_bytes()[:7])
    with cgkit.data.open(cut) as store:
        with pytest.raises(
            StoreError, match="cut.zarr: cannot read array /systems/water/positions"
        ):
            store["water"].read_positions([0, 2])
    with pytest.raises(FileNotFoundError, match="nope.h5: no such store"):
        cgkit.data.open(tmp_path / "nope.h5")


def test_newer_schema_and_missing_unit_refused(tmp_path, water_atoms):
    newer = tmp_path / "newer.h5"
    _water_store(newer, water_atoms)
    with h5py.File(newer, "r+") as handle:
        handle.attrs["schema_version"] = cgkit.data.SCHEMA_VERSION + 1
    with pytest.raises(StoreError, match=r"newer.h5: schema version 2 is newer than this cgkit"):
        cgkit.data.open(newer)

    no_unit = tmp_path / "nounit.zarr"
    _water_store(no_unit, water_atoms)
    meta_path = no_unit / "systems" / "water" / "positions" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    del meta["attributes"]["unit"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="array /systems/water/positions has no 'unit'"):
        cgkit.data.open(no_unit)

    wrong_unit = tmp_path / "wrongunit.h5"
    _water_store(wrong_unit, water_atoms)
    with h5py.File(wrong_unit, "r+") as handle:
        handle["systems/water/positions"].attrs["unit"] = "nm"
    with pytest.raises(StoreError, match="positions has unit 'nm', expected 'Å'"):
        cgkit.data.open(wrong_unit)


def test_second_writer_refused_readers_allowed(tmp_path, suffix, water_atoms):
    path = tmp_path / f"w.{suffix}"
    _water_store(path, water_atoms)
    with cgkit.data.open(path, "a") as writer:
        with pytest.raises(StoreLockedError, match=f"w.{suffix} is already open for writing"):
            cgkit.data.open(path, "a")
        with pytest.raises(StoreLockedError):
            cgkit.data.create(path, overwrite=True)
        with cgkit.data.open(path) as reader:  # readers never take the lock
            assert reader["water"].n_frames == 4
        writer["water"].append_frames(water_atoms.positions)
    with cgkit.data.open(path, "a") as writer:  # lock released on close
        assert writer["water"].n_frames == 5
    # a writer in another process is refused too
    code = f"import cgkit.data, sys\ncgkit.data.open({str(path)!r}, 'a')\n"
    with cgkit.data.open(path, "a"):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode != 0
        assert "already open for writing by process" in result.stderr


def test_stale_lock_of_dead_process_is_taken_over(tmp_path, suffix, water_atoms):
    path = tmp_path / f"w.{suffix}"
    _water_store(path, water_atoms)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = cgkit.data.lock.lock_path(path)
    lock.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "created": "x"}))
    with pytest.warns(UserWarning, match=f"removing stale lock of dead process {dead.pid}"):
        with cgkit.data.open(path, "a") as store:
            assert store["water"].n_frames == 4
    assert not lock.exists()
    # a lock from another host is not guessed about; break_lock removes it
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "created": "x"}))
    with pytest.raises(StoreLockedError, match="host elsewhere"):
        cgkit.data.open(path, "a")
    assert cgkit.data.break_lock(path)
    cgkit.data.open(path, "a").close()


def test_create_refuses_existing_unless_overwrite(tmp_path, suffix, water_atoms):
    path = tmp_path / f"w.{suffix}"
    _water_store(path, water_atoms)
    with pytest.raises(FileExistsError, match="already exists"):
        cgkit.data.create(path)
    with cgkit.data.create(path, overwrite=True) as store:
        assert store.system_names == []
    with pytest.raises(ValueError, match="unknown store type '.txt'"):
        cgkit.data.create(tmp_path / "x.txt")
