"""``cgkit cgmp rank`` on a small .npz."""

from __future__ import annotations

import json

import numpy as np

from cgkit.cgmp import CGMPRanker
from cgkit.cli import main


def _write_npz(path, n_frames=60):
    rng = np.random.default_rng(0)
    base = np.array([[0, 0, 0], [1.5, 0, 0], [2.2, 1.3, 0], [3.7, 1.3, 0.2], [-0.6, 0.9, 0]])
    positions = base + rng.normal(scale=0.2, size=(n_frames, 5, 3))
    homo = -6.0 + 0.3 * np.linalg.norm(positions[:, 1] - positions[:, 3], axis=1)
    np.savez(path, symbols=np.array(["C", "C", "S", "C", "H"]), positions=positions, homo_eV=homo)


def test_cgmp_rank_prints_tables_and_writes_pngs(tmp_path, capsys):
    npz = tmp_path / "frames.npz"
    _write_npz(npz)
    out = tmp_path / "out"
    argv = ["cgmp", "rank", str(npz), "--label", "homo", "--runs", "2", "--warmup", "2"]
    argv += ["--epochs-per-step", "1", "--hidden", "8", "--out", str(out), "--save"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("removal order") == 2
    table = printed.split("per resolution (2 runs)")[1].splitlines()
    rows = [line.split() for line in table[2:5]]
    assert [r[0] for r in rows] == ["4", "3", "2"]
    assert all(-10 < float(r[1]) <= 1 for r in rows)
    assert "mapping entropy" in printed
    assert (out / "cgmp_homo_decimation.png").stat().st_size > 1000
    assert (out / "cgmp_homo_r2.png").stat().st_size > 1000
    ranker = CGMPRanker.load(out / "cgmp_homo_seed1.pt")
    assert sorted(ranker.ranking_.tolist()) == [0, 1, 2, 3]

    # bridge to ECG: one ECG model per CGMP decimation map
    scan_out = tmp_path / "scan"
    argv = ["cgmp", "scan", str(out / "cgmp_homo_seed1.pt"), str(npz), "--resolutions", "3,2"]
    argv += ["--epochs", "2", "--n-inducing", "8", "--batch-size", "32", "-o", str(scan_out)]
    assert main(argv) == 0
    rows = json.loads((scan_out / "scan.json").read_text())
    assert [(r["map_name"], r["n_beads"]) for r in rows] == [("cgmp3", 3), ("cgmp2", 2)]
    assert all(np.isfinite(r["rmse"]) and r["n_train"] == 54 for r in rows)
    assert f"cgmp2: kept atoms {' '.join(map(str, ranker.kept_(2)))}" in capsys.readouterr().out
    assert main(argv[:4] + ["--resolutions", "7"]) == 2
    assert "resolutions [7] were not recorded" in capsys.readouterr().err


def test_cgmp_rank_reports_user_errors(tmp_path, capsys):
    assert main(["cgmp", "rank", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz: no such file" in capsys.readouterr().err
    npz = tmp_path / "frames.npz"
    _write_npz(npz)
    assert main(["cgmp", "rank", str(npz), "--label", "lumo"]) == 2
    assert "no property 'lumo'" in capsys.readouterr().err
