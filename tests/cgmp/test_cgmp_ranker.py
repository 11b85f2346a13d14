"""CGMPRanker on a synthetic molecule whose property depends on a known atom pair."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cgkit.cgmp import CGMPRanker, load_property_data, mapping_entropy

IMPORTANT = (1, 3)  # the property is the distance between these two atoms


def synthetic_molecule(n_frames=400, seed=0):
    """Six carbons and two hydrogens with thermal noise; y = |r_1 - r_3| (Å read as eV)."""
    rng = np.random.default_rng(seed)
    base = np.array(
        [
            [0.0, 0.0, 0.0],
            [1.5, 0.0, 0.0],
            [2.2, 1.3, 0.0],
            [3.7, 1.3, 0.2],
            [4.4, 0.0, 0.3],
            [5.9, 0.1, 0.1],
            [-0.6, 0.9, 0.0],
            [6.5, -0.8, 0.2],
        ]
    )
    numbers = np.array([6, 6, 6, 6, 6, 6, 1, 1])
    positions = base + rng.normal(scale=0.25, size=(n_frames, 8, 3))
    y = np.linalg.norm(positions[:, IMPORTANT[0]] - positions[:, IMPORTANT[1]], axis=1)
    return {"numbers": numbers, "positions": positions, "y": y}


@pytest.fixture(scope="module")
def data():
    return synthetic_molecule()


@pytest.fixture(scope="module")
def ranker(data):
    torch.set_num_threads(1)
    return CGMPRanker(hidden=16, layers=2, warmup=20, epochs_per_step=5, batch_size=32, seed=0).fit(
        data
    )


def test_known_subset_is_ranked_last(ranker):
    assert ranker.atom_indices_.tolist() == [0, 1, 2, 3, 4, 5]  # hydrogens are not candidates
    assert sorted(ranker.ranking_.tolist()) == [0, 1, 2, 3, 4, 5]
    assert set(ranker.ranking_[-2:].tolist()) == set(IMPORTANT)
    assert set(ranker.kept_(2).tolist()) == set(IMPORTANT)


def test_gates_track_the_resolution_and_end_binary(ranker):
    for resolution, gates in ranker.gate_history_.items():
        assert abs(gates.sum() - resolution) < 0.5, (resolution, gates)
    final = ranker.gate_history_[2]
    assert np.all((final < 0.05) | (final > 0.95)), final
    assert np.sum(final > 0.5) == 2


def test_kept_sets_are_nested_and_follow_the_ranking(ranker):
    # an atom that left at resolution M is absent at every lower resolution
    n = len(ranker.atom_indices_)
    for resolution in range(n, 2, -1):
        assert set(ranker.kept_(resolution)) > set(ranker.kept_(resolution - 1))
        assert set(ranker.ranking_[: n - resolution]) == set(ranker.atom_indices_) - set(
            ranker.kept_(resolution)
        )
        # removed atoms keep a gate of exactly 0 in all later records
        gone = ranker.gate_history_[resolution - 1][
            ~np.isin(ranker.atom_indices_, ranker.kept_(resolution))
        ]
        assert np.all(gone == 0.0)


def test_gate_steps_are_proportional_to_the_loss_gradient():
    # Adam would move every gate logit at the same speed whatever its gradient; the ranker's
    # gate optimiser must move a gate 10x faster when its loss gradient is 10x larger
    from cgkit.cgmp import CGMPConfig, CGMPModel

    model = CGMPModel(CGMPConfig(n_atoms=3, hidden=4, layers=1))
    optimizers = CGMPRanker(gate_learning_rate=0.5)._optimizers(model)
    start = model.gate_logits.detach().clone()
    gradient = torch.tensor([1e-3, 1e-2, 0.0])
    for _ in range(5):
        for optimizer in optimizers:
            optimizer.zero_grad()
        model.gate_logits.grad = gradient.clone()
        for optimizer in optimizers:
            optimizer.step()
    moved = start - model.gate_logits.detach()
    assert moved[2] == 0.0 and moved[0] > 0.0
    assert moved[1] / moved[0] == pytest.approx(10.0, rel=1e-4)


def test_prediction_from_kept_atoms_recovers_the_property(ranker, data):
    assert ranker.resolution_curve_[2] > 0.9
    test = synthetic_molecule(n_frames=100, seed=1)
    assert ranker.score(test["positions"], test["y"], resolution=2) > 0.9
    prediction, per_atom = ranker.contributions(test["positions"], resolution=2)
    removed = [a for a in range(8) if a not in IMPORTANT]
    assert np.all(per_atom[:, removed] == 0.0)
    # the property does not depend on the removed atoms: moving them changes nothing
    moved = test["positions"].copy()
    moved[:, removed] += np.random.default_rng(3).normal(scale=0.5, size=(100, 6, 3))
    np.testing.assert_allclose(ranker.predict(moved, resolution=2), prediction, atol=1e-5)


def test_atomic_covariance(ranker, data):
    covariance = ranker.atomic_covariance(data["positions"], resolution=3)
    assert covariance.shape == (6, 6)
    np.testing.assert_allclose(covariance, covariance.T, atol=1e-12)
    assert np.linalg.eigvalsh(covariance).min() > -1e-9
    kept = set(ranker.kept_(3).tolist())
    for atom in range(6):
        if atom not in kept:
            assert np.all(covariance[atom] == 0.0)
    edges = ranker.top_covariance_edges(covariance, k=2)
    assert len(edges) == 2 and all(i in kept and j in kept for i, j, _ in edges)
    assert abs(edges[0][2]) >= abs(edges[1][2])


def test_save_and_load_round_trip(ranker, data, tmp_path):
    path = tmp_path / "ranker.pt"
    ranker.save(path)
    loaded = CGMPRanker.load(path)
    np.testing.assert_array_equal(loaded.ranking_, ranker.ranking_)
    assert loaded.resolution_curve_ == ranker.resolution_curve_
    for resolution in (6, 4, 2):
        np.testing.assert_allclose(
            loaded.predict(data["positions"][:20], resolution),
            ranker.predict(data["positions"][:20], resolution),
            atol=1e-6,
        )
    with pytest.raises(ValueError, match="not a saved CGMPRanker"):
        torch.save({"metadata": '{"format": "other"}', "states": {}}, tmp_path / "bad.pt")
        CGMPRanker.load(tmp_path / "bad.pt")


def test_to_cgmap_is_a_decimation_of_the_kept_atoms(ranker, data):
    cgmap = ranker.to_cgmap(2)
    assert cgmap.n_atoms == 8 and cgmap.n_beads == 2
    beads = cgmap.map_positions(data["positions"][:5])
    np.testing.assert_allclose(beads, data["positions"][:5, sorted(IMPORTANT)])


def test_mapping_entropy(ranker):
    same = mapping_entropy([ranker, ranker])
    np.testing.assert_allclose(same.entropy, 0.0)
    np.testing.assert_allclose(same.removal_probability.sum(axis=1), 1.0)
    assert same.resolutions.tolist() == [5, 4, 3, 2]
    # two runs with different removal orders: p = 1/2 on two atoms where they differ
    other = CGMPRanker.__new__(CGMPRanker)
    other.atom_indices_ = ranker.atom_indices_
    other.kept_sets_ = ranker.kept_sets_
    other.ranking_ = ranker.ranking_[[1, 0, 2, 3, 4, 5]]
    mixed = mapping_entropy([ranker, other])
    np.testing.assert_allclose(mixed.entropy, [np.log(2), np.log(2), 0.0, 0.0])
    np.testing.assert_allclose(mixed.decimated_probability[1], same.decimated_probability[1])


def test_unfitted_and_bad_inputs(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        CGMPRanker().predict(np.zeros((1, 3, 3)))
    with pytest.raises(KeyError, match="numbers, positions, y"):
        load_property_data({"positions": np.zeros((2, 3, 3))})
    bad = synthetic_molecule(n_frames=5)
    bad["y"][3] = np.nan
    with pytest.raises(ValueError, match="frame 3"):
        load_property_data(bad)
    path = tmp_path / "frames.npz"
    np.savez(path, symbols=np.array(["C", "Xx"]), positions=np.zeros((2, 2, 3)), homo_eV=[1, 2])
    with pytest.raises(ValueError, match="atom 1 has unknown element 'Xx'"):
        load_property_data(path, target="homo")
    with pytest.raises(KeyError, match="no property 'lumo'"):
        load_property_data(path, target="lumo")


def test_store_input(tmp_path):
    import cgkit.data as cgkit_data

    frames = synthetic_molecule(n_frames=30)
    path = tmp_path / "synthetic.h5"
    with cgkit_data.create(path, provenance={"recipe": "test"}) as store:
        system = store.add_system("mol", frames["numbers"])
        system.add_label("homo", "eV", method="synthetic", program="test", program_version="0")
        system.append_frames(frames["positions"])
        system.write_labels("homo", np.arange(30), frames["y"])
        system.mark_failed("homo", 7, "did not converge")
    loaded = load_property_data(path, target="homo")
    assert loaded.n_frames == 29
    np.testing.assert_allclose(loaded.values, np.delete(frames["y"], 7))
    np.testing.assert_allclose(loaded.positions, np.delete(frames["positions"], 7, axis=0))


def test_fixed_map_baseline_sees_only_its_atoms(data):
    from cgkit.cgmp import CGMPConfig, fit_fixed_atoms

    train, test = np.arange(300), np.arange(300, 400)
    scores = {}
    for atoms in (list(IMPORTANT), [0, 5]):
        config = CGMPConfig(n_atoms=2, hidden=16, layers=2)
        scores[tuple(atoms)] = fit_fixed_atoms(
            data["positions"][:, atoms], data["y"], train, test, config, epochs=15, batch_size=32
        )
    assert scores[IMPORTANT] > 0.8
    assert scores[(0, 5)] < 0.2
