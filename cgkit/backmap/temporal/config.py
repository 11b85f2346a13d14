"""Hyperparameters of the temporal VAE backmapper (one typed dataclass)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TemporalVAEConfig:
    """Hyperparameters of :class:`TemporalVAEBackmapper`.

    Grid: ``resolution`` voxels (multiple of 4) over ``length`` Å, densities
    ``exp(-d^2 / sigma_sq)`` (Å^2). Loss weights of eqs. 8.1-8.5; the energy weight rises
    exponentially from 0 to ``energy_weight`` over training (energies in kT at
    ``temperature`` K, softly capped at ``energy_cap`` kT): ``energy_mode`` "min" is eq. 8.5
    (mean energy of the generated frames), "match" the mean ``|U(r_hat) - U(r)|`` against
    the reference frame (as DBM's eq. 4.16), which keeps the reference temperature instead of
    cooling the output; with bond constraints, the energy sees the constrained geometry.
    KL weight ``beta``, cyclic
    with period ``beta_period`` steps when > 0. ``beta`` must stay small (~1e-4): the
    latent then carries the stochastic part of the motion (tens of nats) and the GMM
    prior reproduces it; at ``beta`` >= 1e-3 the latent goes unused and the decoder
    returns the conditional mean, whose frame-to-frame displacements are too small.
    ``previous_noise`` (Å): std of Gaussian noise added to the conditioning frame in training,
    so that the decoder learns to repair the small errors of the generated frames it is
    conditioned on at inference (autoregressive exposure bias); 0 is the paper's training.
    Defaults: the alanine-dipeptide benchmark's choice (match mode at weight 0.3 and 0.2 Å
    noise: energy JS 0.06 against 0.24 for eq. 8.5 minimisation without noise).
    ``project`` (inference only) shifts the generated atoms of each bead rigidly by the
    bead's residual, then applies the least-norm projection, so that the frames map
    exactly onto the beads.
    """

    resolution: int = 12
    length: float = 12.0
    sigma_sq: float = 1.0
    channels: int = 16
    latent_dim: int = 16
    n_blocks: int = 2
    n_steps: int = 2000
    batch_size: int = 16
    learning_rate: float = 1e-3
    voxel_weight: float = 1.0
    coordinate_weight: float = 1.0
    distance_weight: float = 1.0
    cg_weight: float = 1.0
    energy_weight: float = 0.3
    energy_mode: str = "match"
    energy_cap: float = 100.0
    temperature: float = 300.0
    beta: float = 1e-4
    previous_noise: float = 0.2
    beta_period: int = 0
    n_components: int = 10
    library_size: int | None = 5000
    project: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.energy_mode not in ("min", "match"):
            raise ValueError(f"energy_mode must be 'min' or 'match', got {self.energy_mode!r}")
