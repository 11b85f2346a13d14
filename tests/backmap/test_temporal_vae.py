"""Temporal VAE backmapper: voxels, local frames, lag conditioning, prior, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("openmm")
pytest.importorskip("rdkit")

from cgkit.backmap.temporal import TemporalVAEBackmapper, TemporalVAEConfig  # noqa: E402
from cgkit.backmap.temporal.data import local_frames, temporal_pairs  # noqa: E402
from cgkit.backmap.temporal.networks import TemporalDecoder  # noqa: E402
from cgkit.backmap.voxel import density_to_coordinate, gaussian_density, make_grid  # noqa: E402
from cgkit.sampling.openmm_md import (  # noqa: E402
    backbone_map,
    capped_peptide,
    create_openmm_system,
    run_openmm_md,
)

TINY = dict(
    resolution=8, length=10.0, channels=4, latent_dim=4, n_blocks=1, n_steps=3, batch_size=4,
    library_size=20, n_components=2, seed=7,
)  # fmt: skip


@pytest.fixture(scope="module")
def trajectory():
    """40 frames of alanine dipeptide MD (50 fs apart) and its backbone map."""
    torch.set_num_threads(1)
    structure = capped_peptide("A")
    system = create_openmm_system(structure.topology)
    positions, *_ = run_openmm_md(
        system, structure.topology, structure.positions, 40, interval_fs=50.0,
        timestep_fs=1.0, equilibration_fs=200.0, seed=1,
    )  # fmt: skip
    return positions, backbone_map(structure)


@pytest.fixture(scope="module")
def model(trajectory):
    positions, cgmap = trajectory
    return TemporalVAEBackmapper(TemporalVAEConfig(**TINY)).fit(positions, cgmap)


def test_voxel_coordinate_round_trip(rng):
    grid = make_grid(12, 12.0, dtype=torch.float64)
    points = torch.tensor(rng.uniform(-3.0, 3.0, size=(2, 22, 3)))
    density = gaussian_density(points, grid, sigma_sq=1.0)
    assert density.shape == (2, 22, 12, 12, 12)
    recovered = density_to_coordinate(density, grid)
    assert torch.max(torch.abs(recovered - points)) < 1e-3
    # the decoder's log-density prior reproduces the same points through a softmax
    logits = torch.log(density.clamp_min(1e-12)).flatten(2)
    recovered = density_to_coordinate(torch.softmax(logits, -1).view_as(density), grid)
    assert torch.max(torch.abs(recovered - points)) < 1e-3


def test_untrained_decoder_copies_previous_frame(rng):
    grid = make_grid(8, 10.0)
    decoder = TemporalDecoder(n_atoms=6, n_beads=2, resolution=8, channels=4, latent_dim=3)
    previous = torch.tensor(rng.uniform(-2.0, 2.0, size=(1, 6, 3)), dtype=torch.float32)
    beads = torch.zeros(1, 2, 3)
    logits = decoder(
        gaussian_density(beads, grid), gaussian_density(previous, grid), torch.randn(1, 3)
    )
    probs = torch.softmax(logits.flatten(2), -1).view_as(logits)
    assert torch.max(torch.abs(density_to_coordinate(probs, grid) - previous)) < 0.01


def test_local_frames_are_rigid_motion_invariant(trajectory):
    from scipy.spatial.transform import Rotation

    positions, cgmap = trajectory
    reference = cgmap.map_positions(positions[0])
    pairs = temporal_pairs(positions, cgmap.weights, reference, lag=2)
    rot = Rotation.random(random_state=3).as_matrix()
    moved = positions @ rot.T + np.array([5.0, 1.0, -7.0])
    moved_pairs = temporal_pairs(moved, cgmap.weights, reference, lag=2)
    assert len(pairs) == len(positions) - 2
    for a, b in [(pairs.beads, moved_pairs.beads), (pairs.current, moved_pairs.current),
                 (pairs.previous, moved_pairs.previous)]:  # fmt: skip
        np.testing.assert_allclose(a, b, atol=1e-8)
    # with an atom -> bead assignment the previous frame is moved onto the current beads
    from cgkit.backmap.temporal.data import assign_atoms_to_beads

    owner = assign_atoms_to_beads(cgmap.weights, positions[0])
    shifted = temporal_pairs(positions, cgmap.weights, reference, 2, atom_to_bead=owner)
    np.testing.assert_allclose(cgmap.map_positions(shifted.previous), shifted.beads, atol=1e-10)
    np.testing.assert_allclose(shifted.current, pairs.current)
    # local <-> lab round trip
    frames = local_frames(cgmap.map_positions(moved), reference)
    np.testing.assert_allclose(frames.to_lab(frames.to_local(moved)), moved, atol=1e-10)
    # segments: no pair across a segment boundary
    segments = np.repeat([0, 1], len(positions) // 2)
    assert (
        len(temporal_pairs(positions, cgmap.weights, reference, 2, segments)) == len(positions) - 4
    )


def test_prior_draws_give_valid_frames(model, trajectory):
    positions, cgmap = trajectory
    beads = cgmap.map_positions(positions[10:16])
    frames = model.backmap_trajectory(beads, seed=1)
    assert frames.shape == (6, 22, 3) and np.all(np.isfinite(frames))
    # projected onto the beads: exact CG consistency
    np.testing.assert_allclose(cgmap.map_positions(frames), beads, atol=1e-6)
    # first frame from the library: the nearest CG frame of a training frame is itself
    index, rmsd, _ = model.library_.nearest(beads[:1])
    assert rmsd[0] < 1e-6
    # atoms stay on the grid around the bead centroid
    extent = np.abs(frames - beads.mean(axis=1, keepdims=True)).max()
    assert extent < TINY["length"] / 2 * np.sqrt(3)
    z = model.sample_latent(500, np.random.default_rng(0))
    assert z.shape == (500, 4) and torch.isfinite(z).all()
    # draws follow the mixture: their mean matches the fitted mixture mean
    mixture_mean = model.prior_weights_ @ model.prior_means_
    assert np.allclose(z.mean(0).numpy(), mixture_mean, atol=0.3 + 3 * z.std(0).max() / 20)


def test_previous_frame_conditioning_is_used(model, trajectory):
    positions, cgmap = trajectory
    beads = cgmap.map_positions(positions[20])
    a = model.backmap_step(beads, positions[19], np.random.default_rng(5))
    same = model.backmap_step(beads, positions[19], np.random.default_rng(5))
    b = model.backmap_step(beads, positions[5], np.random.default_rng(5))
    np.testing.assert_array_equal(a, same)
    moved = np.linalg.norm(a - b, axis=1)
    assert moved.max() > 0.1
    # the backbone atoms are pinned to their beads whatever the previous frame
    np.testing.assert_allclose(a[[0, 6, 7, 8, 16]], b[[0, 6, 7, 8, 16]], atol=1e-6)


def test_deterministic_with_seed_and_save_load(model, trajectory, tmp_path):
    positions, cgmap = trajectory
    beads = cgmap.map_positions(positions[25:30])
    first = model.backmap_trajectory(beads, seed=3)
    np.testing.assert_array_equal(first, model.backmap_trajectory(beads, seed=3))
    assert np.abs(first[1:] - model.backmap_trajectory(beads, seed=4)[1:]).max() > 0
    model.save(tmp_path / "vae.pt")
    loaded = TemporalVAEBackmapper.load(tmp_path / "vae.pt")
    np.testing.assert_allclose(loaded.backmap_trajectory(beads, seed=3), first, atol=1e-10)
    assert loaded.config == model.config and loaded.symbols_ == model.symbols_
    # atoms form
    from ase import Atoms

    cg_atoms = [Atoms("X5", positions=b) for b in beads]
    out = loaded.transform(cg_atoms)
    assert out[0].get_chemical_symbols() == model.symbols_
    expected = loaded.backmap_trajectory(beads)  # default seed: config.seed
    np.testing.assert_allclose(np.stack([a.positions for a in out]), expected, atol=1e-10)


def test_fit_from_store_with_energy_term(trajectory, tmp_path):
    import cgkit.data
    from cgkit.backmap.temporal import OpenMMEnergy

    positions, cgmap = trajectory
    structure = capped_peptide("A")
    with cgkit.data.create(tmp_path / "adp.h5") as store:
        system = store.add_system("adp", numbers=list(structure.symbols))
        system.append_frames(positions)
    energy = OpenMMEnergy(create_openmm_system(structure.topology))
    model = TemporalVAEBackmapper(
        TemporalVAEConfig(**(TINY | {"energy_weight": 1.0, "beta_period": 2})), energy=energy
    ).fit(tmp_path / "adp.h5", cgmap)
    assert len(model.history_) == TINY["n_steps"]
    assert all(np.isfinite(h["energy"]) and np.isfinite(h["total"]) for h in model.history_)
    assert model.symbols_ == list(structure.symbols)
    beads = cgmap.map_positions(positions[:4])
    with cgkit.data.create(tmp_path / "out.zarr") as store:
        out = store.add_system("backmapped", numbers=model.symbols_)
        frames = model.backmap_trajectory(beads, out=out)
        assert out.n_frames == 4
        np.testing.assert_allclose(out.read_positions(), frames)
    with pytest.raises(ValueError, match="22 atoms"):
        TemporalVAEBackmapper(TemporalVAEConfig(**TINY)).fit(positions[:, :10], cgmap)
    # bond constraints: every generated frame has its hydrogens at the MD's lengths, the
    # beads stay exact (decimation maps give hydrogens no weight); save/load keeps them
    from openmm import app

    from cgkit.backmap.temporal import BondConstraints

    constraints = BondConstraints.from_openmm(
        create_openmm_system(structure.topology, constraints=app.HBonds)
    )
    model = TemporalVAEBackmapper(TemporalVAEConfig(**TINY)).fit(
        positions, cgmap, constraints=constraints
    )
    model.save(tmp_path / "constrained.pt")
    loaded = TemporalVAEBackmapper.load(tmp_path / "constrained.pt")
    np.testing.assert_array_equal(loaded.constraints_.pairs, constraints.pairs)
    beads = cgmap.map_positions(positions[30:36])
    frames = loaded.backmap_trajectory(beads, seed=2)
    np.testing.assert_allclose(frames, model.backmap_trajectory(beads, seed=2), atol=1e-10)
    anchor, moved = constraints.pairs.T
    lengths = np.linalg.norm(frames[:, moved] - frames[:, anchor], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(constraints.lengths, lengths.shape),
                               atol=1e-10)  # fmt: skip
    np.testing.assert_allclose(cgmap.map_positions(frames), beads, atol=1e-6)
    with pytest.raises(ValueError, match="5 beads"):
        model.backmap_trajectory(np.zeros((3, 4, 3)))


def test_shift_to_beads_keeps_groups_rigid(trajectory, rng):
    from cgkit.backmap.temporal.data import assign_atoms_to_beads, shift_to_beads

    positions, cgmap = trajectory
    owner = assign_atoms_to_beads(cgmap.weights, positions[0])
    names = [cgmap.symbols[i] for i in range(22)]
    assert owner[[0, 6, 7, 8, 16]].tolist() == [0, 1, 2, 3, 4]  # backbone atoms own beads
    assert names[12] == "H" and owner[12] == 2  # HA (bonded to CA) follows the CA bead
    target = cgmap.map_positions(positions[3]) + rng.normal(scale=0.3, size=(5, 3))
    shifted = shift_to_beads(positions[3], cgmap.weights, target, owner)
    np.testing.assert_allclose(cgmap.map_positions(shifted), target, atol=1e-12)
    same = owner[:, None] == owner[None, :]
    before = np.linalg.norm(positions[3][:, None] - positions[3][None], axis=-1)
    after = np.linalg.norm(shifted[:, None] - shifted[None], axis=-1)
    np.testing.assert_allclose(after[same], before[same], atol=1e-12)


def test_backmaps_a_cg_trajectory_that_was_never_all_atom(model, trajectory):
    from cgkit.backmap.temporal.cg_trajectory import bonded_potentials, perturbed_cg_trajectory

    positions, cgmap = trajectory
    mapped = cgmap.map_positions(positions)
    tables = bonded_potentials(mapped, cgmap)
    scaled = bonded_potentials(mapped, cgmap, dihedral_scale=0.5)
    assert [p.kind for p in tables] == ["bond"] * 4 + ["angle"] * 3 + ["dihedral"] * 2
    for a, b in zip(tables, scaled, strict=True):
        factor = 0.5 if a.kind == "dihedral" else 1.0
        np.testing.assert_allclose(b.values, factor * a.values)
    masses = np.array([12.011, 14.007, 12.011, 12.011, 14.007])
    cg_md = perturbed_cg_trajectory(
        mapped, cgmap, masses, n_frames=6, interval_fs=20.0, equilibration_fs=100.0, seed=2
    )
    assert cg_md.shape == (6, 5, 3)
    # CG MD bonds stay near the mapped ones, but the frames are new configurations
    bonds = np.linalg.norm(np.diff(cg_md, axis=1), axis=-1)
    ref_bonds = np.linalg.norm(np.diff(mapped, axis=1), axis=-1)
    assert np.all(np.abs(bonds.mean(0) - ref_bonds.mean(0)) < 0.1)
    _, rmsd, _ = model.library_.nearest(cg_md)
    assert np.all(rmsd > 1e-3)
    frames = model.backmap_trajectory(cg_md, seed=0)
    assert frames.shape == (6, 22, 3) and np.all(np.isfinite(frames))
    np.testing.assert_allclose(cgmap.map_positions(frames), cg_md, atol=1e-6)
    # every atom stays bonded within a molecule-sized distance of its bead
    owner_distance = np.linalg.norm(frames - cg_md[:, model.atom_to_bead_], axis=-1)
    assert owner_distance.max() < TINY["length"] / 2


def test_energy_match_term_is_zero_at_the_reference_and_sees_constraints(trajectory):
    from openmm import app

    from cgkit.backmap.temporal import BondConstraints, OpenMMEnergy, losses

    reference = torch.tensor([3.0, -2.0, 150.0])
    assert losses.energy_match_loss(reference, reference).item() == 0.0
    generated = (reference + torch.tensor([1.0, -2.0, 0.0])).requires_grad_()
    loss = losses.energy_match_loss(generated, reference)
    loss.backward()
    assert loss.item() == pytest.approx(1.0)  # mean |difference|, below the cap
    np.testing.assert_allclose(generated.grad.numpy(), [1 / 3, -1 / 3, 0.0])  # toward ref
    with pytest.raises(ValueError, match="energy_mode"):
        TemporalVAEConfig(energy_mode="max")

    positions, cgmap = trajectory
    structure = capped_peptide("A")
    constraints = BondConstraints.from_openmm(
        create_openmm_system(structure.topology, constraints=app.HBonds)
    )
    noisy = positions[:3] + np.random.default_rng(3).normal(0, 0.05, positions[:3].shape)
    tensor = torch.tensor(noisy, requires_grad=True)
    constrained = constraints.apply_tensor(tensor)
    np.testing.assert_allclose(constrained.detach().numpy(), constraints.apply(noisy), atol=1e-12)
    anchor, moved = constraints.pairs.T
    lengths = torch.linalg.norm(constrained[:, moved] - constrained[:, anchor], dim=-1)
    expected = np.broadcast_to(constraints.lengths, lengths.shape)
    np.testing.assert_allclose(lengths.detach().numpy(), expected, atol=1e-12)
    np.testing.assert_array_equal(constrained.detach().numpy()[:, anchor], noisy[:, anchor])
    constrained.sum().backward()
    assert torch.isfinite(tensor.grad).all()

    energy = OpenMMEnergy(create_openmm_system(structure.topology))
    model = TemporalVAEBackmapper(
        TemporalVAEConfig(**(TINY | {"energy_weight": 1.0, "energy_mode": "match"})),
        energy=energy,
    ).fit(positions, cgmap, constraints=constraints)
    assert all(h["energy"] >= 0 and np.isfinite(h["total"]) for h in model.history_)


def test_previous_frame_noise_changes_training_only_when_set(trajectory):
    positions, cgmap = trajectory

    def fit(noise):
        config = TemporalVAEConfig(**(TINY | {"previous_noise": noise}))
        return TemporalVAEBackmapper(config).fit(positions, cgmap)

    plain, again, noisy = fit(0.0), fit(0.0), fit(0.2)

    def weights(model):
        return torch.cat([p.detach().flatten() for p in model.decoder_.parameters()])

    assert torch.equal(weights(plain), weights(again))  # seeded: reproducible
    assert not torch.allclose(weights(plain), weights(noisy))
