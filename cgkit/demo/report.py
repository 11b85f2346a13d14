"""Figures and the markdown report of ``cgkit demo``."""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path

import numpy as np


def _energy_grid(rows: list[dict]) -> np.ndarray:
    values = np.concatenate([rows[0]["y_test"]] + [r["mean"] for r in rows])
    spread = max(float(np.std(values)), 1e-3)
    return np.linspace(values.min() - 3 * spread, values.max() + 3 * spread, 400)


def dos_curves(row: dict, grid: np.ndarray) -> dict:
    """DOS of one map: the sum of predicted Gaussians on ``grid`` (1/eV), histograms of the
    predicted means and of the reference values on common bins, and the 1-Wasserstein
    distances (eV) of both predictions to the reference samples."""
    from scipy.stats import wasserstein_distance

    from cgkit.ecg.dos import gaussian_mixture_density, wasserstein_to_samples

    gaussians = gaussian_mixture_density(row["mean"], row["std"], grid)
    edges = np.histogram_bin_edges(row["y_test"], bins="auto")
    width = edges[1] - edges[0]
    edges = np.arange(grid[0], grid[-1] + width, width)
    return {
        "gaussians": gaussians,
        "edges": edges,
        "mean_only": np.histogram(row["mean"], bins=edges, density=True)[0],
        "reference": np.histogram(row["y_test"], bins=edges, density=True)[0],
        "w1_gaussians": wasserstein_to_samples(grid, gaussians, row["y_test"]),
        "w1_mean_only": float(wasserstein_distance(row["mean"], row["y_test"])),
    }


def write_figures(rows: list[dict], out: Path) -> dict[str, Path]:
    """Noise-vs-resolution and DOS PNGs; returns name -> path. Adds W1 values to ``rows``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    figures = {}
    beads = [r["n_beads"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    ax.plot(beads, [1000 * r["mean_std"] for r in rows], "o-", label="mean predicted std")
    ax.plot(beads, [1000 * r["rmse"] for r in rows], "s--", label="test RMSE")
    gmm = [(r["n_beads"], 1000 * r["gmm_noise"]) for r in rows if r["gmm_noise"] is not None]
    if gmm:
        ax.plot(*zip(*gmm, strict=True), "^:", label="GMM local noise")
    ax.set_xlabel("CG resolution (number of beads)")
    ax.set_ylabel("HOMO noise / error (meV)")
    ax.set_xticks(beads)
    ax.set_title("Electronic noise vs CG resolution")
    ax.legend(frameon=False)
    fig.tight_layout()
    figures["noise_vs_resolution"] = out / "noise_vs_resolution.png"
    fig.savefig(figures["noise_vs_resolution"])
    plt.close(fig)

    grid = _energy_grid(rows)
    fig, axes = plt.subplots(
        1, len(rows), figsize=(3.2 * len(rows), 3.4), dpi=120, sharey=True, squeeze=False
    )
    for ax, row in zip(axes[0], rows, strict=True):
        curves = dos_curves(row, grid)
        row["w1_gaussians"], row["w1_mean_only"] = curves["w1_gaussians"], curves["w1_mean_only"]
        ax.stairs(
            curves["reference"],
            curves["edges"],
            fill=True,
            alpha=0.3,
            color="gray",
            label="AA reference (histogram)",
        )
        ax.stairs(
            curves["mean_only"],
            curves["edges"],
            color="tab:orange",
            lw=1.2,
            label="ECG means only (histogram)",
        )
        ax.plot(grid, curves["gaussians"], color="tab:blue", lw=2, label="ECG sum of Gaussians")
        ax.set_title(f"{row['map']} ({row['n_beads']} beads)")
        ax.set_xlabel("HOMO energy (eV)")
    axes[0, 0].set_ylabel("density of states (1/eV)")
    axes[0, -1].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    figures["dos"] = out / "dos.png"
    fig.savefig(figures["dos"])
    plt.close(fig)
    return figures


def write_report(config, rows, figures, timings, out: Path, version: str) -> Path:
    """Markdown report: metrics per map, timings, figures and the commands to reproduce."""
    out = Path(out)
    lines = [
        "# cgkit demo: electronic coarse-graining of bithiophene",
        "",
        f"Made {_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')} by cgkit {version} "
        f"on {platform.node()} (Python {platform.python_version()}).",
        "",
        f"Data: {config.n_frames} frames of 2,2'-bithiophene from GFN2-xTB MD at 300 K, "
        f"labelled with GFN2-xTB {config.label.upper()} energies (`{config.recipe.name}`), "
        f"stored in `bithiophene.h5`. The last {100 * config.test_fraction:.0f}% of each MD "
        "replica is held out for testing.",
        "",
        "## ECG models per CG map (held-out frames)",
        "",
        "| map | beads | RMSE (eV) | mean predicted std (eV) | RMSE / std | GMM local noise (eV)"
        " | NLL | coverage 68% | coverage 95% | W1 DOS Gaussians (eV) | W1 DOS means only (eV)"
        " | train (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        gmm = "n/a" if r["gmm_noise"] is None else f"{r['gmm_noise']:.4f}"
        lines.append(
            f"| {r['map']} | {r['n_beads']} | {r['rmse']:.4f} | {r['mean_std']:.4f} | "
            f"{r['rmse_over_std']:.2f} | {gmm} | {r['nll']:.3f} | "
            f"{100 * r['coverage_68']:.1f}% | {100 * r['coverage_95']:.1f}% | "
            f"{r['w1_gaussians']:.4f} | {r['w1_mean_only']:.4f} | "
            f"{r['train_seconds']:.1f}{' (reused)' if r['reused'] else ''} |"
        )
    lines += [
        "",
        "The predicted std is the width of p(E|R): the part of the electronic property that "
        "the CG configuration cannot determine. It grows as the map coarsens.",
        "",
        "![noise vs resolution](noise_vs_resolution.png)",
        "",
        "![density of states](dos.png)",
        "",
        "## Time per step",
        "",
        "| step | seconds |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in timings.items()]
    lines += [
        "",
        "## Reproduce",
        "",
        "```bash",
        f"cgkit demo --out {out}" + (" --quick" if config.n_frames <= 300 else ""),
        f"cgkit info {out / 'bithiophene.h5'}",
        f"cgkit build {config.recipe} -o bt.h5   # the same data set on its own",
        "```",
        "",
        "Models: "
        + ", ".join(f"`{r['model']}`" for r in rows)
        + " (load with `cgkit.ecg.ECGRegressor.load`).",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
