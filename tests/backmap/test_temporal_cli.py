"""``cgkit backmap train|apply --method temporal-vae`` end to end on a short OpenMM trajectory."""

import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write

from cgkit.cli import main


def test_temporal_vae_cli_train_and_apply(tmp_path):
    pytest.importorskip("openmm")
    import cgkit.data
    from cgkit.sampling.openmm_md import simulate_peptide

    store_path = simulate_peptide(tmp_path / "adp.h5", "A", n_frames=24, equilibration_fs=200.0)
    model_path = tmp_path / "vae.pt"
    assert main(["backmap", "train", "--method", "temporal-vae", "--store", str(store_path),
                 "--map", "backbone", "--steps", "2", "--batch-size", "4", "--width", "4",
                 "-o", str(model_path)]) == 0  # fmt: skip
    with cgkit.data.open(store_path) as store:
        system = store[store.system_names[0]]
        beads = system.cg("backbone").bead_positions(np.arange(20, 24))
    frames = [Atoms(f"X{beads.shape[1]}", positions=b) for b in beads]
    write(tmp_path / "cg.xyz", frames, format="extxyz")
    out = tmp_path / "out"
    assert main(["backmap", "apply", str(model_path), "--method", "temporal-vae",
                 "--cg", str(tmp_path / "cg.xyz"), "-o", str(out)]) == 0  # fmt: skip
    backmapped = read(out / "backmapped.xyz", index=":")
    assert len(backmapped) == 4 and len(backmapped[0]) == 22
    # the backmapped frames map back onto the input beads (CG consistency)
    from cgkit.backmap.temporal import TemporalVAEBackmapper

    weights = TemporalVAEBackmapper.load(model_path).weights_  # (M, N) map matrix
    mapped = np.einsum("mn,fnk->fmk", weights, np.array([a.positions for a in backmapped]))
    np.testing.assert_allclose(mapped, beads, atol=0.05)
    # the store's provenance names the peptide: the CLI trained with its force field and
    # keeps the MD's rigid bonds to hydrogen
    constraints = TemporalVAEBackmapper.load(model_path).constraints_
    assert constraints is not None and len(constraints.pairs) == 12
    positions = np.array([a.positions for a in backmapped])
    anchor, moved = constraints.pairs.T
    lengths = np.linalg.norm(positions[:, moved] - positions[:, anchor], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(constraints.lengths, lengths.shape),
                               atol=1e-5)  # fmt: skip


def test_temporal_vae_cli_reads_the_peptide_from_a_recipe_store():
    from pathlib import Path

    from cgkit.cli._backmap_temporal import store_sequence

    recipe = Path(__file__).resolve().parents[2] / "datasets" / "ace-ala-ala-nme.toml"
    assert store_sequence({"recipe": recipe.read_text()}) == "AA"
    assert store_sequence({"sequence": "A"}) == "A"
    assert store_sequence({"recipe_name": "bithiophene"}) is None


def test_temporal_vae_cli_needs_store(tmp_path):
    assert main(["backmap", "train", "--method", "temporal-vae", "--map", "backbone",
                 "-o", str(tmp_path / "m.pt")]) == 2  # fmt: skip
    assert main(["backmap", "train", "--map", "x.map", "-o", str(tmp_path / "m.pt")]) == 2
