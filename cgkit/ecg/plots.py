"""Matplotlib figures of ECG results (Agg backend; each function writes one PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_noise_vs_resolution(rows, path, unit: str = "eV") -> Path:
    """Noise and error vs number of beads (paper Fig. 4).

    Parameters
    ----------
    rows : sequence of dict
        One per map with keys ``n_beads``, ``rmse``, ``mean_std`` and optionally ``gmm_noise``.
    path : str or Path
        PNG to write.
    """
    plt = _pyplot()
    rows = sorted(rows, key=lambda r: r["n_beads"])
    n = [r["n_beads"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(n, [r["mean_std"] for r in rows], "o-", label="mean predictive std")
    ax.plot(n, [r["rmse"] for r in rows], "s--", label="test RMSE")
    if all(r.get("gmm_noise") is not None for r in rows):
        ax.plot(n, [r["gmm_noise"] for r in rows], "^:", label="GMM local noise")
    ax.set_xlabel("number of CG beads")
    ax.set_ylabel(f"noise / error ({unit})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_dos(
    energy_grid, densities: dict, true_values, path, unit: str = "eV", histograms=None
) -> Path:
    """Predicted densities (name -> (G,) 1/unit) over the histogram of true values.

    ``histograms`` (name -> values) are drawn as step histograms with the reference's bins
    (e.g. the predicted means, whose grid-resolution histogram is too noisy to read).
    """
    plt = _pyplot()
    grid = np.asarray(energy_grid, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.hist(
        true_values,
        bins=60,
        range=(grid[0], grid[-1]),
        density=True,
        color="0.8",
        label="reference",
    )
    for name, density in densities.items():
        ax.plot(grid, density, label=name)
    for name, values in (histograms or {}).items():
        ax.hist(
            values, bins=60, range=(grid[0], grid[-1]), density=True, histtype="step", label=name
        )
    ax.set_xlabel(f"property ({unit})")
    ax.set_ylabel(f"density (1/{unit})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_local_noise(local_noise, path, unit: str = "eV") -> Path:
    """Predicted std vs GMM local noise per cluster (:class:`~cgkit.ecg.validation.LocalNoise`)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(local_noise.local_noise, local_noise.predicted_std, s=8, alpha=0.6)
    hi = float(max(local_noise.local_noise.max(), local_noise.predicted_std.max()))
    ax.plot([0, hi], [0, hi], "k--", lw=1)
    ax.set_xlabel(f"GMM local noise ({unit})")
    ax.set_ylabel(f"predicted std ({unit})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
