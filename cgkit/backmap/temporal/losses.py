"""Loss terms of the temporal VAE (thesis eqs. 8.1-8.6) and their weight schedules.

All terms are means over the batch; positions in Å, energies in units of kT.
"""

from __future__ import annotations

import math

import torch


def voxel_loss(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 8.1: squared difference of densities (B, N, R, R, R), summed over voxels,
    averaged over atoms and batch."""
    return ((generated - target) ** 2).flatten(2).sum(-1).mean()


def coordinate_loss(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 8.2: mean squared atom displacement (Å^2) between (B, N, 3) position sets."""
    return ((generated - target) ** 2).sum(-1).mean()


def distance_matrix_loss(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 8.3: mean squared difference of all interatomic distances (Å^2)."""

    def distances(x):
        diff = x[:, :, None] - x[:, None]
        return torch.sqrt((diff**2).sum(-1) + 1e-12)

    return ((distances(generated) - distances(target)) ** 2).mean()


def cg_consistency_loss(
    positions: torch.Tensor, weights: torch.Tensor, bead_positions: torch.Tensor
) -> torch.Tensor:
    """Eq. 8.4: ``|R - M(r)|^2`` per bead (Å^2); weights (M, N), beads (B, M, 3)."""
    mapped = torch.einsum("mn,bnd->bmd", weights, positions)
    return ((mapped - bead_positions) ** 2).sum(-1).mean()


def _soft_cap(values_kt: torch.Tensor, cap: float) -> torch.Tensor:
    """``values`` below ``cap``, ``cap (1 + log(values / cap))`` above it (continuous, slope
    1 at the cap): huge early values keep a bounded gradient that still points downhill."""
    scaled = torch.where(values_kt > cap, values_kt / cap, torch.ones_like(values_kt))
    return torch.where(values_kt > cap, cap * (1.0 + torch.log(scaled)), values_kt)


def energy_loss(energies_kt: torch.Tensor, cap: float = 100.0) -> torch.Tensor:
    """Eq. 8.5: mean potential energy in kT, grown only logarithmically above ``cap``:
    ``cap (1 + log(E / cap))`` (continuous with slope 1 at the cap). Early generated
    structures can have huge repulsive energies; this keeps their gradient bounded
    relative to the other terms while still pointing downhill."""
    return _soft_cap(energies_kt, cap).mean()


def energy_match_loss(energies_kt: torch.Tensor, reference_kt: torch.Tensor,
                      cap: float = 100.0) -> torch.Tensor:  # fmt: skip
    """Eq. 8.5 in the matching form of DBM's energy prior (thesis eq. 4.16): mean
    ``|U(r_hat) - U(r)|`` in kT between generated and reference frames, soft-capped like
    :func:`energy_loss`. Minimising U itself cools the generated ensemble below the
    reference temperature; matching keeps each frame's thermal strain."""
    return _soft_cap((energies_kt - reference_kt).abs(), cap).mean()


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Eq. 8.6: KL(q(z|x) || N(0, 1)) summed over latent dimensions, mean over batch."""
    return (-0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(-1)).mean()


def exponential_ramp(step: int, total: int, start: float = 0.0, end: float = 1.0,
                     rate: float = 5.0) -> float:  # fmt: skip
    """Weight rising exponentially from ``start`` to ``end`` over ``total`` steps:
    ``start + (end - start) (exp(rate s) - 1) / (exp(rate) - 1)``, s = step / total."""
    s = min(max(step / max(total, 1), 0.0), 1.0)
    return start + (end - start) * math.expm1(rate * s) / math.expm1(rate)


def cyclic_beta(step: int, period: int, beta: float, ramp_fraction: float = 0.5) -> float:
    """Cyclic KL annealing (Fu et al. 2019): linear rise from 0 to ``beta`` over the first
    ``ramp_fraction`` of every ``period`` steps, then constant."""
    if period <= 0:
        return beta
    phase = (step % period) / period
    return beta * min(phase / ramp_fraction, 1.0)
