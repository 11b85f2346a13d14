"""Encoder and conditional decoder of the temporal VAE (3D CNNs on per-particle voxels).

Grids have ``resolution^3`` voxels with ``resolution`` divisible by 4. Every particle
has its own channel: the encoder reads the N atom channels of the frame at t, the
decoder reads the M bead channels at t and the N atom channels at t - lag plus the
latent vector and returns one logit field per atom. The logits are added to the log
density of the previous frame, so an untrained decoder reproduces the previous atom
positions and the network learns the displacement.
"""

from __future__ import annotations

import torch
from torch import nn

from cgkit.backmap.networks import ResidualBlock3d


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1),
        nn.GroupNorm(1, c_out),
        nn.LeakyReLU(0.2),
    )


def _check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution % 4:
        raise ValueError(f"grid resolution must be a multiple of 4, got {resolution}")


class TemporalEncoder(nn.Module):
    """``E(r_t)`` (B, N, R, R, R) -> mean and log-variance of z, each (B, latent_dim)."""

    def __init__(self, n_atoms: int, resolution: int, channels: int = 16, latent_dim: int = 16):
        super().__init__()
        _check_resolution(resolution)
        self.body = nn.Sequential(
            _conv(n_atoms, channels),
            _conv(channels, 2 * channels, stride=2),
            _conv(2 * channels, 2 * channels, stride=2),
        )
        self.head = nn.Linear(2 * channels * (resolution // 4) ** 3, 2 * latent_dim)

    def forward(self, atom_density: torch.Tensor):
        mean, log_var = self.head(self.body(atom_density).flatten(1)).chunk(2, dim=-1)
        return mean, log_var.clamp(-10.0, 10.0)


class TemporalDecoder(nn.Module):
    """``g(E(R_t), E(r_{t-lag}), z)`` -> per-atom logits (B, N, R, R, R).

    A U-Net with one down/up step; z is projected to feature channels and added at
    the coarse level.
    """

    def __init__(
        self,
        n_atoms: int,
        n_beads: int,
        resolution: int,
        channels: int = 16,
        latent_dim: int = 16,
        n_blocks: int = 2,
    ):
        super().__init__()
        _check_resolution(resolution)
        self.stem = nn.Sequential(_conv(n_atoms + n_beads, channels), ResidualBlock3d(channels))
        self.down = _conv(channels, 2 * channels, stride=2)
        self.latent = nn.Linear(latent_dim, 2 * channels)
        self.middle = nn.Sequential(*(ResidualBlock3d(2 * channels) for _ in range(n_blocks)))
        self.up = nn.ConvTranspose3d(2 * channels, channels, 2, stride=2)
        self.fuse = _conv(2 * channels, channels)
        self.out = nn.Conv3d(channels, n_atoms, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, bead_density, previous_density, latent):
        skip = self.stem(torch.cat([bead_density, previous_density], dim=1))
        coarse = self.down(skip) + self.latent(latent)[:, :, None, None, None]
        coarse = self.middle(coarse)
        features = self.fuse(torch.cat([self.up(coarse), skip], dim=1))
        return self.out(features) + torch.log(previous_density.clamp_min(1e-12))
