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


class InferenceGenerator(nn.Module):
    """A trained :class:`Generator` prepared for fast inference on the CPU.

    Runs the convolutions in the ``channels_last_3d`` memory format (oneDNN's fast layout)
    and, with ``dtype=torch.bfloat16``, under bfloat16 autocast; the density comes back
    in float32. Measured on 2 AMD EPYC (Zen 4) cores with a width-16 generator and 288
    environments (``benchmarks/dbm_inference_speed.py``): 1.55x (float32) and 2.5x
    (bfloat16) the plain float32 forward pass; the bfloat16 densities differ from the
    float32 ones by about 1 % of their peak.

    Parameters
    ----------
    generator : Generator
        Shares its parameters with the wrapper (no copy); switch it back with
        ``generator.to(memory_format=torch.contiguous_format)`` before training again.
    dtype : torch.dtype
        ``torch.float32`` or ``torch.bfloat16``.
    """

    def __init__(self, generator: Generator, dtype: torch.dtype = torch.float32):
        super().__init__()
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"dtype must be torch.float32 or torch.bfloat16, got {dtype}")
        self.generator = generator.to(memory_format=torch.channels_last_3d)
        self.dtype = dtype

    def forward(self, environment, atom_type_onehot, noise) -> torch.Tensor:
        """Same signature and shapes as :meth:`Generator.forward`."""
        environment = environment.contiguous(memory_format=torch.channels_last_3d)
        device_type = environment.device.type
        enabled = self.dtype == torch.bfloat16
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=enabled):
            density = self.generator(environment, atom_type_onehot, noise)
        return density.float()


#: values of ``DBMConfig.inference_dtype`` (and the CLI's ``--inference-dtype``)
INFERENCE_DTYPES = ("auto", "float32", "bfloat16")


def inference_dtype(name: str, device="cpu") -> torch.dtype:
    """The generator's inference dtype for a config value ``name``.

    ``"float32"`` and ``"bfloat16"`` are taken as they are; ``"auto"`` is bfloat16 where
    the device runs it natively (CUDA with bf16 support; a CPU whose oneDNN has bf16
    kernels, i.e. AVX-512 or newer) and float32 elsewhere.
    """
    if name not in INFERENCE_DTYPES:
        raise ValueError(f"inference dtype must be one of {INFERENCE_DTYPES}, got {name!r}")
    if name != "auto":
        return getattr(torch, name)
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    try:
        native = torch.backends.mkldnn.is_available() and bool(
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except (AttributeError, RuntimeError):  # private oneDNN query absent in this build
        native = False
    return torch.bfloat16 if device.type == "cpu" and native else torch.float32
