"""Rigid bonds of the reference all-atom MD, imposed on backmapped frames.

All-atom peptide MD usually constrains the bonds to hydrogen (SHAKE; OpenMM
``constraints=HBonds``), so in the reference ensemble those bonds have exactly one
length. A generative backmapper places hydrogens with a spread of a few hundredths of an
Å, which the unconstrained force field prices at about 1 kT per bond; moving each
constrained atom along its bond to the constraint length removes that strain and gives
the backmapped ensemble the reference's geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cgkit.units import NM_TO_ANGSTROM


@dataclass(frozen=True)
class BondConstraints:
    """Fixed bond lengths.

    Attributes
    ----------
    pairs : ndarray (K, 2) int
        ``(anchor, moved)`` atom indices; ``moved`` is put on the line anchor -> moved at
        the constraint length (the hydrogen of a bond to hydrogen). No atom is moved by
        two constraints.
    lengths : ndarray (K,), Å
    """

    pairs: np.ndarray
    lengths: np.ndarray

    def __post_init__(self):
        pairs = np.asarray(self.pairs, dtype=np.int64).reshape(-1, 2)
        lengths = np.asarray(self.lengths, dtype=float).reshape(-1)
        if len(pairs) != len(lengths) or np.any(lengths <= 0):
            raise ValueError(f"need one positive length per pair, got {len(pairs)} pairs, "
                             f"lengths {lengths}")  # fmt: skip
        moved, counts = np.unique(pairs[:, 1], return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"atom {moved[counts > 1][0]} is moved by two constraints")
        object.__setattr__(self, "pairs", pairs)
        object.__setattr__(self, "lengths", lengths)

    @classmethod
    def from_openmm(cls, system) -> BondConstraints:
        """The constraints of an ``openmm.System`` (e.g. built with ``constraints=HBonds``);
        of each pair the lighter atom is moved (the hydrogen)."""
        pairs, lengths = [], []
        for k in range(system.getNumConstraints()):
            i, j, length = system.getConstraintParameters(k)
            mass_i = system.getParticleMass(i)._value
            mass_j = system.getParticleMass(j)._value
            pairs.append((i, j) if mass_i >= mass_j else (j, i))
            lengths.append(length._value * NM_TO_ANGSTROM)  # nm -> Å
        return cls(np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(lengths))

    def apply(self, positions: np.ndarray) -> np.ndarray:
        """Frames (..., N, 3) Å with every constrained bond at its length (a copy)."""
        frames = torch.as_tensor(np.array(positions, dtype=float, copy=True))
        return self.apply_tensor(frames).numpy()

    def apply_tensor(self, positions: torch.Tensor) -> torch.Tensor:
        """Differentiable :meth:`apply` for a tensor (..., N, 3) Å (used in training, so
        that the energy term sees the geometry inference returns)."""
        anchor = torch.as_tensor(self.pairs[:, 0])
        moved = torch.as_tensor(self.pairs[:, 1])
        lengths = torch.as_tensor(self.lengths, dtype=positions.dtype)
        bond = positions[..., moved, :] - positions[..., anchor, :]
        norm = torch.linalg.norm(bond, dim=-1, keepdim=True).clamp_min(1e-12)
        out = positions.clone()
        out[..., moved, :] = positions[..., anchor, :] + bond / norm * lengths[:, None]
        return out
