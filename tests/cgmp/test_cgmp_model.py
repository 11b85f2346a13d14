"""CGMP network, loss and schedule: invariances, exact gating, noise, regulariser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from cgkit.cgmp import CGMPConfig, CGMPModel, LossConfig, ResolutionSchedule, cgmp_loss
from cgkit.cgmp.loss import gate_regulariser


def _molecule(rng, n_frames=5, n_atoms=8):
    """A chain-like molecule (bonds ~1.5 Å) with seeded thermal noise, (F, n, 3) Å."""
    steps = rng.normal(size=(n_atoms, 3))
    steps = 1.5 * steps / np.linalg.norm(steps, axis=1, keepdims=True)
    base = np.cumsum(steps, axis=0)
    frames = base + rng.normal(scale=0.1, size=(n_frames, n_atoms, 3))
    return torch.tensor(frames, dtype=torch.float32)


@pytest.fixture
def model():
    torch.manual_seed(0)
    net = CGMPModel(CGMPConfig(n_atoms=8, hidden=16, layers=2, cutoff=4.0))
    with torch.no_grad():
        net.gate_logits.copy_(torch.linspace(-1.0, 4.0, 8))  # a spread of gate values
    net.requires_grad_(False)
    return net.eval()


def test_prediction_invariant_to_rotation_and_translation(model, rng):
    positions = _molecule(rng)
    reference = model(positions)
    rotation = torch.tensor(Rotation.random(random_state=1).as_matrix(), dtype=torch.float32)
    moved = positions @ rotation.T + torch.tensor([3.0, -1.0, 7.0])
    out = model(moved)
    np.testing.assert_allclose(out["prediction"], reference["prediction"], atol=2e-5)
    np.testing.assert_allclose(out["atom_outputs"], reference["atom_outputs"], atol=2e-5)


def test_prediction_invariant_to_frame_batching(model, rng):
    positions = _molecule(rng)
    together = model(positions)["prediction"]
    alone = torch.cat([model(positions[i : i + 1])["prediction"] for i in range(5)])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_gate_zero_removes_edges_and_contribution_exactly(model, rng):
    positions = _molecule(rng)
    gates = model.gates().detach().clone()
    removed = 3
    gates[removed] = 0.0
    gated = model(positions, gates=gates)
    assert torch.all(gated["atom_outputs"][:, removed] == 0.0)
    present = torch.tensor([i for i in range(8) if i != removed])
    deleted = model(positions[:, present], atom_ids=present, gates=gates[present])
    np.testing.assert_allclose(gated["prediction"], deleted["prediction"], atol=1e-6)
    np.testing.assert_allclose(
        gated["atom_outputs"][:, present], deleted["atom_outputs"], atol=1e-6
    )
    # and the removed atom did matter while it was on
    assert (model(positions)["prediction"] - gated["prediction"]).abs().max() > 1e-4


def test_removed_atom_stays_removed_under_noise_and_gate_training(rng):
    torch.manual_seed(0)
    net = CGMPModel(CGMPConfig(n_atoms=8, hidden=16, layers=2, cutoff=4.0))
    positions = _molecule(rng)
    removed = 2
    net.remove_atoms([removed])
    assert net.gates()[removed] == 0.0 and torch.all(net.gates()[torch.arange(8) != removed] > 0)
    # noise on the gate logits cannot switch it back on, in any frame
    noisy = net(positions, noise=True)
    assert torch.all(noisy["gates"][:, removed] == 0.0)
    assert torch.all(noisy["atom_outputs"][:, removed] == 0.0)
    # the gate regulariser and the prediction give its logit no gradient, so Adam cannot
    # revive it; the other gates do learn
    terms = cgmp_loss(
        noisy["prediction"], torch.zeros(5), noisy["raw_atom_outputs"], net.gates(), 5, LossConfig()
    )
    terms["loss"].backward()
    assert net.gate_logits.grad[removed] == 0.0
    assert net.gate_logits.grad.abs().sum() > 0
    # without noise the prediction equals that of the molecule without the atom
    present = torch.tensor([i for i in range(8) if i != removed])
    with torch.no_grad():
        deleted = net(positions[:, present], atom_ids=present)
        np.testing.assert_allclose(net(positions)["prediction"], deleted["prediction"], atol=1e-6)
    with pytest.raises(IndexError, match="out of range"):
        net.remove_atoms([8])


def test_prediction_changes_continuously_with_a_gate(model, rng):
    positions = _molecule(rng, n_frames=2)
    gates = model.gates().detach().clone()
    values = []
    for g in torch.linspace(0.0, 1.0, 201):
        gates[5] = g
        values.append(model(positions, gates=gates)["prediction"].detach())
    jumps = torch.stack(values).diff(dim=0).abs().max()
    spread = torch.stack(values).max(0).values - torch.stack(values).min(0).values
    assert jumps < 0.1 * spread.max()


def test_atoms_beyond_the_cutoff_do_not_interact(model, rng):
    positions = _molecule(rng, n_frames=2)
    far = positions.clone()
    far[:, 4:] += torch.tensor([50.0, 0.0, 0.0])  # two fragments far apart
    both = model(far)
    first = model(far[:, :4], atom_ids=torch.arange(4))
    second = model(far[:, 4:], atom_ids=torch.arange(4, 8))
    np.testing.assert_allclose(both["atom_outputs"][:, :4], first["atom_outputs"], atol=1e-6)
    np.testing.assert_allclose(both["atom_outputs"][:, 4:], second["atom_outputs"], atol=1e-6)
    # a single isolated atom has no edges at all and still gets a finite contribution
    alone = model(far[:, :1], atom_ids=torch.arange(1))
    assert torch.isfinite(alone["prediction"]).all()


def test_noise_only_in_training_path(model, rng):
    positions = _molecule(rng)
    first = model(positions)["prediction"]
    np.testing.assert_array_equal(first, model(positions)["prediction"])
    noisy = model(positions, noise=True)["prediction"]
    assert (noisy - first).abs().max() > 1e-4


def test_forces_by_autograd_are_finite(model, rng):
    positions = _molecule(rng).requires_grad_(True)
    model(positions)["prediction"].sum().backward()
    assert torch.isfinite(positions.grad).all()
    assert positions.grad.abs().sum() > 0


def test_atom_ids_must_match_positions(model, rng):
    with pytest.raises(ValueError, match="atom_ids"):
        model(_molecule(rng), atom_ids=torch.arange(3))


def test_gate_regulariser_vanishes_only_at_binary_gates_with_right_count():
    config = LossConfig()
    on, off = 1.0 - config.high_margin, config.low
    binary = torch.tensor([on, on, on, off, off])
    # the binary term vanishes; only the count term (sum g - M)^2 is left
    count = config.count_weight * (3 * on - 3) ** 2
    assert gate_regulariser(binary, 3, config).item() == pytest.approx(count, rel=1e-4)
    assert count < 0.05
    one_too_many = config.count_weight * (3 * on - 2) ** 2
    assert gate_regulariser(binary, 2, config).item() == pytest.approx(one_too_many, rel=1e-4)
    undecided = torch.tensor([on, on, 0.5, 0.5, off])
    assert gate_regulariser(undecided, 3, config).item() > 0.4


def test_cgmp_loss_terms():
    prediction = torch.tensor([1.0, 2.0])
    target = torch.tensor([1.0, 0.0])
    raw = torch.tensor([[1.0, -1.0], [3.0, 1.0]])  # per-atom means 2 and 0
    gates = torch.tensor([1.0, 0.0])  # binary term 0.01 for the first gate, count term 1
    config = LossConfig(mean_weight=0.5, gate_weight=0.1, count_weight=2.0)
    terms = cgmp_loss(prediction, target, raw, gates, 2, config)
    assert terms["gate_penalty"].item() == pytest.approx(0.01 + 2.0)
    assert terms["mse"].item() == pytest.approx(2.0)
    assert terms["mean_penalty"].item() == pytest.approx(4.0)
    assert terms["loss"].item() == pytest.approx(2.0 + 0.5 * 4.0 + 0.1 * 2.01, abs=1e-6)


def test_resolution_schedule():
    schedule = ResolutionSchedule(n_atoms=5, warmup=3, epochs_per_step=2)
    targets = [schedule.resolution(e) for e in range(schedule.n_epochs)]
    assert targets == [5, 5, 5, 4, 4, 3, 3, 2, 2]
    records = [e for e in range(schedule.n_epochs) if schedule.is_record_epoch(e)]
    assert [targets[e] for e in records] == [5, 4, 3, 2]
    assert records == [2, 4, 6, 8]
    with pytest.raises(ValueError, match="epoch"):
        schedule.resolution(9)
    with pytest.raises(ValueError, match="min_resolution"):
        ResolutionSchedule(n_atoms=3, warmup=1, epochs_per_step=1, min_resolution=4)
