"""Gaussian densities on regular cubic grids and the density -> coordinate collapse.

Generic building blocks for voxel-based generative backmapping (DBM here, a temporal
VAE backmapper later). A grid of ``resolution^3`` voxels of edge ``length / resolution``
is centred on the origin; a point ``x`` becomes the density
``rho(g) = exp(-|g - x|^2 / sigma_sq)`` on the voxel centres ``g`` (DBM convention:
``sigma_sq = 0.02 nm^2 = 2 Å^2``), and a density collapses to a point by its weighted
mean over the voxel centres (Stieffenhofer et al., thesis eq. 4.11).
"""

from __future__ import annotations

import torch


def make_grid(resolution: int = 8, length: float = 12.0, dtype=torch.float32, device=None):
    """Voxel centres of a cubic grid centred on the origin.

    Parameters
    ----------
    resolution : int
        Voxels per edge R.
    length : float
        Edge length of the whole grid, Å.

    Returns
    -------
    Tensor (R, R, R, 3), Å
        ``grid[i, j, k] = ((i, j, k) + 0.5) * length / R - length / 2``.
    """
    if resolution < 1 or length <= 0:
        raise ValueError(f"need resolution >= 1 and length > 0, got {resolution}, {length}")
    spacing = length / resolution
    axis = (torch.arange(resolution, dtype=dtype, device=device) + 0.5) * spacing - length / 2
    gx, gy, gz = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack([gx, gy, gz], dim=-1)


def gaussian_density(positions: torch.Tensor, grid: torch.Tensor, sigma_sq: float = 2.0):
    """Gaussian blob of every point on the grid.

    Parameters
    ----------
    positions : Tensor (..., K, 3), Å
        Points in the grid's frame.
    grid : Tensor (R, R, R, 3), Å
        A regular grid from :func:`make_grid` (the density is evaluated separably).
    sigma_sq : float
        Width parameter in Å^2 (``exp(-d^2 / sigma_sq)``).

    Returns
    -------
    Tensor (..., K, R, R, R), differentiable in ``positions``.
    """
    # the grid is regular, so the 3-D Gaussian factorises into three 1-D ones
    axes = (grid[:, 0, 0, 0], grid[0, :, 0, 1], grid[0, 0, :, 2])
    gx, gy, gz = (
        torch.exp(-((axis - positions[..., d, None]) ** 2) / sigma_sq)
        for d, axis in enumerate(axes)
    )
    return gx[..., :, None, None] * gy[..., None, :, None] * gz[..., None, None, :]


def channel_density(density: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
    """Sum per-point densities into channels.

    Parameters
    ----------
    density : Tensor (B, K, R, R, R)
        Per-point blobs (:func:`gaussian_density`).
    membership : Tensor (B, K, C) or (B, L, K, C)
        Weight of point k in channel c (0/1 multi-hot; zero rows hide a point). With the
        extra L axis one set of blobs is drawn into L different channel assignments.

    Returns
    -------
    Tensor (B, C, R, R, R) or (B, L, C, R, R, R)
    """
    if membership.ndim == 3:
        return torch.einsum("bkc,bkxyz->bcxyz", membership, density)
    return torch.einsum("blkc,bkxyz->blcxyz", membership, density)


def density_to_coordinate(density: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Collapse densities to points by their weighted mean over voxel centres.

    Parameters
    ----------
    density : Tensor (..., R, R, R), non-negative
    grid : Tensor (R, R, R, 3), Å

    Returns
    -------
    Tensor (..., 3), Å
    """
    weights = density.flatten(-3)
    total = weights.sum(-1, keepdim=True).clamp_min(1e-12)
    return (weights / total) @ grid.reshape(-1, 3)
