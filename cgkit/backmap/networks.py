"""Generator and critic of the DBM conditional Wasserstein GAN (residual 3D CNNs).

Both act on voxel grids of ``resolution^3`` voxels (8^3 by default; any resolution
divisible by 4 works). The generator maps environment channels, the one-hot type of the
atom to place and a noise vector to a normalised density over the voxels (softmax);
:func:`cgkit.backmap.voxel.density_to_coordinate` collapses it to a coordinate. The
critic scores environment channels plus the density channel of the placed atom.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock3d(nn.Module):
    """``x -> LeakyReLU(0.5 (x + GN(conv(LeakyReLU(GN(conv(x)))))))`` at constant width."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv3d(channels, channels, 3, padding=1),
            nn.GroupNorm(1, channels),
            nn.LeakyReLU(0.2),
            nn.Conv3d(channels, channels, 3, padding=1),
            nn.GroupNorm(1, channels),
        )
        self.out = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(0.5 * (x + self.block(x)))


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1),
        nn.GroupNorm(1, c_out),
        nn.LeakyReLU(0.2),
    )


class Generator(nn.Module):
    """Environment + atom type + noise -> density of the atom to place.

    Parameters
    ----------
    in_channels : int       environment channels C
    n_atom_types : int      length T of the one-hot atom-type label
    noise_dim : int
    width : int             filters of the first stage (doubled after downsampling)
    resolution : int        voxels per edge R (divisible by 2)
    """

    def __init__(self, in_channels, n_atom_types, noise_dim=32, width=16, resolution=8):
        super().__init__()
        if resolution % 2:
            raise ValueError(f"resolution must be even, got {resolution}")
        self.noise_dim, self.resolution = noise_dim, resolution
        self.half = resolution // 2
        self.embed = nn.Sequential(_conv(in_channels, width), ResidualBlock3d(width))
        self.down = _conv(width, 2 * width, stride=2)
        self.label = nn.Sequential(
            nn.Linear(noise_dim + n_atom_types, 2 * width * self.half**3), nn.LeakyReLU(0.2)
        )
        self.combine = nn.Sequential(_conv(4 * width, 2 * width), ResidualBlock3d(2 * width))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(2 * width, width)
        )
        self.head = nn.Sequential(_conv(2 * width, width), nn.Conv3d(width, 1, 1))

    def forward(self, environment, atom_type_onehot, noise) -> torch.Tensor:
        """Density (B, R, R, R) summing to 1 from channels (B, C, R, R, R), label (B, T),
        noise (B, noise_dim)."""
        embedded = self.embed(environment)
        code = self.label(torch.cat([noise, atom_type_onehot], dim=1))
        code = code.view(-1, code.shape[1] // self.half**3, self.half, self.half, self.half)
        hidden = self.combine(torch.cat([self.down(embedded), code], dim=1))
        logits = self.head(torch.cat([self.up(hidden), embedded], dim=1)).flatten(1)
        r = self.resolution
        return torch.softmax(logits, dim=1).view(-1, r, r, r)


class Critic(nn.Module):
    """Environment channels + atom density (C + 1 channels) -> scalar score.

    Parameters
    ----------
    in_channels : int       C + 1
    width : int
    resolution : int        divisible by 4
    """

    def __init__(self, in_channels, width=16, resolution=8):
        super().__init__()
        if resolution % 4:
            raise ValueError(f"resolution must be divisible by 4, got {resolution}")
        self.features = nn.Sequential(
            _conv(in_channels, width),
            ResidualBlock3d(width),
            _conv(width, 2 * width, stride=2),
            ResidualBlock3d(2 * width),
            _conv(2 * width, 4 * width, stride=2),
        )
        self.score = nn.Linear(4 * width * (resolution // 4) ** 3, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Scores (B,) of inputs (B, C + 1, R, R, R)."""
        return self.score(self.features(inputs).flatten(1)).squeeze(1)
