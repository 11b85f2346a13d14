"""``cgkit info``, ``cgkit convert``, ``cgkit import`` and ``cgkit map``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

import cgkit.data
from cgkit.cli import main
from cgkit.mapping import CGMap


@pytest.fixture
def trajectory(tmp_path, ethanol_atoms, rng):
    from ase.io import write

    frames = []
    for k in range(6):
        atoms = ethanol_atoms.copy()
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.calc = SinglePointCalculator(atoms, energy=-1.0 * k, forces=np.full((9, 3), 0.5))
        frames.append(atoms)
    path = tmp_path / "ethanol.extxyz"
    write(path, frames)
    return path, frames


@pytest.fixture
def two_bead_map(tmp_path, ethanol_atoms):
    cgmap = CGMap.from_groups(
        [[0, 1, 2, 3, 4, 5], [6, 7, 8]], weights="mass", masses=ethanol_atoms.get_masses()
    )
    path = tmp_path / "two.json"
    cgmap.write(path)
    return path, cgmap


def test_import_info_convert(tmp_path, trajectory, two_bead_map, capsys):
    path, frames = trajectory
    homo = tmp_path / "homo.npy"
    np.save(homo, np.linspace(-8, -7, 6))
    score = tmp_path / "score.txt"
    np.savetxt(score, np.arange(6.0))
    store = tmp_path / "e.h5"
    argv = ["import", str(path), "-o", str(store), "--label", f"homo={homo}"]
    argv += ["--label", f"score={score}:1", "--map", f"two={two_bead_map[0]}", "--system", "eth"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["info", str(store)]) == 0
    text = capsys.readouterr().out
    assert "system eth: C2H6O (9 atoms), 6 frames, arrays positions, forces" in text
    assert "label homo [eV]: 6 ok, 0 failed, 0 pending" in text
    assert "label energy [eV]: 6 ok" in text and "label score [1]" in text
    assert "map two: 2 beads" in text and "command_line:" in text
    assert main(["convert", str(store), str(tmp_path / "e.zarr")]) == 0
    assert main(["info", "--json", str(tmp_path / "e.zarr")]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    eth = summary["systems"]["eth"]
    assert summary["backend"] == "zarr" and eth["frames"] == 6
    assert eth["labels"]["homo"]["ok"] == 6 and eth["maps"] == {"two": {"beads": 2}}


def test_map_store_and_trajectory(tmp_path, trajectory, two_bead_map, capsys):
    path, frames = trajectory
    cgmap = two_bead_map[1]
    store = tmp_path / "e.zarr"
    assert main(["import", str(path), "-o", str(store), "--map", str(two_bead_map[0])]) == 0
    with cgkit.data.open(store, "a") as handle:
        handle["system"].mark_failed("energy", 2, "test")
    # stored map name -> CG store
    assert main(["map", str(store), "two", "-o", str(tmp_path / "cg.h5")]) == 0
    positions = np.stack([a.positions for a in frames])
    with cgkit.data.open(tmp_path / "cg.h5") as handle:
        cg = handle["cg"]
        np.testing.assert_allclose(cg.read_positions(), cgmap.map_positions(positions), atol=1e-6)
        np.testing.assert_allclose(cg.masses, cgmap.bead_masses)
        assert cg.label_status("energy").tolist() == [1, 1, 2, 1, 1, 1]
        assert cg.failure_reasons("energy") == {2: "test"}
        np.testing.assert_allclose(cg.read_forces().sum(axis=1), np.full((6, 3), 9 * 0.5))
    # map file applied to a trajectory -> extxyz
    out = tmp_path / "cg.extxyz"
    assert main(["map", str(path), str(two_bead_map[0]), "-o", str(out)]) == 0
    from ase.io import read

    beads = read(out, index=":")
    assert len(beads) == 6 and len(beads[0]) == 2
    np.testing.assert_allclose(
        np.stack([b.positions for b in beads]), cgmap.map_positions(positions), atol=1e-6
    )
    assert beads[3].get_potential_energy() == pytest.approx(-3.0)


def test_cli_errors_name_the_problem(tmp_path, trajectory, two_bead_map, water_atoms, capsys):
    path, _ = trajectory
    water = tmp_path / "water.xyz"
    water_atoms.write(water)
    assert main(["map", str(water), str(two_bead_map[0]), "-o", str(tmp_path / "x.h5")]) == 2
    assert "water.xyz frame 0: has 3 atoms but the map expects 9 atoms" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing.h5")]) == 2
    assert "missing.h5: no such store" in capsys.readouterr().err
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"garbage" * 100)
    assert main(["info", str(bad)]) == 2
    assert "bad.h5: not a readable HDF5 file" in capsys.readouterr().err
    assert main(["import", str(path), "-o", str(tmp_path / "y.h5"), "--label", "homo"]) == 2
    assert "expected NAME=FILE" in capsys.readouterr().err
    store = tmp_path / "z.h5"
    assert main(["import", str(path), "-o", str(store)]) == 0
    assert main(["import", str(path), "-o", str(store)]) == 2
    assert "already exists" in capsys.readouterr().err
    with cgkit.data.open(store, "a"):
        assert main(["convert", str(store), str(tmp_path / "z.zarr")]) == 0
        assert main(["import", str(path), "-o", str(store), "--overwrite"]) == 2
        assert "already open for writing" in capsys.readouterr().err


def test_import_shared_bithiophene_slice(tmp_path, bithiophene_dir, bithiophene_npz, capsys):
    store = tmp_path / "bt.zarr"
    argv = ["import", "--dataset", "bithiophene-dft", str(bithiophene_dir), "-o", str(store)]
    assert main([*argv, "--frames", "20"]) == 0
    capsys.readouterr()
    assert main(["info", str(store)]) == 0
    text = capsys.readouterr().out
    assert "system bithiophene: C14H18S2 (34 atoms), 20 frames" in text
    assert "label homo [eV]: 20 ok, 0 failed, 0 pending (wB97X-D3/def2-SVP ORCA 4.2.1)" in text
    # count listing lines only: the provenance's command line (pytest's argv) may say "map"
    assert sum(line.startswith("  map ") for line in text.splitlines()) == 7
    out = tmp_path / "cg8.h5"
    assert main(["map", str(store), "8_bead", "-o", str(out)]) == 0
    with cgkit.data.open(out) as handle:
        cg = handle["cg"]
        assert cg.n_atoms == 8
        np.testing.assert_array_equal(cg.read_labels("homo"), bithiophene_npz["homo_eV"][:20])
        by_file = CGMap.read(bithiophene_dir / "maps" / "8_bead.map")
        np.testing.assert_allclose(
            cg.read_positions(), by_file.map_positions(bithiophene_npz["positions"][:20])
        )
