"""Figures of CGMP results (matplotlib, written to files; no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgkit.cgmp.entropy import MappingEntropy


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_decimation_heatmap(result: MappingEntropy, path, symbols=None, title: str = "") -> Path:
    """Heat map of the probability that each atom is decimated at each resolution (Fig. 4).

    Parameters
    ----------
    result : MappingEntropy
    path : str or Path
        Output image (``.png``).
    symbols : sequence of str, optional
        Element symbol of every molecule atom, for the axis labels.
    """
    plt = _pyplot()
    labels = [f"{symbols[a]}{a}" if symbols is not None else str(a) for a in result.atoms.tolist()]
    fig, (ax_map, ax_entropy) = plt.subplots(
        1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [3, 1]}, sharey=True
    )
    image = ax_map.imshow(
        result.decimated_probability, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0
    )
    ax_map.set_xticks(range(len(labels)), labels, rotation=90)
    ax_map.set_yticks(range(len(result.resolutions)), result.resolutions.tolist())
    ax_map.set_xlabel("atom")
    ax_map.set_ylabel("resolution M")
    fig.colorbar(image, ax=ax_map, label="P(decimated)")
    ax_entropy.plot(result.entropy, np.arange(len(result.resolutions)), marker="o")
    ax_entropy.set_xlabel(r"mapping entropy $\Omega$ (nats)")
    fig.suptitle(title or f"CGMP decimation probability over {result.n_runs} runs")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_resolution_curves(curves, path, title: str = "") -> Path:
    """Held-out R^2 against resolution, one line per run plus the mean.

    Parameters
    ----------
    curves : sequence of dict int -> float
        ``resolution_curve_`` of each run.
    path : str or Path
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    resolutions = sorted(set().union(*[set(c) for c in curves]), reverse=True)
    for curve in curves:
        ax.plot(sorted(curve), [curve[m] for m in sorted(curve)], color="0.7", lw=0.8)
    means = [np.mean([c[m] for c in curves if m in c]) for m in resolutions]
    ax.plot(resolutions, means, color="C0", marker="o", label="mean")
    ax.invert_xaxis()
    ax.set_xlabel("resolution M")
    ax.set_ylabel(r"held-out $R^2$")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
