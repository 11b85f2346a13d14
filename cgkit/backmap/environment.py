"""Placement order and local environments of the atoms to place (DBM, thesis 4.2-4.3).

Order: a graph traversal (DFS by default, BFS or random) over the CG graph of each
molecule fixes the *step* of every bead; inside a bead the heavy atoms follow a traversal
of the bead's atom graph, then its hydrogens. All beads of one step (one per molecule)
are placed together, so the environment of a bead at step ``p`` holds the atoms of the
beads at steps ``< p`` plus the atoms of its own sequence placed so far.

Local frame: centred on the bead being filled, rotated so the bond to its predecessor
bead (its parent in the traversal; for a root, its first neighbour) is the +z axis, then
by an angle about z (augmentation / candidate draws). Channels of a point relative to
the atom being placed: its atom type, the LJ type of the pair unless excluded, and the
bond/angle/dihedral types of every term both share (from ``ff.txt``); beads draw into
their bead-type channel. Channel layout: ``ff.n_channels`` force-field channels followed
by one channel per atom type.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from cgkit.backmap.forcefield import ForceField, Topology


def graph_order(adjacency: list[list[int]], start: int, mode: str = "dfs", rng=None) -> list[int]:
    """Visit the connected component of ``start``.

    Parameters
    ----------
    adjacency : list of sorted neighbour lists
    start : int
    mode : {"dfs", "bfs", "random"}
        Depth-first (neighbours in ascending order), breadth-first, or a DFS with
        shuffled neighbours (needs ``rng``).

    Returns
    -------
    list of int
        Nodes in visiting order.
    """
    if mode not in ("dfs", "bfs", "random"):
        raise ValueError(f"unknown order {mode!r}; use 'dfs', 'bfs' or 'random'")
    seen, order = {start}, [start]
    if mode == "bfs":
        queue = deque([start])
        while queue:
            for nb in adjacency[queue.popleft()]:
                if nb not in seen:
                    seen.add(nb)
                    order.append(nb)
                    queue.append(nb)
        return order

    def neighbours(node):
        nbs = list(adjacency[node])
        if mode == "random":
            rng.shuffle(nbs)
        return nbs

    stack = [iter(neighbours(start))]
    while stack:
        nb = next(stack[-1], None)
        if nb is None:
            stack.pop()
        elif nb not in seen:
            seen.add(nb)
            order.append(nb)
            stack.append(iter(neighbours(nb)))
    return order


def adjacency_lists(n_nodes: int, edges) -> list[list[int]]:
    """Sorted neighbour lists of an undirected graph with ``edges`` (E, 2)."""
    adj: list[set[int]] = [set() for _ in range(n_nodes)]
    for i, j in np.asarray(edges, dtype=int).reshape(-1, 2):
        adj[i].add(int(j))
        adj[j].add(int(i))
    return [sorted(a) for a in adj]


@dataclass
class PlacementPlan:
    """When and in which order every atom is placed.

    Attributes
    ----------
    bead_step : ndarray (M,)      step at which each bead is filled
    predecessor : ndarray (M,)    bead whose direction defines the local z axis (-1: none)
    sequences : list of ndarray   atoms of each bead in placement order
    steps : list of ndarray       beads filled at each step
    """

    bead_step: np.ndarray
    predecessor: np.ndarray
    sequences: list[np.ndarray]
    steps: list[np.ndarray]


def make_plan(atom_bonds, atom_to_bead, n_beads: int, heavy, mode="dfs", rng=None):
    """Placement plan from atom bonds and an atom -> bead assignment.

    Parameters
    ----------
    atom_bonds : ndarray (K, 2)
    atom_to_bead : ndarray (N,)
    n_beads : int
    heavy : ndarray of bool (N,)
        Heavy atoms are placed before the hydrogens of their bead.
    mode : {"dfs", "bfs", "random"}
    """
    atom_bonds = np.asarray(atom_bonds, dtype=int).reshape(-1, 2)
    atom_to_bead = np.asarray(atom_to_bead, dtype=int)
    n_atoms = len(atom_to_bead)
    ba, bb = atom_to_bead[atom_bonds[:, 0]], atom_to_bead[atom_bonds[:, 1]]
    cross = ba != bb
    bead_adj = adjacency_lists(n_beads, np.stack([ba[cross], bb[cross]], 1))
    atom_adj = adjacency_lists(n_atoms, atom_bonds)
    bead_step = np.full(n_beads, -1)
    predecessor = np.full(n_beads, -1)
    for root in range(n_beads):
        if bead_step[root] >= 0:
            continue
        order = graph_order(bead_adj, root, mode, rng)
        for step, bead in enumerate(order):
            bead_step[bead] = step
        done = {root}
        for bead in order[1:]:
            predecessor[bead] = next(b for b in bead_adj[bead] if b in done)
            done.add(bead)
        if len(order) > 1:
            predecessor[root] = order[1]
    members = [np.flatnonzero(atom_to_bead == b) for b in range(n_beads)]
    sequences = []
    for bead in range(n_beads):
        atoms = members[bead]
        inside = set(atoms.tolist())
        heavy_atoms = [a for a in atoms if heavy[a]]
        sub = {a: [n for n in atom_adj[a] if n in inside and heavy[n]] for a in heavy_atoms}
        # start at the heavy atom bonded to the predecessor bead, else the first one
        pred = predecessor[bead]
        start = next(
            (a for a in heavy_atoms if any(atom_to_bead[n] == pred for n in atom_adj[a])),
            heavy_atoms[0] if heavy_atoms else None,
        )
        seq: list[int] = []
        while start is not None:
            local = {a: i for i, a in enumerate(heavy_atoms)}
            adj = [[local[n] for n in sub[a]] for a in heavy_atoms]
            seq += [heavy_atoms[i] for i in graph_order(adj, local[start], mode, rng)]
            start = next((a for a in heavy_atoms if a not in seq), None)
        for a in list(seq):
            seq += [n for n in atom_adj[a] if n in inside and not heavy[n] and n not in seq]
        seq += [a for a in atoms if a not in seq]
        sequences.append(np.asarray(seq, dtype=int))
    steps = [np.flatnonzero(bead_step == s) for s in range(int(bead_step.max()) + 1)]
    return PlacementPlan(bead_step, predecessor, sequences, steps)


def local_frames(centres, toward, angles) -> np.ndarray:
    """Rotation matrices (B, 3, 3) whose rows are the local x, y, z axes.

    z points from ``centres`` to ``toward`` (both (B, 3) Å, ``toward`` already a minimum
    image); x, y are fixed by z and then rotated by ``angles`` (B,) rad about z.
    Local coordinates are ``(r - centre) @ R.T``.
    """
    z = np.asarray(toward, dtype=float) - np.asarray(centres, dtype=float)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    if np.any(norm < 1e-8):
        raise ValueError("a bead coincides with its predecessor; the local frame is undefined")
    z = z / norm
    helper = np.where(np.abs(z[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.cross(z, x)
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    return np.stack([c * x + s * y, -s * x + c * y, z], axis=1)


class ChannelTable:
    """Channel assignments of pairs (target atom, other atom) for one topology.

    Parameters
    ----------
    topology : Topology
        All atoms of the system (``Topology.replicate`` for many molecules).
    forcefield : ForceField
    bead_types : sequence of str (M,)
    """

    def __init__(self, topology: Topology, forcefield: ForceField, bead_types):
        self.type_names = sorted(forcefield.atom_types)
        type_index = {t: i for i, t in enumerate(self.type_names)}
        self.atom_type = np.array([type_index[t] for t in topology.atom_types])
        self.n_ff = forcefield.n_channels
        self.n_channels = self.n_ff + len(self.type_names)
        self.type_channel = self.n_ff + self.atom_type
        n_types = len(self.type_names)
        self.lj_channel = np.array(
            [[forcefield.lj_channel(a, b) for b in self.type_names] for a in self.type_names]
        ).reshape(n_types, n_types)
        self.bead_channel = np.array([forcefield.bead_channel(t) for t in bead_types])
        types = topology.atom_types
        self.partners: list[dict[int, set[int]]] = [{} for _ in types]

        def add(index, lookup):
            for idx in np.asarray(index, dtype=int):
                channel = lookup(tuple(types[a] for a in idx)).channel
                for a in idx:
                    for b in idx:
                        if a != b:
                            self.partners[a].setdefault(int(b), set()).add(channel)

        add(topology.bonds, forcefield.bond)
        add(topology.angles, forcefield.angle)
        add(topology.dihedrals, forcefield.dihedral)
        self.excluded: list[set[int]] = [set() for _ in types]
        for i, j in topology.excluded_pairs():
            self.excluded[i].add(int(j))
            self.excluded[j].add(int(i))

    def membership(self, targets, others) -> np.ndarray:
        """Multi-hot channels (L, K, C) of atoms ``others`` (K,) relative to ``targets`` (L,).

        Entries of ``others`` equal to -1 (padding) get no channel.
        """
        targets, others = np.asarray(targets), np.asarray(others)
        out = np.zeros((len(targets), len(others), self.n_channels), dtype=np.float32)
        valid = others >= 0
        k = np.flatnonzero(valid)
        out[:, k, self.type_channel[others[k]]] = 1.0
        pos = {int(a): i for i, a in enumerate(others) if a >= 0}
        for l, target in enumerate(targets):
            lj = self.lj_channel[self.atom_type[target], self.atom_type[others[k]]]
            out[l, k, lj] = 1.0
            for other in self.excluded[target]:
                i = pos.get(other)
                if i is not None:
                    out[l, i, lj[np.searchsorted(k, i)]] = 0.0
            for other, channels in self.partners[target].items():
                i = pos.get(other)
                if i is not None:
                    out[l, i, list(channels)] = 1.0
            i = pos.get(int(target))
            if i is not None:  # an atom is never its own neighbour
                out[l, i] = 0.0
        return out
