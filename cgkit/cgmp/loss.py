"""CGMP training objective (eqs. 12-14)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass
class LossConfig:
    """Weights of the CGMP loss.

    Attributes
    ----------
    mean_weight : float
        ``lambda_mu``: weight of ``sum_i <E_i>_batch^2`` (keeps per-atom outputs centred so the
        learnable output bias carries the mean).
    gate_weight : float
        ``lambda_n``: weight of the gate regulariser.
    count_weight : float
        ``lambda``: weight of ``(sum_i g_i - M)^2`` inside the gate regulariser.
    low, high_margin : float
        ``D_L`` and ``D_R``: the regulariser vanishes at ``g = D_L`` and ``g = 1 - D_R``.
    """

    mean_weight: float = 1e-3
    gate_weight: float = 0.1
    count_weight: float = 20.0
    low: float = 0.0
    high_margin: float = 0.01

    def to_dict(self) -> dict:
        return asdict(self)


def gate_regulariser(gates: torch.Tensor, resolution: float, config: LossConfig) -> torch.Tensor:
    """``sum_i |(g_i - D_L)(1 - D_R - g_i)| + lambda (sum_i g_i - M)^2`` (eq. 14).

    Parameters
    ----------
    gates : Tensor, shape (n,)
        Noise-free gates.
    resolution : float
        Target number of atoms ``M``.
    """
    binary = ((gates - config.low) * (1.0 - config.high_margin - gates)).abs().sum()
    count = (gates.sum() - resolution) ** 2
    return binary + config.count_weight * count


def cgmp_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    raw_atom_outputs: torch.Tensor,
    gates: torch.Tensor,
    resolution: float,
    config: LossConfig,
) -> dict:
    """Total CGMP loss ``MSE + lambda_mu sum_i <E_i>^2 + lambda_n R(g, M)`` (eqs. 12-14).

    Parameters
    ----------
    prediction, target : Tensor, shape (B,)
        Standardised property.
    raw_atom_outputs : Tensor, shape (B, n)
        Per-atom outputs ``E_i`` before gating.
    gates : Tensor, shape (n,)
        Noise-free gates ``sigmoid(x_i2)``.
    resolution : float
        Target resolution ``M`` of the current epoch.

    Returns
    -------
    dict with ``loss`` (scalar to minimise), ``mse``, ``mean_penalty``, ``gate_penalty``.
    """
    mse = torch.mean((prediction - target) ** 2)
    mean_penalty = (raw_atom_outputs.mean(0) ** 2).sum()
    gate_penalty = gate_regulariser(gates, resolution, config)
    loss = mse + config.mean_weight * mean_penalty + config.gate_weight * gate_penalty
    return {"loss": loss, "mse": mse, "mean_penalty": mean_penalty, "gate_penalty": gate_penalty}
