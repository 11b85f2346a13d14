"""``cgkit ibi`` on an npz + map file and on a store: PNGs, tables, progress, errors."""

from __future__ import annotations

import numpy as np
import pytest

from cgkit.calculators.tabulated import TabulatedCGCalculator
from cgkit.cli import main
from cgkit.mapping import CGMap


@pytest.fixture
def trimer_frames(rng):
    """60 frames of a 6-atom molecule mapped to 3 beads (two atoms per bead)."""
    n = 60
    beads = np.zeros((n, 3, 3))
    beads[:, 1, 0] = 1.6 + rng.normal(scale=0.04, size=n)
    angle = np.radians(110) + rng.normal(scale=0.08, size=n)
    length = 1.6 + rng.normal(scale=0.04, size=n)
    beads[:, 2, 0] = beads[:, 1, 0] + length * np.cos(np.pi - angle)
    beads[:, 2, 1] = length * np.sin(np.pi - angle)
    offset = np.array([0.35, 0.0, 0.2])
    positions = np.repeat(beads, 2, axis=1)
    positions[:, 0::2] += offset
    positions[:, 1::2] -= offset
    cgmap = CGMap.from_groups(
        [[0, 1], [2, 3], [4, 5]],
        weights="mass",
        masses=np.full(6, 12.0),
        atom_bonds=[[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]],
    )
    return positions, cgmap


FAST = ["--iterations", "1", "--steps", "600", "--chains", "2", "--equilibration", "20"]


def test_cli_npz_writes_pngs_tables_and_progress(tmp_path, trimer_frames, capsys):
    positions, cgmap = trimer_frames
    np.savez(tmp_path / "frames.npz", positions=positions)
    cgmap.write(tmp_path / "trimer.json")
    out = tmp_path / "out"
    code = main(
        [
            "ibi",
            str(tmp_path / "frames.npz"),
            "--map",
            str(tmp_path / "trimer.json"),
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "60 mapped frames, 3 beads" in text and "iteration  0: max JS" in text
    assert (out / "iteration_00.png").stat().st_size > 1000
    calculator = TabulatedCGCalculator.read(out / "potentials.json")
    assert {p.kind for p in calculator.potentials} == {"bond", "angle"}
    # the tables have their minima where the mapped AA frames are (1.6 Å, 110 degrees)
    for potential in calculator.potentials:
        minimum = potential.grid[np.argmin(potential.values)]
        expected, tolerance = (1.6, 0.06) if potential.kind == "bond" else (np.radians(110), 0.1)
        assert minimum == pytest.approx(expected, abs=tolerance), potential.name


def test_cli_store_input(tmp_path, trimer_frames, capsys):
    import cgkit.data

    positions, cgmap = trimer_frames
    path = tmp_path / "frames.h5"
    with cgkit.data.create(path, provenance={"test": "ibi"}) as store:
        system = store.add_system("trimer", numbers=["C"] * 6, masses=np.full(6, 12.0))
        system.append_frames(positions)
        system.add_map("3bead", cgmap)
    out = tmp_path / "out"
    assert main(["ibi", str(path), "--map", "3bead", "--out", str(out), *FAST]) == 0
    assert (out / "potentials.json").exists()
    assert main(["ibi", str(path), "--map", "nope", "--out", str(out), *FAST]) == 2
    assert "no system has a map 'nope'" in capsys.readouterr().err


def test_cli_bad_input(tmp_path, trimer_frames, capsys):
    positions, cgmap = trimer_frames
    np.savez(tmp_path / "bad.npz", coordinates=positions)
    cgmap.write(tmp_path / "trimer.json")
    args = ["--map", str(tmp_path / "trimer.json"), "--out", str(tmp_path / "o"), *FAST]
    assert main(["ibi", str(tmp_path / "bad.npz"), *args]) == 2
    assert "bad.npz: no 'positions' array" in capsys.readouterr().err
    np.savez(tmp_path / "short.npz", positions=positions[:, :4])
    assert main(["ibi", str(tmp_path / "short.npz"), *args]) == 2
    assert "do not fit the map's 6 atoms" in capsys.readouterr().err
    assert main(["ibi", str(tmp_path / "missing.npz"), *args]) == 2
    assert "missing.npz: no such file" in capsys.readouterr().err
