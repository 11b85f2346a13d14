"""Batch-distribution KL regulariser of DKL-ECG (Maier & Jackson 2022, eqs. 14-16).

The encoded Gaussians of a batch form the mixture
``p_b(z) = (1/B) sum_i N(z; mu_i, sigma_i^2 I)``. The regulariser is the Monte Carlo
estimate of ``KL(p_b || p_0)`` from the reparameterised samples ``z_j ~ p_b`` of the same
batch::

    L_KL = (1/B) sum_j [log p_b(z_j) - log p_0(z_j)]

It pulls the batch distribution of latents towards the prior ``p_0`` (``N(0, I)`` by
default), keeping the latent space compact without collapsing each point's spread.
The authors' code sums the log-ratios over the batch instead of averaging them, so their
weight ``lambda`` corresponds to ``B * lambda`` here.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """Log-density of ``N(0, I)`` at ``z`` (B, d) -> (B,)."""
    d = z.shape[-1]
    return -0.5 * (z * z).sum(-1) - 0.5 * d * math.log(2.0 * math.pi)


def mixture_log_prob(z: torch.Tensor, mean: torch.Tensor, log_variance: torch.Tensor):
    """Log-density of the equal-weight isotropic Gaussian mixture at ``z``.

    Parameters
    ----------
    z : Tensor, shape (S, d)
        Evaluation points.
    mean : Tensor, shape (B, d)
        Component means.
    log_variance : Tensor, shape (B, 1) or (B,)
        Isotropic log-variance of each component.

    Returns
    -------
    Tensor, shape (S,)
    """
    d = z.shape[-1]
    log_variance = log_variance.reshape(1, -1)  # (1, B)
    diff = z[:, None, :] - mean[None, :, :]  # (S, B, d)
    sq = (diff * diff).sum(-1)  # (S, B)
    log_comp = -0.5 * sq / torch.exp(log_variance) - 0.5 * d * (
        log_variance + math.log(2.0 * math.pi)
    )
    return torch.logsumexp(log_comp, dim=-1) - math.log(mean.shape[0])


class BatchKL(nn.Module):
    """Monte Carlo ``KL(p_b || p_0)`` of a batch of encoded Gaussians against a prior.

    Parameters
    ----------
    prior_log_prob : callable or None
        ``z (S, d) -> log p_0(z) (S,)``; for example the ``log_prob`` of a
        ``torch.distributions`` distribution with event shape ``(d,)``. Default ``N(0, I)``.
    """

    def __init__(self, prior_log_prob=None):
        super().__init__()
        self.prior_log_prob = prior_log_prob or standard_normal_log_prob

    def forward(
        self, z: torch.Tensor, mean: torch.Tensor, log_variance: torch.Tensor
    ) -> torch.Tensor:
        """Scalar KL estimate from samples ``z`` (B, d) of the batch mixture."""
        return (mixture_log_prob(z, mean, log_variance) - self.prior_log_prob(z)).mean()
