"""``cgkit backmap train|apply`` end to end on the hand-built chain."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.io import read, write

from cgkit.backmap.energy import ForceFieldEnergy
from cgkit.cli import main


def test_train_then_apply(chain_files, chain_system, tmp_path, rng):
    itp, ff = chain_files
    topology, _ff, cgmap, positions = chain_system
    cgmap.write(tmp_path / "map.json")
    aa_paths = []
    for i in range(2):
        path = tmp_path / f"aa{i}.xyz"
        noisy = positions + rng.normal(scale=0.05, size=positions.shape)
        write(path, Atoms(topology.symbols, noisy))
        aa_paths.append(str(path))
    model = tmp_path / "model.pt"
    args = ["backmap", "train", "--topology", str(itp), "--forcefield", str(ff),
            "--map", str(tmp_path / "map.json"), "--aa", *aa_paths, "-o", str(model),
            "--max-batches", "2", "--width", "4", "--batch-size", "2", "--no-progress",
            "--bond-stiffness", "100", "--gibbs-fraction", "1.0"]  # fmt: skip
    assert main(args) == 0 and model.exists()
    from cgkit.backmap import DBMBackmapper

    saved = DBMBackmapper.load(model).config
    assert (saved.bond_stiffness, saved.gibbs_fraction) == (100.0, 1.0)
    cg_path = tmp_path / "cg.xyz"
    beads = cgmap.map_positions(positions)
    write(cg_path, Atoms("X3", beads))
    out = tmp_path / "out"
    assert main(["backmap", "apply", str(model), "--cg", str(cg_path), "-o", str(out),
                 "--n-gibbs", "1", "--n-candidates", "1", "--inference-dtype", "bfloat16",
                 "--n-repair", "2", "--no-progress"]) == 0  # fmt: skip
    result = read(out / "cg_aa.xyz")
    assert len(result) == topology.n_atoms
    assert np.allclose(cgmap.map_positions(result.positions), beads, atol=1e-5)
    # --relax-steps: the same DBM structure, then minimised onto the same beads
    relaxed_out = tmp_path / "relaxed"
    assert main(["backmap", "apply", str(model), "--cg", str(cg_path), "-o", str(relaxed_out),
                 "--n-gibbs", "1", "--n-candidates", "1", "--inference-dtype", "bfloat16",
                 "--n-repair", "2", "--relax-steps", "100", "--no-progress"]) == 0  # fmt: skip
    relaxed = read(relaxed_out / "cg_aa.xyz")
    assert np.allclose(cgmap.map_positions(relaxed.positions), beads, atol=1e-5)
    energy = ForceFieldEnergy.from_topology(topology, _ff, cutoff=6.0, dtype=torch.float64)
    energy.terms.kb = energy.terms.kb * 100.0
    assert float(energy(torch.tensor(relaxed.positions))) < float(
        energy(torch.tensor(result.positions))
    )


def test_user_errors_exit_2(chain_files, tmp_path, capsys):
    itp, ff = chain_files
    args = ["backmap", "train", "--topology", str(itp), "--forcefield", str(ff),
            "--map", str(tmp_path / "missing.json"), "--aa", "x.xyz", "-o", "m.pt"]  # fmt: skip
    assert main(args) == 2
    assert "missing.json" in capsys.readouterr().err


def test_apply_offers_exactly_the_library_inference_dtypes():
    """The CLI spells the dtype names out (it must not import torch to build its parser);
    they must stay those the library accepts."""
    from cgkit.backmap.networks import INFERENCE_DTYPES
    from cgkit.cli import build_parser

    for name in INFERENCE_DTYPES:
        args = build_parser().parse_args(
            ["backmap", "apply", "m.pt", "--cg", "c.xyz", "-o", "out", "--inference-dtype", name]
        )
        assert args.inference_dtype == name
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["backmap", "apply", "m.pt", "--cg", "c.xyz", "-o", "out", "--inference-dtype", "half"]
        )
