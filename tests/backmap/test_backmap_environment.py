"""Placement order, local frames and channel assignment on the hand-built chain."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cgkit.backmap.batch import EnvironmentBuilder
from cgkit.backmap.environment import adjacency_lists, graph_order, make_plan
from cgkit.backmap.generation import rotate_about_z


def test_graph_orders():
    adj = adjacency_lists(5, [(0, 1), (0, 2), (1, 3), (2, 4)])
    assert graph_order(adj, 0, "dfs") == [0, 1, 3, 2, 4]
    assert graph_order(adj, 0, "bfs") == [0, 1, 2, 3, 4]
    shuffled = graph_order(adj, 0, "random", np.random.default_rng(3))
    assert sorted(shuffled) == [0, 1, 2, 3, 4] and shuffled[0] == 0
    with pytest.raises(ValueError, match="unknown order"):
        graph_order(adj, 0, "sideways")


def _builder(chain_system, hide_hydrogens=True):
    topology, ff, cgmap, positions = chain_system
    heavy = np.array([s != "H" for s in topology.symbols])
    owner = np.asarray(cgmap.weights).argmax(axis=0)
    plan = make_plan(topology.bonds, owner, 3, heavy)
    builder = EnvironmentBuilder(topology, ff, owner, cgmap.bead_types, plan, 7.0, hide_hydrogens)
    beads = cgmap.map_positions(positions)
    return builder, plan, positions, beads, owner


def test_dfs_plan_places_heavy_atoms_first(chain_system):
    _builder_, plan, _pos, _beads, _owner = _builder(chain_system)
    assert plan.bead_step.tolist() == [0, 1, 2]
    assert plan.predecessor.tolist() == [1, 0, 1]  # the root aligns with its first child
    # bead 1: the carbon bonded to bead 0 first, then its other carbon, then hydrogens
    assert plan.sequences[1].tolist() == [7, 10, 8, 9, 11, 12]
    assert plan.sequences[0][:2].tolist() == [4, 0]  # root starts next to its child bead


def test_local_frame_centring_alignment_and_channels(chain_system):
    builder, plan, positions, beads, owner = _builder(chain_system)
    present = plan.bead_step[owner] < 1  # atoms of bead 0
    batch = builder.build([1], positions, present, beads, angles=np.zeros(1))
    # centring: the current bead sits at the origin; alignment: its predecessor on +z
    assert np.allclose(batch.bead_local[0, 1], 0.0, atol=1e-12)
    assert np.allclose(batch.bead_local[0, 0, :2], 0.0, atol=1e-12)
    assert batch.bead_local[0, 0, 2] == pytest.approx(np.linalg.norm(beads[0] - beads[1]))
    env = batch.env_atoms[0].tolist()
    assert sorted(env) == list(range(7))  # only bead 0 is present
    assert np.allclose(np.linalg.norm(batch.env_local[0], axis=1),
                       np.linalg.norm(positions[env] - beads[1], axis=1))  # fmt: skip
    n_ff, type_c, type_h = 11, 11, 12

    def channels(step, atom, mem=batch.env_membership):
        return set(np.flatnonzero(mem[0, step, env.index(atom)]).tolist())

    # target C2 (atom 7). C1 shares a bond (0), angles C-C-C (4) and C-C-H (3), the
    # dihedral C0-C1-C2-C3 (5) and the improper C0-C1-C2-H8 (6); C0 shares an angle, the
    # dihedral and the improper. Both are excluded from LJ. Hydrogens of bead 0 are hidden
    # from the heavy target.
    assert channels(0, 4) == {0, 3, 4, 5, 6, type_c}
    assert channels(0, 0) == {4, 5, 6, type_c}
    assert channels(0, 1) == set()
    assert builder.channels.n_channels == n_ff + 2
    # the first hydrogen of the sequence sees everything: H1 is 1-5 from H8 -> LJ H-H + type
    h_step = plan.sequences[1].tolist().index(8)
    assert channels(h_step, 1) == {9, type_h}
    assert channels(h_step, 4) == {3, 6, type_c}  # C1: angle C1-C2-H8 and the improper
    # sequence atoms: C3 is visible to the later hydrogen, not to the first carbon
    assert not batch.seq_visible[0, 0].any()
    assert batch.seq_visible[0, h_step, 1] and not batch.seq_visible[0, 1, h_step]


def test_hidden_hydrogens_can_be_shown_and_rotation_is_about_z(chain_system):
    builder, plan, positions, beads, owner = _builder(chain_system, hide_hydrogens=False)
    present = plan.bead_step[owner] < 1
    batch = builder.build([1], positions, present, beads, angles=np.zeros(1))
    env = batch.env_atoms[0].tolist()
    # H1 on C0 is 1-4 from the target C2 and shares no term with it: LJ C-H (8) + type H
    assert set(np.flatnonzero(batch.env_membership[0, 0, env.index(1)])) == {8, 12}
    turned = builder.build([1], positions, present, beads, angles=np.array([0.7]))
    expected = rotate_about_z(torch.tensor(batch.env_local), torch.tensor([0.7]))
    assert np.allclose(turned.env_local, expected.numpy(), atol=1e-10)
    assert np.array_equal(turned.env_membership, batch.env_membership)


def test_short_minimum_images_are_exact_in_a_skewed_cell(rng):
    from cgkit.backmap.batch import _mic_within
    from cgkit.mapping.pbc import minimum_image

    cell = np.array([[30.0, 0.0, 0.0], [-14.0, 9.0, 0.0], [3.0, 2.0, 8.5]])  # strongly tilted
    vectors = rng.uniform(-40.0, 40.0, size=(3, 4000, 3))
    exact = minimum_image(vectors, cell)
    radius = 4.0
    near = _mic_within(vectors, cell, radius)
    short = np.linalg.norm(exact, axis=-1) < radius
    assert short.sum() > 20 and (~short).sum() > 20
    assert np.allclose(near[short], exact[short])
    assert np.all(np.isinf(near[~short]))
