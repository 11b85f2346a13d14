"""Batches of local environments for beads whose atoms are placed in sequence.

For every bead of a batch: the environment atoms in its local frame with their channel
membership relative to each atom of the bead's sequence, the beads around it, and the
force-field terms touching the sequence (for the energy prior and candidate selection).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cgkit.backmap.energy import EnergyTerms
from cgkit.backmap.environment import ChannelTable, adjacency_lists, local_frames
from cgkit.mapping.pbc import minimum_image


def _mic(vectors, cell):
    """Exact minimum image of displacements (F, K, 3) Å in ``cell`` (None: unchanged)."""
    return vectors if cell is None else minimum_image(vectors, cell)


def _mic_within(vectors, cell, radius):
    """Minimum images (F, K, 3) Å of the displacements shorter than ``radius`` Å; the
    others (surely longer) are set to ``inf``.

    A vector of length ``r`` has fractional coordinate ``|s_i| <= r / h_i`` (``h_i`` the
    cell height along axis ``i``), so only vectors whose wrapped fractional coordinates
    pass that test can be short; the exact minimum image is computed for those alone.
    """
    if cell is None:
        out = np.array(vectors, dtype=float)
        out[np.linalg.norm(out, axis=-1) >= radius] = np.inf
        return out
    inverse = np.linalg.inv(cell)
    frac = vectors @ inverse
    frac -= np.round(frac)
    heights = 1.0 / np.linalg.norm(inverse, axis=0)
    maybe = np.all(np.abs(frac) <= radius / heights, axis=-1)
    out = np.full(np.shape(vectors), np.inf)
    if maybe.any():
        near = minimum_image(vectors[maybe][None], cell)[0]
        short = np.linalg.norm(near, axis=-1) < radius
        near[~short] = np.inf
        out[maybe] = near
    return out


@dataclass
class SequenceBatch:
    """Local environments of B beads whose L atoms are placed in sequence (all NumPy).

    Points are ``K`` environment atoms (padded with -1) followed by the ``L`` sequence
    atoms; coordinates are in each bead's local frame (Å).

    Attributes
    ----------
    beads (B,), centres (B, 3), rotations (B, 3, 3), sequence (B, L) global atom indices,
    env_atoms (B, K), env_local (B, K, 3), env_membership (B, L, K, C),
    seq_local (B, L, 3) current/reference positions of the sequence atoms,
    seq_membership (B, L, L, C) channels of sequence atom j seen from target l,
    seq_visible (B, L, L) whether atom j is in the environment of target l,
    bead_local (B, Kb, 3), bead_membership (B, Kb, C), target_types (B, L),
    terms: dict kind -> (index (T, width) into the flattened B*(K+L) points, params (T, p))
    """

    beads: np.ndarray
    centres: np.ndarray
    rotations: np.ndarray
    sequence: np.ndarray
    env_atoms: np.ndarray
    env_local: np.ndarray
    env_membership: np.ndarray
    seq_local: np.ndarray
    seq_membership: np.ndarray
    seq_visible: np.ndarray
    bead_local: np.ndarray
    bead_membership: np.ndarray
    target_types: np.ndarray
    terms: dict


class EnvironmentBuilder:
    """Builds :class:`SequenceBatch` objects for a system.

    Parameters
    ----------
    topology : Topology          all atoms of the system
    forcefield : ForceField
    atom_to_bead : ndarray (N,)  bead owning each atom (placement unit)
    bead_types : sequence of str (M,)
    plan : PlacementPlan
    cutoff : float               half side of the environment cube, Å
    hide_hydrogens : bool        hide hydrogens of the current and adjacent beads from
                                 heavy targets
    """

    def __init__(self, topology, forcefield, atom_to_bead, bead_types, plan, cutoff=7.0,
                 hide_hydrogens=True):  # fmt: skip
        self.channels = ChannelTable(topology, forcefield, bead_types)
        self.atom_to_bead = np.asarray(atom_to_bead)
        self.plan = plan
        self.cutoff = float(cutoff)
        self.hide_hydrogens = hide_hydrogens
        self.heavy = np.array([s != "H" for s in topology.symbols])
        n_beads = len(bead_types)
        self.n_beads = n_beads
        bonds = np.asarray(topology.bonds).reshape(-1, 2)
        ba, bb = self.atom_to_bead[bonds[:, 0]], self.atom_to_bead[bonds[:, 1]]
        self.bead_neighbours = adjacency_lists(n_beads, np.stack([ba, bb], 1)[ba != bb])
        terms = EnergyTerms.from_topology(topology, forcefield, dtype=torch.float64)
        self.term_index = {
            "bond": terms.bonds.numpy(),
            "angle": terms.angles.numpy(),
            "proper": terms.propers.numpy(),
            "improper": terms.impropers.numpy(),
        }
        self.term_params = {
            "bond": torch.stack([terms.b0, terms.kb], 1).numpy(),
            "angle": torch.stack([terms.theta0, terms.k_angle], 1).numpy(),
            "proper": torch.stack([terms.phi_s, terms.k_proper, terms.n_proper], 1).numpy(),
            "improper": torch.stack([terms.xi0, terms.k_improper], 1).numpy(),
        }
        self.sigma, self.epsilon = terms.sigma.numpy(), terms.epsilon.numpy()
        self.terms_of_atom = {k: [[] for _ in topology.atom_types] for k in self.term_index}
        for kind, index in self.term_index.items():
            for t, row in enumerate(index):
                for a in row:
                    self.terms_of_atom[kind][a].append(t)

    def build(self, beads, positions, present, bead_positions, cell=None, angles=None,
              gibbs=False) -> SequenceBatch:  # fmt: skip
        """Environments of ``beads`` (B,) whose sequences have equal length L.

        Parameters
        ----------
        positions : ndarray (N, 3), Å        current positions (absent atoms ignored)
        present : ndarray of bool (N,)       atoms available as environment
        bead_positions : ndarray (M, 3), Å
        cell : ndarray (3, 3) or None
        angles : ndarray (B,) rad or None    rotation about the local z axis
        gibbs : bool                         sequence atoms other than the target are
                                             visible at their current positions
        """
        beads = np.asarray(beads, dtype=int)
        seqs = np.stack([self.plan.sequences[b] for b in beads])
        n_batch, n_seq = seqs.shape
        angles = np.zeros(n_batch) if angles is None else np.asarray(angles, dtype=float)
        centres = bead_positions[beads]
        pred = self.plan.predecessor[beads]
        if np.any(pred < 0):
            raise ValueError(f"bead {beads[pred < 0][0]} has no bonded bead to align with")
        toward = centres + _mic(bead_positions[pred][None] - centres[None], cell)[0]
        rot = local_frames(centres, toward, angles)
        # every present atom except the bead's own sequence: in a Gibbs sweep the atoms of
        # the other beads updated in the same batch stay visible at their current positions
        avail_idx = np.flatnonzero(present)
        own = self.atom_to_bead[avail_idx][None] == beads[:, None]  # (B, K)
        # local coordinates (r - centre) @ R^T of everything within the cube's circumradius
        reach = self.cutoff * np.sqrt(3.0)
        to_local = rot.transpose(0, 2, 1)
        d_env = _mic_within(positions[avail_idx][None] - centres[:, None], cell, reach)
        d_env = np.matmul(np.nan_to_num(d_env, posinf=2 * reach), to_local)
        d_bead = _mic_within(bead_positions[None] - centres[:, None], cell, reach)
        d_bead = np.matmul(np.nan_to_num(d_bead, posinf=2 * reach), to_local)
        inside = np.all(np.abs(d_env) < self.cutoff, axis=2) & ~own
        inside_bead = np.all(np.abs(d_bead) < self.cutoff, axis=2)
        env_lists = [avail_idx[m] for m in inside]
        env_locals = [d[m] for d, m in zip(d_env, inside, strict=True)]
        bead_lists = [np.flatnonzero(m) for m in inside_bead]
        bead_locals = [d[m] for d, m in zip(d_bead, inside_bead, strict=True)]
        n_env = max(1, max(len(e) for e in env_lists))
        n_bead = max(len(e) for e in bead_lists)
        n_ch = self.channels.n_channels
        env_atoms = np.full((n_batch, n_env), -1)
        env_local = np.zeros((n_batch, n_env, 3))
        env_mem = np.zeros((n_batch, n_seq, n_env, n_ch), dtype=np.float32)
        seq_mem = np.zeros((n_batch, n_seq, n_seq, n_ch), dtype=np.float32)
        bead_local = np.zeros((n_batch, n_bead, 3))
        bead_mem = np.zeros((n_batch, n_bead, n_ch), dtype=np.float32)
        heavy_target = self.heavy[seqs]  # (B, L)
        order = np.arange(n_seq)
        visible = (order[None, :] != order[:, None]) if gibbs else (order[None] < order[:, None])
        visible = np.broadcast_to(visible, (n_batch, n_seq, n_seq)).copy()
        if self.hide_hydrogens:
            visible &= ~(heavy_target[:, :, None] & ~self.heavy[seqs][:, None, :])
        for b in range(n_batch):
            k = len(env_lists[b])
            env_atoms[b, :k] = env_lists[b]
            env_local[b, :k] = env_locals[b]
            env_mem[b, :, :k] = self.channels.membership(seqs[b], env_lists[b])
            if self.hide_hydrogens and k:
                near = set(self.bead_neighbours[beads[b]]) | {int(beads[b])}
                hidden = ~self.heavy[env_lists[b]] & np.isin(
                    self.atom_to_bead[env_lists[b]], list(near)
                )
                env_mem[b][np.ix_(heavy_target[b], np.flatnonzero(hidden))] = 0.0
            seq_mem[b] = self.channels.membership(seqs[b], seqs[b])
            kb = len(bead_lists[b])
            bead_local[b, :kb] = bead_locals[b]
            bead_mem[b, np.arange(kb), self.channels.bead_channel[bead_lists[b]]] = 1.0
        # sequence atoms lie inside their bead's cube (generated ones by construction); atoms
        # not placed yet hold arbitrary positions, are never read, and are set to the centre
        # here instead of paying for the exact minimum image of a long vector
        seq_far = _mic_within(positions[seqs] - centres[:, None], cell, reach)
        seq_local = np.matmul(np.nan_to_num(seq_far, posinf=0.0), to_local)
        terms = self._terms(env_atoms, seqs)
        return SequenceBatch(
            beads, centres, rot, seqs, env_atoms, env_local, env_mem, seq_local, seq_mem,
            visible, bead_local, bead_mem, self.channels.atom_type[seqs], terms,
        )  # fmt: skip

    def _terms(self, env_atoms, seqs) -> dict:
        """Force-field terms touching the sequence atoms, indexed into flattened points."""
        n_batch, n_env = env_atoms.shape
        n_seq = seqs.shape[1]
        width = n_env + n_seq
        out = {}
        lookups = []
        for b in range(n_batch):
            local = {int(a): i for i, a in enumerate(env_atoms[b]) if a >= 0}
            local.update({int(a): n_env + i for i, a in enumerate(seqs[b])})
            lookups.append(local)
        for kind, index in self.term_index.items():
            rows, params = [], []
            for b in range(n_batch):
                ids = sorted({t for a in seqs[b] for t in self.terms_of_atom[kind][a]})
                for t in ids:
                    loc = [lookups[b].get(int(a)) for a in index[t]]
                    if None not in loc:
                        rows.append([b * width + i for i in loc])
                        params.append(self.term_params[kind][t])
            n_params = self.term_params[kind].shape[1]
            out[kind] = (
                np.asarray(rows, dtype=int).reshape(-1, index.shape[1]),
                np.asarray(params, dtype=float).reshape(len(rows), n_params),
            )
        pairs, sig, eps = [], [], []
        for b in range(n_batch):
            others = np.concatenate([env_atoms[b], seqs[b]])
            for l, atom in enumerate(seqs[b]):
                cand = np.flatnonzero(others >= 0)
                cand = cand[cand < n_env + l]  # each pair once: env atoms and earlier seq
                excl = self.channels.excluded[atom]
                cand = cand[[int(others[c]) not in excl for c in cand]] if excl else cand
                pairs.append(np.stack([np.full(len(cand), b * width + n_env + l),
                                       b * width + cand], 1))  # fmt: skip
                sig.append(0.5 * (self.sigma[atom] + self.sigma[others[cand]]))
                eps.append(np.sqrt(self.epsilon[atom] * self.epsilon[others[cand]]))
        out["lj"] = (np.concatenate(pairs), np.stack([np.concatenate(sig), np.concatenate(eps)], 1))
        return out
