"""Adversarial training loop of DBM (Wasserstein GAN with gradient penalty, thesis 4.4-4.5)."""

from __future__ import annotations

import numpy as np
import torch

from cgkit.backmap.generation import SequenceTensors, reference_inputs, unroll


def training_items(plan, n_frames: int) -> list[tuple[int, int, np.ndarray]]:
    """``(frame, step, beads)`` groups: beads of one step with equal sequence length."""
    items = []
    for frame in range(n_frames):
        for step, beads in enumerate(plan.steps):
            lengths = np.array([len(plan.sequences[b]) for b in beads])
            for length in np.unique(lengths):
                items.append((frame, step, beads[lengths == length]))
    return items


def _critic_inputs(inputs, tensors, coords):
    return torch.cat(
        [
            torch.cat([inputs[s], tensors.atom_density(coords[:, s])], dim=1)
            for s in range(tensors.n_seq)
        ]
    )


def gradient_penalty(critic, real, fake) -> torch.Tensor:
    """``mean((|grad critic(x_hat)| - 1)^2)`` on random interpolates of real and fake."""
    eps = torch.rand(real.shape[0], 1, 1, 1, 1, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def train(generator, critic, builder, frames, config, n_atom_types, grid, device, progress):
    """Train ``generator`` and ``critic`` in place; return the loss history.

    Parameters
    ----------
    builder : EnvironmentBuilder
    frames : list of (positions (N, 3) Å, bead_positions (M, 3) Å, cell (3, 3) or None)
    config : DBMConfig
    grid : Tensor (R, R, R, 3)
    progress : callable(total) -> object with ``update(n)`` and ``close()`` (tqdm-like)

    Returns
    -------
    list of dict
        Per batch: ``critic``, ``generator`` (or NaN when only the critic stepped),
        ``prior`` and ``prior_weight``.
    """
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    items = training_items(builder.plan, len(frames))
    total = config.n_epochs * len(items)
    if config.max_batches is not None:
        total = min(total, config.max_batches)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_generator, betas=(0.0, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=config.lr_critic, betas=(0.0, 0.9))
    history = []
    bar = progress(total)
    order = np.concatenate([rng.permutation(len(items)) for _ in range(config.n_epochs)])
    for it in range(total):
        frame, step, beads = items[order[it]]
        if len(beads) > config.batch_size:
            beads = np.sort(rng.choice(beads, config.batch_size, replace=False))
        positions, bead_positions, cell = frames[frame]
        # a Gibbs batch: every other atom present (the sweep's conditional), else forward
        gibbs = config.gibbs_fraction > 0 and rng.random() < config.gibbs_fraction
        if gibbs:
            present = np.ones(len(positions), dtype=bool)
        else:
            present = builder.plan.bead_step[builder.atom_to_bead] < step
        angles = rng.uniform(0, 2 * np.pi, len(beads)) if config.rotate else None
        batch = builder.build(beads, positions, present, bead_positions, cell, angles, gibbs)
        tensors = SequenceTensors(batch, grid, config.sigma_sq, device=device)
        real = _critic_inputs(reference_inputs(tensors), tensors, tensors.seq_local)

        unroll_args = (generator, tensors, n_atom_types, config.noise_dim, gibbs)
        with torch.no_grad():
            fake_coords, fake_inputs = unroll(*unroll_args)
        fake = _critic_inputs(fake_inputs, tensors, fake_coords)
        d_real, d_fake = critic(real), critic(fake)
        loss_c = (
            d_fake.mean()
            - d_real.mean()
            + config.gp_weight * gradient_penalty(critic, real, fake)
            + config.drift_weight * (d_real**2).mean()
        )
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
        record = {"critic": loss_c.item(), "generator": float("nan"), "prior": float("nan")}

        if it % config.n_critic == config.n_critic - 1:
            weight = config.prior_weight(it / max(1, len(items)))
            fake_coords, fake_inputs = unroll(*unroll_args)
            loss_g = -critic(_critic_inputs(fake_inputs, tensors, fake_coords)).mean()
            terms = (config.prior_nonbonded_scale, config.prior_soft_core, config.bond_stiffness)
            energy = tensors.energy(fake_coords, *terms)
            if config.prior_mode == "match":
                prior = (energy - tensors.energy(tensors.seq_local, *terms)).abs().mean()
            else:
                prior = energy.mean()
            if weight > 0:
                loss_g = loss_g + weight * prior
            opt_g.zero_grad()
            loss_g.backward()
            norm = torch.nn.utils.clip_grad_norm_(generator.parameters(), config.clip_norm)
            if torch.isfinite(norm):  # skip the rare step with a non-finite gradient
                opt_g.step()
            record.update(generator=loss_g.item(), prior=prior.item(), prior_weight=weight)
        history.append(record)
        bar.update(1)
    bar.close()
    return history
