"""Training and evaluation loops shared by :class:`~cgkit.cgmp.CGMPRanker` and baselines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from cgkit.cgmp.loss import LossConfig, cgmp_loss
from cgkit.cgmp.model import CGMPConfig, CGMPModel


def r2_score(reference, prediction) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` of two (F,) arrays."""
    reference = np.asarray(reference, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    total = np.sum((reference - reference.mean()) ** 2)
    if total == 0.0:
        raise ValueError("R^2 is undefined for a constant reference")
    return float(1.0 - np.sum((reference - prediction) ** 2) / total)


def train_epoch(
    model: CGMPModel,
    optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
    positions: torch.Tensor,
    targets: torch.Tensor,
    resolution: float,
    loss_config: LossConfig,
    batch_size: int,
    generator: torch.Generator,
    atom_ids: torch.Tensor | None = None,
    fixed_gates: torch.Tensor | None = None,
) -> dict:
    """One pass over shuffled frames with noise on.

    Parameters
    ----------
    optimizer : Optimizer or sequence of Optimizer
        Stepped after every batch (several when parameter groups use different methods).
    positions : Tensor, shape (F, n, 3), Å
    targets : Tensor, shape (F,)
        Standardised property.
    resolution : float
        Target ``M`` of the gate regulariser.
    fixed_gates : Tensor, shape (n,), optional
        Use these gates (no gate learning, no gate regulariser), e.g. for fixed maps.

    Returns
    -------
    dict of mean ``loss`` and ``mse`` over the epoch.
    """
    model.train()
    optimizers = list(optimizer) if isinstance(optimizer, Sequence) else [optimizer]
    order = torch.randperm(positions.shape[0], generator=generator)
    totals = {"loss": 0.0, "mse": 0.0}
    n_batches = 0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        out = model(positions[batch], atom_ids=atom_ids, gates=fixed_gates, noise=True)
        gates = model.gates() if atom_ids is None else model.gates()[atom_ids]
        config = loss_config
        if fixed_gates is not None:
            config = LossConfig(**{**loss_config.to_dict(), "gate_weight": 0.0})
        terms = cgmp_loss(
            out["prediction"], targets[batch], out["raw_atom_outputs"], gates, resolution, config
        )
        for step in optimizers:
            step.zero_grad()
        terms["loss"].backward()
        for step in optimizers:
            step.step()
        totals["loss"] += terms["loss"].item()
        totals["mse"] += terms["mse"].item()
        n_batches += 1
    return {key: value / max(n_batches, 1) for key, value in totals.items()}


@torch.no_grad()
def predict_batched(
    model: CGMPModel,
    positions: torch.Tensor,
    atom_ids: torch.Tensor | None = None,
    gates: torch.Tensor | None = None,
    batch_size: int = 256,
):
    """Noise-free predictions and gated per-atom contributions, in standardised units.

    Returns
    -------
    prediction : Tensor, shape (F,)
    atom_outputs : Tensor, shape (F, n)
    """
    model.eval()
    predictions, contributions = [], []
    for start in range(0, positions.shape[0], batch_size):
        out = model(positions[start : start + batch_size], atom_ids=atom_ids, gates=gates)
        predictions.append(out["prediction"])
        contributions.append(out["atom_outputs"])
    return torch.cat(predictions), torch.cat(contributions)


def fit_fixed_atoms(
    positions: np.ndarray,
    values: np.ndarray,
    train_index: np.ndarray,
    test_index: np.ndarray,
    config: CGMPConfig,
    epochs: int,
    seed: int = 0,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
) -> float:
    """Train the CGMP network with all gates fixed at 1 on given atoms; return held-out R^2.

    This is the "same GNN on a fixed decimation map" baseline (e.g. random maps).

    Parameters
    ----------
    positions : ndarray, shape (F, M, 3), Å
        Positions of the kept atoms only.
    values : ndarray, shape (F,), eV
    train_index, test_index : ndarray of int
        Frames to train on and to score.
    config : CGMPConfig
        Its ``n_atoms`` must equal ``M``.
    epochs : int
    """
    if positions.shape[1] != config.n_atoms:
        raise ValueError(
            f"config.n_atoms={config.n_atoms} but positions hold {positions.shape[1]} atoms"
        )
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    mean, scale = values[train_index].mean(), values[train_index].std()
    pos = torch.as_tensor(positions, dtype=torch.float32)
    target = torch.as_tensor((values - mean) / scale, dtype=torch.float32)
    model = CGMPModel(config)
    model.gate_logits.requires_grad_(False)
    ones = torch.ones(config.n_atoms)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], learning_rate)
    train = torch.as_tensor(train_index)
    for _ in range(epochs):
        train_epoch(
            model,
            optimizer,
            pos[train],
            target[train],
            config.n_atoms,
            LossConfig(),
            batch_size,
            generator,
            fixed_gates=ones,
        )
    prediction, _ = predict_batched(model, pos[torch.as_tensor(test_index)], gates=ones)
    return r2_score(values[test_index], prediction.numpy() * scale + mean)
