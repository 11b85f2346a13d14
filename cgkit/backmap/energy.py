"""Differentiable, batched force-field energy terms in torch (Å, eV, rad).

Every function takes positions of shape ``(B, N, 3)`` (a batch of B configurations of
the same N atoms) and index arrays into N, and returns per-configuration energies
``(B,)``. Periodic systems pass ``cell`` (3, 3) Å rows; displacements then follow the
minimum-image convention in the (possibly triclinic) cell. :class:`ForceFieldEnergy`
assembles the terms of a :class:`~cgkit.backmap.forcefield.Topology`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cgkit.backmap.forcefield import ForceField, Topology
from cgkit.backmap.nonbonded import (
    _disp,
    lj_pair_energies,
    lj_pairs,
    minimum_image,
    pair_shifts,
)

__all__ = [
    "EnergyTerms",
    "ForceFieldEnergy",
    "angle_energy",
    "bond_angles",
    "bond_energy",
    "dihedral_angles",
    "improper_dihedral_energy",
    "lj_pair_energies",
    "lj_pairs",
    "minimum_image",
    "pair_shifts",
    "proper_dihedral_energy",
]


def bond_energy(positions, index, b0, kb, cell=None) -> torch.Tensor:
    """Harmonic bonds ``sum 0.5 kb (|r_ij| - b0)^2``.

    Parameters
    ----------
    positions : Tensor (B, N, 3), Å
    index : LongTensor (K, 2)
    b0 : Tensor (K,), Å
    kb : Tensor (K,), eV/Å^2
    cell : Tensor (3, 3) Å or None

    Returns
    -------
    Tensor (B,), eV
    """
    if len(index) == 0:
        return positions.new_zeros(positions.shape[0])
    r = _disp(positions, index[:, 0], index[:, 1], cell).norm(dim=-1)
    return (0.5 * kb * (r - b0) ** 2).sum(-1)


def bond_angles(positions, index, cell=None) -> torch.Tensor:
    """Angles ``(B, K)`` in rad at the middle atom of each ``(i, j, k)`` triple."""
    a = _disp(positions, index[:, 1], index[:, 0], cell)
    b = _disp(positions, index[:, 1], index[:, 2], cell)
    cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
    return torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))


def angle_energy(positions, index, theta0, k, cell=None) -> torch.Tensor:
    """Harmonic angles ``sum 0.5 k (theta - theta0)^2``; index (K, 3), theta0 rad,
    k eV/rad^2. Returns (B,) eV."""
    if len(index) == 0:
        return positions.new_zeros(positions.shape[0])
    theta = bond_angles(positions, index, cell)
    return (0.5 * k * (theta - theta0) ** 2).sum(-1)


def dihedral_angles(positions, index, cell=None) -> torch.Tensor:
    """IUPAC dihedral angles ``(B, K)`` in rad (-pi, pi] of ``(i, j, k, l)`` quadruples."""
    b0 = _disp(positions, index[:, 1], index[:, 0], cell)
    b1 = _disp(positions, index[:, 1], index[:, 2], cell)
    b2 = _disp(positions, index[:, 2], index[:, 3], cell)
    n1 = torch.linalg.cross(-b0, b1)  # normal of plane (i, j, k)
    n2 = torch.linalg.cross(b1, b2)
    m1 = torch.linalg.cross(n1, b1 / b1.norm(dim=-1, keepdim=True))
    x = (n1 * n2).sum(-1)
    y = (m1 * n2).sum(-1)
    return -torch.atan2(y, x)


def proper_dihedral_energy(positions, index, phi_s, k, n, cell=None) -> torch.Tensor:
    """Periodic dihedrals ``sum k (1 + cos(n phi - phi_s))`` (GROMACS func 1).

    index (K, 4); phi_s rad; k eV; n multiplicity. Returns (B,) eV.
    """
    if len(index) == 0:
        return positions.new_zeros(positions.shape[0])
    phi = dihedral_angles(positions, index, cell)
    return (k * (1 + torch.cos(n * phi - phi_s))).sum(-1)


def improper_dihedral_energy(positions, index, xi0, k, cell=None) -> torch.Tensor:
    """Harmonic impropers ``sum 0.5 k (xi - xi0)^2`` with the difference wrapped to
    (-pi, pi] (GROMACS func 2). index (K, 4); xi0 rad; k eV/rad^2. Returns (B,) eV."""
    if len(index) == 0:
        return positions.new_zeros(positions.shape[0])
    xi = dihedral_angles(positions, index, cell)
    diff = torch.remainder(xi - xi0 + np.pi, 2 * np.pi) - np.pi
    return (0.5 * k * diff**2).sum(-1)


@dataclass
class EnergyTerms:
    """Index and parameter arrays of every bonded term of a topology (torch tensors)."""

    bonds: torch.Tensor
    b0: torch.Tensor
    kb: torch.Tensor
    angles: torch.Tensor
    theta0: torch.Tensor
    k_angle: torch.Tensor
    propers: torch.Tensor
    phi_s: torch.Tensor
    k_proper: torch.Tensor
    n_proper: torch.Tensor
    impropers: torch.Tensor
    xi0: torch.Tensor
    k_improper: torch.Tensor
    sigma: torch.Tensor  # (N,) per-atom LJ sigma, Å
    epsilon: torch.Tensor  # (N,) per-atom LJ epsilon, eV

    @classmethod
    def from_topology(cls, topology: Topology, forcefield: ForceField, dtype=torch.float32):
        """Look up the parameters of every term of ``topology`` in ``forcefield``."""
        types = topology.atom_types

        def params(index, lookup, n_params, funcs=None, want=None):
            rows, par = [], []
            for t, idx in enumerate(index):
                if funcs is not None and funcs[t] != want:
                    continue
                try:
                    itype = lookup(tuple(types[a] for a in idx))
                except KeyError as exc:
                    raise KeyError(f"{exc.args[0]} (term of atoms {list(idx + 1)})") from None
                rows.append(idx)
                par.append(itype.params[:n_params])
            width = index.shape[1] if len(index) else 0
            idx = torch.as_tensor(np.asarray(rows, dtype=np.int64).reshape(-1, width))
            p = torch.as_tensor(np.asarray(par, dtype=float).reshape(-1, n_params), dtype=dtype)
            return idx, p

        bonds, pb = params(topology.bonds, forcefield.bond, 2)
        angles, pa = params(topology.angles, forcefield.angle, 3 - 1)
        funcs = topology.dihedral_funcs
        propers, pp = params(topology.dihedrals, forcefield.dihedral, 3, funcs, 1)
        impropers, pi = params(topology.dihedrals, forcefield.dihedral, 2, funcs, 2)
        unknown = sorted(set(types) - set(forcefield.atom_types))
        if unknown:
            raise KeyError(f"atom types {unknown} of the topology are not in the force field")
        sig = torch.tensor([forcefield.atom_types[t].sigma for t in types], dtype=dtype)
        eps = torch.tensor([forcefield.atom_types[t].epsilon for t in types], dtype=dtype)
        return cls(
            bonds, pb[:, 0], pb[:, 1], angles, pa[:, 0], pa[:, 1],
            propers, pp[:, 0], pp[:, 1], pp[:, 2], impropers, pi[:, 0], pi[:, 1], sig, eps,
        )  # fmt: skip


class ForceFieldEnergy(torch.nn.Module):
    """Total force-field energy of a topology: bonded terms plus truncated LJ.

    Parameters
    ----------
    terms : EnergyTerms
    excluded : ndarray (E, 2)
        Non-bonded exclusions (``Topology.excluded_pairs()``).
    cutoff : float
        LJ cutoff in Å (plain truncation).
    """

    def __init__(self, terms: EnergyTerms, excluded: np.ndarray, cutoff: float = 10.0):
        super().__init__()
        self.terms = terms
        self.excluded = np.asarray(excluded)
        self.cutoff = float(cutoff)

    @classmethod
    def from_topology(cls, topology, forcefield, cutoff: float = 10.0, dtype=torch.float32):
        """Build terms and exclusions of ``topology`` with parameters from ``forcefield``."""
        terms = EnergyTerms.from_topology(topology, forcefield, dtype=dtype)
        return cls(terms, topology.excluded_pairs(), cutoff=cutoff)

    def pairs(self, positions, cell=None, pbc=None) -> torch.Tensor:
        """Non-excluded pairs (P, 2) within the cutoff for one configuration (N, 3) Å."""
        pos = positions.detach().cpu().numpy() if torch.is_tensor(positions) else positions
        return torch.as_tensor(lj_pairs(pos, self.excluded, self.cutoff, cell, pbc))

    def pair_parameters(self, pairs) -> tuple[torch.Tensor, torch.Tensor]:
        """Combined LJ sigma (Å) and epsilon (eV), each (P,), of ``pairs`` (P, 2): arithmetic
        and geometric means. The values of the last list are kept, so that a Verlet list
        pays for the gathers once per rebuild rather than once per evaluation."""
        t = self.terms
        cached = getattr(self, "_pair_cache", None)
        if cached is not None and cached[0] is pairs and cached[1] is t.sigma:
            return cached[2]
        sig = 0.5 * (t.sigma[pairs[:, 0]] + t.sigma[pairs[:, 1]])
        eps = torch.sqrt(t.epsilon[pairs[:, 0]] * t.epsilon[pairs[:, 1]])
        if not (sig.requires_grad or eps.requires_grad):
            self._pair_cache = (pairs, t.sigma, (sig, eps))
        return sig, eps

    def components(
        self, positions, cell=None, pairs=None, soft_core=0.0, shifts=None
    ) -> dict[str, torch.Tensor]:
        """Energy per term kind, each (B,) eV.

        Parameters
        ----------
        positions : Tensor (B, N, 3) or (N, 3), Å
        cell : Tensor/ndarray (3, 3) Å or None
        pairs : LongTensor (P, 2) or None
            LJ pair list; by default built from the first configuration.
        soft_core : float
            Soft-core ``alpha`` of the LJ term (see :func:`lj_pair_energies`; 0: plain).
        shifts : Tensor (P, 3) Å or None
            Fixed periodic images of the LJ pairs (:func:`pair_shifts`) instead of the
            minimum image.
        """
        t = self.terms
        pos = positions if positions.ndim == 3 else positions[None]
        cell_t = None if cell is None else torch.as_tensor(np.asarray(cell), dtype=pos.dtype)
        if pairs is None:
            pairs = self.pairs(pos[0], None if cell is None else np.asarray(cell))
        sig, eps = self.pair_parameters(pairs)
        lj = lj_pair_energies(pos, pairs, sig, eps, cell_t, self.cutoff, soft_core, shifts)
        return {
            "bond": bond_energy(pos, t.bonds, t.b0, t.kb, cell_t),
            "angle": angle_energy(pos, t.angles, t.theta0, t.k_angle, cell_t),
            "proper": proper_dihedral_energy(
                pos, t.propers, t.phi_s, t.k_proper, t.n_proper, cell_t
            ),
            "improper": improper_dihedral_energy(pos, t.impropers, t.xi0, t.k_improper, cell_t),
            "lj": lj.sum(-1),
        }

    def forward(self, positions, cell=None, pairs=None, soft_core=0.0, shifts=None):
        """Total energy (B,) eV of configurations (B, N, 3) Å (see :meth:`components`)."""
        return sum(self.components(positions, cell, pairs, soft_core, shifts).values())
