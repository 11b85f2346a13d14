"""DBMBackmapper on the hand-built chain: tiny training, inference, Gibbs, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from cgkit.backmap.batch import EnvironmentBuilder
from cgkit.backmap.dbm import DBMBackmapper, DBMConfig
from cgkit.backmap.energy import ForceFieldEnergy
from cgkit.backmap.environment import make_plan
from cgkit.backmap.generation import SequenceTensors
from cgkit.backmap.voxel import make_grid

TINY = dict(width=4, noise_dim=4, batch_size=2, n_critic=2, max_batches=4, n_gibbs=1,
            n_candidates=2, prior_schedule=(0.5,), prior_weights=(0.0, 1.0))  # fmt: skip


def _frames(topology, positions, rng, n=3):
    return [
        Atoms(topology.symbols, positions + rng.normal(scale=0.05, size=positions.shape))
        for _ in range(n)
    ]


@pytest.fixture
def fitted(chain_system, rng):
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    model = DBMBackmapper(ff, DBMConfig(**TINY)).fit(_frames(topology, positions, rng),
                                                     topology, cgmap)  # fmt: skip
    return model, chain_system


def test_fit_and_transform_preserve_the_cg_mapping(fitted):
    model, (topology, _ff, cgmap, positions) = fitted
    assert len(model.history_) == 4
    assert np.isfinite(model.history_[1]["generator"])  # a generator step happened
    cg = Atoms("X3", cgmap.map_positions(positions))
    before = cg.positions.copy()
    aa = model(cg)
    assert aa is not cg and np.array_equal(cg.positions, before)  # input untouched
    assert len(aa) == topology.n_atoms and np.isfinite(aa.positions).all()
    assert aa.get_chemical_symbols() == topology.symbols
    assert list(aa.arrays["atomtypes"]) == topology.atom_types
    assert np.allclose(cgmap.map_positions(aa.positions), before, atol=1e-8)
    # every atom stays near its bead (inside the local grid)
    owner = model.atom_to_bead_
    assert np.abs(aa.positions - before[owner]).max() < 6.0 + 3.0


def test_constrained_sampling_is_cg_consistent_without_projection(fitted):
    model, (_topology, _ff, cgmap, positions) = fitted
    cg = Atoms("X3", cgmap.map_positions(positions))
    model.config.project_to_beads = False
    model.config.constrain_to_beads = True
    constrained = model(cg, seed=3)
    model.config.constrain_to_beads = False
    free = model(cg, seed=3)
    # float32 local coordinates: exact to ~1e-6 Å; without the constraint the beads drift
    assert np.abs(cgmap.map_positions(constrained.positions) - cg.positions).max() < 1e-4
    assert np.abs(cgmap.map_positions(free.positions) - cg.positions).max() > 1e-3


def test_repair_sweeps_replace_only_the_beads_in_close_contact(fitted, monkeypatch):
    model, (_topology, _ff, cgmap, positions) = fitted
    assert len(model.clashing_beads(positions)) == 0  # the reference chain is clash-free
    clashed = positions.copy()
    seq0, seq2 = model.plan_.sequences[0], model.plan_.sequences[2]
    clashed[seq2[0]] = clashed[seq0[0]] + np.array([0.3, 0.0, 0.0])  # not bonded: a clash
    assert {0, 2} <= set(model.clashing_beads(clashed).tolist())
    cg = Atoms("X3", cgmap.map_positions(positions))
    model.config.project_to_beads = False
    model.config.n_repair = 0
    plain = model(cg, seed=5).positions
    # one repair round for bead 1, then no contacts left: only bead 1's atoms move
    none = np.zeros((0, 2), dtype=int)
    answers = iter([(np.array([1]), none), (np.array([], dtype=int), none)])
    monkeypatch.setattr(model, "clashing_beads", lambda *args, **kwargs: next(answers))
    model.config.n_repair = 3
    repaired = model(cg, seed=5).positions
    moved = np.flatnonzero(np.abs(repaired - plain).max(axis=1) > 0)
    assert len(moved) > 0 and set(moved) <= set(model.plan_.sequences[1].tolist())
    with pytest.raises(StopIteration):  # the loop stopped at the empty answer
        next(answers)


def test_gibbs_step_changes_only_the_atoms_being_replaced(fitted):
    model, (_topology, _ff, cgmap, positions) = fitted
    beads = cgmap.map_positions(positions)
    current = positions.copy()
    placed = np.ones(len(positions), dtype=bool)
    model.place_beads(np.array([1]), current, placed, beads, None, True,
                      np.random.default_rng(0))  # fmt: skip
    moved = np.flatnonzero(np.abs(current - positions).max(axis=1) > 0)
    sequence = model.plan_.sequences[1]
    assert set(moved) <= set(sequence.tolist()) and len(moved) > 0
    untouched = np.setdiff1d(np.arange(len(positions)), sequence)
    assert np.array_equal(current[untouched], positions[untouched])


def test_save_load_reproduces_the_backmapping(fitted, tmp_path):
    model, (_topology, _ff, cgmap, positions) = fitted
    path = tmp_path / "dbm.pt"
    model.save(path)
    loaded = DBMBackmapper.load(path)
    cg = Atoms("X3", cgmap.map_positions(positions))
    assert np.allclose(loaded.transform(cg, seed=5).positions,
                       model.transform(cg, seed=5).positions)  # fmt: skip
    assert loaded.config == model.config
    torch.save({"meta": '{"format": "other"}'}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a saved DBMBackmapper"):
        DBMBackmapper.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="has 2 beads"):
        model(Atoms("X2", np.zeros((2, 3))))


@pytest.mark.parametrize("bond_stiffness", [1.0, 100.0])
def test_local_sequence_energy_tracks_the_total_energy(chain_system, rng, bond_stiffness):
    """The sequence energy (prior and candidate selection) changes exactly as the total
    force-field energy does, also with the bond constants scaled as the baseline does."""
    topology, ff, cgmap, positions = chain_system
    heavy = np.array([s != "H" for s in topology.symbols])
    owner = np.asarray(cgmap.weights).argmax(axis=0)
    plan = make_plan(topology.bonds, owner, 3, heavy)
    builder = EnvironmentBuilder(topology, ff, owner, cgmap.bead_types, plan, cutoff=30.0)
    beads = cgmap.map_positions(positions)
    present = np.ones(len(positions), dtype=bool)
    batch = builder.build([1], positions, present, beads, gibbs=True)
    tensors = SequenceTensors(batch, make_grid(8, 12.0), 2.0)
    total = ForceFieldEnergy.from_topology(topology, ff, cutoff=30.0, dtype=torch.float64)
    total.terms.kb = total.terms.kb * bond_stiffness
    moved = positions.copy()
    kick = rng.normal(scale=0.1, size=(len(plan.sequences[1]), 3))
    moved[plan.sequences[1]] += kick
    local_kick = torch.tensor(kick @ batch.rotations[0].T, dtype=torch.float32)
    options = dict(soft_core=0.0, bond_stiffness=bond_stiffness)
    d_local = tensors.energy(tensors.seq_local + local_kick, **options) - tensors.energy(
        tensors.seq_local, **options
    )
    d_total = total(torch.tensor(moved)) - total(torch.tensor(positions))
    assert float(d_local) == pytest.approx(float(d_total), rel=1e-3, abs=1e-5)


def test_backmap_trajectory_fills_a_store_and_trains_from_it(fitted, tmp_path):
    import cgkit.data

    model, (topology, ff, cgmap, positions) = fitted
    frames = [Atoms("X3", cgmap.map_positions(positions) + shift) for shift in (0.0, 0.5)]
    numbers = Atoms(topology.symbols).numbers
    with cgkit.data.create(tmp_path / "aa.h5", provenance={"test": "backmap"}) as store:
        system = store.add_system("chain", numbers, bonds=topology.bonds)
        out = model.backmap_trajectory(frames, store=system, seed=3)
        assert system.n_frames == 2
        assert np.allclose(system.read_positions([1])[0], out[1].positions)
        # the second frame is the first one's CG input shifted by 0.5 Å
        assert np.allclose(cgmap.map_positions(out[1].positions), frames[1].positions)
        again = DBMBackmapper(ff, DBMConfig(**TINY)).fit(system, topology, cgmap)
        assert len(again.history_) == 4


def test_soft_core_prior_is_finite_for_overlapping_atoms(chain_system, rng):
    topology, ff, cgmap, positions = chain_system
    heavy = np.array([s != "H" for s in topology.symbols])
    owner = np.asarray(cgmap.weights).argmax(axis=0)
    plan = make_plan(topology.bonds, owner, 3, heavy)
    builder = EnvironmentBuilder(topology, ff, owner, cgmap.bead_types, plan)
    beads = cgmap.map_positions(positions)
    batch = builder.build([1], positions, plan.bead_step[owner] < 1, beads)
    tensors = SequenceTensors(batch, make_grid(8, 12.0), 2.0)
    # an untrained generator puts every sequence atom within a few hundredths of an Å
    collapsed = torch.tensor(rng.normal(scale=0.02, size=tensors.seq_local.shape),
                             dtype=torch.float32, requires_grad=True)  # fmt: skip
    energy = tensors.energy(collapsed)
    with torch.no_grad():
        plain_collapsed = float(tensors.energy(collapsed, soft_core=0.0))
    assert not np.isfinite(plain_collapsed) or plain_collapsed > 1e6 * float(energy.detach())
    (grad,) = torch.autograd.grad(energy.sum(), collapsed)
    assert torch.isfinite(energy).all() and torch.isfinite(grad).all()
    # far from overlap the soft core changes the LJ energy only slightly
    plain = tensors.energy(tensors.seq_local, soft_core=0.0)
    assert float(tensors.energy(tensors.seq_local)) == pytest.approx(float(plain), rel=0.05)


def _two_chain_builder(chain_system, shift):
    topology, ff, cgmap, positions = chain_system
    two, two_map = topology.replicate(2), cgmap.repeat(2)
    both = np.concatenate([positions, positions + shift])
    heavy = np.array([s != "H" for s in two.symbols])
    owner = np.asarray(two_map.weights).argmax(axis=0)
    plan = make_plan(two.bonds, owner, two_map.n_beads, heavy)
    builder = EnvironmentBuilder(two, ff, owner, two_map.bead_types, plan)
    return builder, plan, both, two_map.map_positions(both)


def test_gibbs_environment_shows_the_other_beads_of_the_batch(chain_system):
    # the two chains' middle beads are filled at the same step, 4 Å apart
    builder, plan, both, beads = _two_chain_builder(chain_system, [0.0, 0.0, 4.0])
    group = plan.steps[plan.bead_step[1]]
    assert sorted(group.tolist()) == [1, 4]
    present = np.ones(len(both), dtype=bool)
    batch = builder.build(group, both, present, beads, gibbs=True)
    for b, other in ((0, 1), (1, 0)):
        env = set(batch.env_atoms[b][batch.env_atoms[b] >= 0].tolist())
        assert set(plan.sequences[group[other]].tolist()) <= env  # neighbour bead visible
        assert not env & set(plan.sequences[group[b]].tolist())  # own atoms are the sequence
    # forward sampling: beads of the same step are not placed yet, so they stay hidden
    not_yet = plan.bead_step[builder.atom_to_bead] < plan.bead_step[1]
    forward = builder.build(group, both, not_yet, beads)
    assert not set(forward.env_atoms[0].tolist()) & set(plan.sequences[group[1]].tolist())


def _tile_batch(batch, n_copies):
    """Reference for SequenceTensors(n_copies=...): the batch copied n_copies times along
    the bead axis (copy-major), term indices shifted by each copy's flattened offset."""
    from cgkit.backmap.batch import SequenceBatch

    n_batch, n_env = batch.env_atoms.shape
    stride = n_batch * (n_env + batch.sequence.shape[1])
    terms = {
        kind: (np.concatenate([index + c * stride for c in range(n_copies)]),
               np.tile(params, (n_copies, 1)))
        for kind, (index, params) in batch.terms.items()
    }  # fmt: skip
    arrays = {name: np.concatenate([getattr(batch, name)] * n_copies)
              for name in SequenceBatch.__dataclass_fields__ if name != "terms"}  # fmt: skip
    return SequenceBatch(**arrays, terms=terms)


def test_tiled_batch_repeats_environments_and_energies(chain_system, rng):
    builder, plan, both, beads = _two_chain_builder(chain_system, [0.0, 0.0, 4.5])
    group = plan.steps[plan.bead_step[1]]
    batch = builder.build(group, both, np.ones(len(both), dtype=bool), beads, gibbs=True)
    grid = make_grid(8, 12.0)
    single = SequenceTensors(batch, grid, 2.0)
    tiled = SequenceTensors(_tile_batch(batch, 3), grid, 2.0)
    assert tiled.n_batch == 3 * single.n_batch
    moved = single.seq_local + torch.tensor(rng.normal(scale=0.2, size=single.seq_local.shape),
                                            dtype=torch.float32)  # fmt: skip
    e1 = single.energy(moved, soft_core=0.0)
    e3 = tiled.energy(moved.repeat(3, 1, 1), soft_core=0.0)
    assert torch.allclose(e3.view(3, -1), e1.expand(3, -1), rtol=1e-5)
    shared = SequenceTensors(batch, grid, 2.0, n_copies=3)  # the same without copying
    assert shared.n_batch == tiled.n_batch
    assert torch.allclose(shared.energy(moved.repeat(3, 1, 1), soft_core=0.0), e3)
    for step in range(single.n_seq):
        expected = single.step_channels(step, moved)
        got = tiled.step_channels(step, moved.repeat(3, 1, 1))
        assert torch.allclose(got[: single.n_batch], expected, atol=1e-6)
        assert torch.allclose(shared.step_channels(step, moved.repeat(3, 1, 1)), got, atol=1e-6)


def test_gibbs_batches_train_and_config_checks_the_fraction(chain_system, rng):
    """Training with Gibbs batches only (all other atoms present) runs and learns weights;
    fractions outside [0, 1] are refused."""
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    config = DBMConfig(**{**TINY, "gibbs_fraction": 1.0})
    model = DBMBackmapper(ff, config).fit(_frames(topology, positions, rng), topology, cgmap)
    assert len(model.history_) == 4
    assert all(np.isfinite(h["critic"]) for h in model.history_)
    with pytest.raises(ValueError, match="gibbs_fraction"):
        DBMConfig(gibbs_fraction=1.5)
