"""``cgkit ecg train|predict|scan`` on a tiny npz + map files."""

import json

import numpy as np
import pytest

from cgkit.cli import main
from cgkit.mapping import CGMap


@pytest.fixture
def npz_with_maps(tmp_path):
    rng = np.random.default_rng(0)
    n_frames, n_atoms = 80, 6
    positions = rng.normal(scale=1.5, size=(n_frames, n_atoms, 3))
    d = np.linalg.norm(positions[:, 0] - positions[:, 5], axis=-1)
    homo = -8.0 + 0.1 * np.tanh(d - 2.0) + rng.normal(scale=0.01, size=n_frames)
    np.savez(tmp_path / "data.npz", positions=positions, homo_eV=homo)
    (tmp_path / "maps").mkdir()
    CGMap.from_groups([[0, 1], [2, 3], [4, 5]], weights="center").write(
        tmp_path / "maps" / "3_bead.map"
    )
    CGMap.from_groups([[0], [1, 2], [3, 4], [5]], weights="center").write(
        tmp_path / "maps" / "4_bead.map"
    )
    return tmp_path


SMALL = ["--epochs", "2", "--n-inducing", "16", "--batch-size", "20", "--latent-dim", "2"]


def test_train_then_predict_writes_csv(npz_with_maps, capsys):
    d = npz_with_maps
    model = d / "m.pt"
    args = ["ecg", "train", str(d / "data.npz"), "--map", str(d / "maps" / "4_bead.map")]
    assert main([*args, "--frames", ":60", "-o", str(model), *SMALL]) == 0
    assert model.exists()
    out = d / "pred.csv"
    predict = ["ecg", "predict", str(model), str(d / "data.npz")]
    assert (
        main([*predict, "--map", str(d / "maps" / "4_bead.map"), "--frames", "60:", "-o", str(out)])
        == 0
    )
    table = np.loadtxt(out, delimiter=",")
    assert table.shape == (20, 3)
    np.testing.assert_array_equal(table[:, 0], np.arange(60, 80))
    assert np.all(table[:, 2] > 0)
    assert "RMSE" in capsys.readouterr().out


def test_scan_writes_table_and_figure(npz_with_maps, capsys):
    d = npz_with_maps
    out = d / "scan"
    assert (
        main(
            [
                "ecg",
                "scan",
                str(d / "data.npz"),
                "--maps",
                "all",
                "-o",
                str(out),
                "--train-fraction",
                "0.75",
                *SMALL,
            ]
        )
        == 0
    )
    rows = json.loads((out / "scan.json").read_text())
    assert [r["n_beads"] for r in rows] == [3, 4]
    assert all(r["n_test"] == 20 and r["rmse"] > 0 for r in rows)
    assert (out / "noise_vs_resolution.png").stat().st_size > 0
    assert (out / "3_bead.pt").exists()
    assert "cov68" in capsys.readouterr().out


def test_user_errors_exit_with_code_2(npz_with_maps, capsys):
    d = npz_with_maps
    base = ["ecg", "train", str(d / "data.npz"), "--map", str(d / "maps" / "4_bead.map")]
    assert main([*base, "--frames", "a:b", "-o", str(d / "x.pt")]) == 2
    assert "START:STOP" in capsys.readouterr().err
    assert main(["ecg", "scan", str(d / "data.npz"), "--maps", "9_bead", "-o", str(d)]) == 2
    assert "9_bead" in capsys.readouterr().err


def test_scan_and_predict_on_a_store(npz_with_maps, capsys):
    from cgkit.data import from_arrays

    d = npz_with_maps
    with np.load(d / "data.npz") as data:
        positions, homo = data["positions"], data["homo_eV"]
    maps = {p.stem: CGMap.read(p) for p in sorted((d / "maps").glob("*.map"))}
    store = from_arrays(d / "s.h5", ["C"] * 6, positions, labels={"homo": homo}, maps=maps)
    out = d / "store_scan"
    assert (
        main(
            ["ecg", "scan", str(store), "--label", "homo", "--maps", "all", "-o", str(out), *SMALL]
        )
        == 0
    )
    rows = json.loads((out / "scan.json").read_text())
    assert [r["map_name"] for r in rows] == ["3_bead", "4_bead"]
    assert rows[0]["n_train"] == 72 and rows[0]["n_test"] == 8
    predict = ["ecg", "predict", str(out / "4_bead.pt"), str(store), "--map", "4_bead"]
    assert main([*predict, "--frames", "72:"]) == 0
    assert "8 frames" in capsys.readouterr().out
