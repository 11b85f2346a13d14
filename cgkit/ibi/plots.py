"""Figures of IBI progress: target vs CG distribution of every interaction (PNG files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_distributions(grids: dict, targets: dict, densities: dict, js: dict, path, title=""):
    """One panel per interaction: mapped AA target (line) and CG MD density (dashed).

    Parameters
    ----------
    grids, targets, densities : dict name -> ndarray (G,)
        Bin centres (Å or rad) and densities (per Å or per rad).
    js : dict name -> float
        Jensen-Shannon divergence (bits), shown in each panel title.
    path : str or Path
        Output ``.png``.

    Returns
    -------
    Path
    """
    plt = _pyplot()
    names = list(targets)
    n_columns = 6
    n_rows = max(1, int(np.ceil(len(names) / n_columns)))
    figure, axes = plt.subplots(
        n_rows, n_columns, figsize=(2.6 * n_columns, 2.1 * n_rows), squeeze=False
    )
    for axis, name in zip(axes.ravel(), names, strict=False):
        grid = grids[name]
        if name.startswith(("angle", "dihedral")):
            grid = np.degrees(grid)
        axis.plot(grid, targets[name], color="k", lw=1.2, label="AA")
        if name in densities:
            axis.plot(grid, densities[name], color="C3", lw=1.0, ls="--", label="CG")
        axis.set_title(f"{name}  JS={js.get(name, np.nan):.3f}", fontsize=7)
        axis.tick_params(labelsize=6)
        axis.set_yticks([])
    for axis in axes.ravel()[len(names) :]:
        axis.axis("off")
    axes[0, 0].legend(fontsize=6)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
