"""DKL-ECG benchmark on the propyl-bithiophene DFT set (Maier & Jackson 2022).

Trains one ECGRegressor per published CG map on frames 0..n_train-1 and reports on the
rest (default 9000 / 1000): test RMSE, mean predictive std, their ratio, NLL, 68 %/95 %
coverage, GMM local noise, train time and predict throughput; the same for the exact GP
baseline on its largest affordable training subset; the density of states (sum of
predicted Gaussians vs histogram of predicted means, Wasserstein distance to the true
values); and the equality of the cached prediction with gpytorch's. Figures go to --out.

    OMP_NUM_THREADS=1 python benchmarks/ecg_bithiophene_dft.py --out benchmark_out
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import timeit
from pathlib import Path

import numpy as np
import torch

from cgkit.ecg import ECGRegressor, ExactGPRegressor
from cgkit.ecg.dos import (
    calibrated_ratio_distribution,
    gaussian_mixture_density,
    histogram_density,
    wasserstein_to_samples,
)
from cgkit.ecg.plots import plot_dos, plot_noise_vs_resolution
from cgkit.ecg.scan import ScanRow, evaluate, format_table
from cgkit.ecg.validation import shapiro_fraction
from cgkit.mapping import CGMap

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/bithiophene_dft")
    p.add_argument("--out", type=Path, default=Path("benchmark_out"))
    p.add_argument("--label", default="homo", choices=["homo", "lumo"])
    p.add_argument("--maps", default="4,6,8,10,12,14,16", help="bead counts N of maps/N_bead.map")
    p.add_argument("--n-train", type=int, default=9000)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--n-inducing", type=int, default=400)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--kl-weight", type=float, default=1e-4)
    p.add_argument("--exact-maps", default="10", help="bead counts for the exact GP baseline")
    p.add_argument("--exact-frames", type=int, default=1500)
    p.add_argument("--exact-iters", type=int, default=50)
    p.add_argument("--throughput-frames", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--reuse",
        action="store_true",
        help="load the models saved in --out by an earlier run instead of training (e.g. to "
        "re-measure throughput on a quiet machine); train times are read from its log",
    )
    return p.parse_args(argv)


def throughput(model, bead_positions, n_frames: int, repeats: int = 5) -> float:
    """Frames per second of ``model.predict(..., return_std=True)`` on ``n_frames`` frames,
    the best of ``repeats`` passes (as ``timeit`` does: a shared VM's timings vary 1.5x)."""
    reps = int(np.ceil(n_frames / len(bead_positions)))
    frames = np.tile(bead_positions, (reps, 1, 1))[:n_frames]
    seconds = timeit.repeat(lambda: model.predict(frames, return_std=True), number=1,
                            repeat=repeats)  # fmt: skip
    return n_frames / min(seconds)


def float64_gemm_rate(size: int = 2048, repeats: int = 3) -> float:
    """Measured float64 matrix-multiply rate of this machine and thread count, in flop/s.

    The cached prediction costs about ``M (M + 128) / 2`` float64 multiply-adds per frame
    (``k B k^T`` over the upper block triangle of ``B``), so ``rate / (2 x that)`` frames/s
    is the ceiling no implementation of that algebra can pass.
    """
    a = torch.randn(size, size, dtype=torch.float64)
    b = torch.randn(size, size, dtype=torch.float64)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def gpytorch_check(model, bead_positions, n_frames: int = 2000):
    """Max relative deviation of the cache from gpytorch (float64 copy) and gpytorch's speed."""
    z = model._latents(bead_positions[:n_frames])
    gp32, lik32 = model.module_.gp, model.module_.likelihood
    with torch.no_grad():
        start = time.perf_counter()
        out32 = lik32(gp32(z))
        _ = (out32.mean, out32.variance)
        speed = len(z) / (time.perf_counter() - start)
        gp64, lik64 = copy.deepcopy(gp32).double(), copy.deepcopy(lik32).double()
        gp64.train()  # a mode switch drops the float32 caches copied along
        gp64.eval()
        ref = lik64(gp64(z.double()))
    mean, var = model.cache_.predict(z)
    scale, shift = model.target_scale_, model.target_mean_
    rel_mean = float(((mean - ref.mean).abs() * scale / abs(shift + scale * ref.mean)).max())
    rel_std = float((var.sqrt() / ref.variance.sqrt() - 1).abs().max())
    return rel_mean, rel_std, speed


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    with np.load(args.data / "train.npz") as data:
        positions, y = data["positions"], data[f"{args.label}_eV"]
    train, test = np.arange(args.n_train), np.arange(args.n_train, len(y))
    print(
        f"bithiophene DFT {args.label}: {len(train)} train / {len(test)} test frames, "
        f"torch threads {args.threads}; ECG: {args.epochs} epochs, batch {args.batch_size}, "
        f"{args.n_inducing} inducing points, lr {args.lr}, kl_weight {args.kl_weight}"
    )
    grid = np.linspace(y.min() - 0.5, y.max() + 0.5, 600)
    rows, extra = [], {}
    for n_beads in [int(n) for n in args.maps.split(",")]:
        cgmap = CGMap.read(args.data / "maps" / f"{n_beads}_bead.map")
        bead_positions = np.asarray(cgmap.map_positions(positions))
        model = ECGRegressor(
            n_inducing=args.n_inducing,
            n_epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            kl_weight=args.kl_weight,
            seed=args.seed,
        )
        model_path = args.out / f"ecg_{n_beads}_bead.pt"
        times_path = args.out / "train_times.json"
        train_times = json.loads(times_path.read_text()) if times_path.exists() else {}
        if args.reuse and model_path.exists():
            model = ECGRegressor.load(model_path)
            train_time = train_times.get(str(n_beads), float("nan"))
        else:
            start = time.perf_counter()
            model.fit(bead_positions[train], y[train])
            train_time = time.perf_counter() - start
            model.save(model_path)
            times_path.write_text(json.dumps({**train_times, str(n_beads): train_time}))
        m = evaluate(model, bead_positions[test], y[test], gmm_components=(20, 30, 40, 50, 60))
        row = ScanRow.from_metrics(f"{n_beads}_bead", n_beads, len(train), len(test), m, train_time)
        rows.append(row)
        dos = gaussian_mixture_density(m["mean"], m["std"], grid)
        dos_mean_only = histogram_density(m["mean"], grid)
        w_dos = wasserstein_to_samples(grid, dos, y[test])
        w_mean = wasserstein_to_samples(grid, dos_mean_only, y[test])
        ideal = calibrated_ratio_distribution(m["mean"], m["std"], grid, seed=args.seed)
        plot_dos(
            grid,
            {"ECG sum of Gaussians": dos},
            y[test],
            args.out / f"dos_{n_beads}_bead.png",
            histograms={"histogram of means": m["mean"]},
        )
        rate = throughput(model, bead_positions[test], args.throughput_frames)
        n_inducing_used = len(model.cache_.inducing_points)
        multiply_adds = model.cache_.multiply_adds_per_frame
        rel_mean, rel_std, gpy_rate = gpytorch_check(model, bead_positions[test])
        normal = shapiro_fraction(
            model.encode(bead_positions[test]),
            y[test],
            m["mean"],
            sample_sizes=(10, 25, 50),
            n_components=15,
            seed=args.seed,
        )
        # excess kurtosis of the standardised residuals: > 0 (heavy tails, a sharp centre)
        # makes a Gaussian of the right variance cover more than 68 % at one std
        standardised = (y[test] - m["mean"]) / m["std"]
        kurtosis = float(np.mean(standardised**4) / np.mean(standardised**2) ** 2 - 3.0)
        extra[n_beads] = (w_dos, w_mean, rate, gpy_rate, rel_mean, rel_std, normal, ideal, kurtosis)
        print(format_table([row], header=len(rows) == 1), flush=True)

    print("\nECG (DKL, heteroscedastic), held-out frames; energies in eV, coverage in %")
    print(format_table(rows))
    print(
        f"\n{'map':>10} {'W1 DOS':>8} {'W1 means':>9} {'ratio':>6} {'pred fr/s':>10} "
        f"{'gpytorch/s':>10} {'max rel dmean':>13} {'max rel dstd':>12} {'SW pass n=10/25/50':>18} "
        f"{'ideal ratio':>11} {'P(ideal<=0.5)':>13} {'pct':>4} {'kurt(z)':>7}"
    )
    for n_beads, (w_dos, w_mean, rate, gpy, rm, rs, normal, ideal, kurt) in extra.items():
        sw = "/".join(f"{normal[n]:.2f}" for n in (10, 25, 50))
        print(
            f"{n_beads:>5d}_bead {w_dos:8.4f} {w_mean:9.4f} {w_dos / w_mean:6.3f} {rate:10.0f} "
            f"{gpy:10.0f} {rm:13.2e} {rs:12.2e} {sw:>18} {np.median(ideal):11.3f} "
            f"{np.mean(ideal <= 0.5):13.2f} {100 * np.mean(ideal <= w_dos / w_mean):4.0f} "
            f"{kurt:7.2f}"
        )
    print(
        "ideal ratio: median W1(DOS) / W1(mean-only) a perfectly calibrated model would show "
        f"against {len(test)} reference values (parametric bootstrap, 200 draws); P(ideal<=0.5): "
        "the chance that such a model meets the 'ratio <= 0.5' goal; pct: percentile of the "
        "observed ratio among the bootstrap ratios (near 50: as good as a right model can be); "
        "kurt(z): excess kurtosis of (y - mean) / std (0 for Gaussian residuals)"
    )
    plot_noise_vs_resolution([r.to_dict() for r in rows], args.out / "noise_vs_resolution.png")

    exact_rows = []
    for n_beads in [int(n) for n in args.exact_maps.split(",") if n]:
        cgmap = CGMap.read(args.data / "maps" / f"{n_beads}_bead.map")
        bead_positions = np.asarray(cgmap.map_positions(positions))
        sub = train[: args.exact_frames]
        model = ExactGPRegressor(n_iterations=args.exact_iters, seed=args.seed)
        start = time.perf_counter()
        model.fit(bead_positions[sub], y[sub])
        train_time = time.perf_counter() - start
        m = evaluate(model, bead_positions[test], y[test])
        exact_rows.append(
            ScanRow.from_metrics(f"{n_beads}_bead", n_beads, len(sub), len(test), m, train_time)
        )
        rate = throughput(model, bead_positions[test], 10_000)
        print(f"exact GP {n_beads}_bead: predict {rate:.0f} frames/s", flush=True)
    if exact_rows:
        print(f"\nExact GP (homoscedastic) on the first {args.exact_frames} training frames")
        print(format_table(exact_rows))

    by_n = {r.n_beads: r for r in rows}
    print("\nGoals")
    if 10 in by_n:
        print(f"  10-bead RMSE <= 0.091 eV: {by_n[10].rmse:.4f} -> {by_n[10].rmse <= 0.091}")
    ratios = [r.rmse_over_std for r in rows]
    print(
        f"  RMSE/<std> in [0.90, 1.10] on every map: {min(ratios):.3f}..{max(ratios):.3f} -> "
        f"{all(0.9 <= q <= 1.1 for q in ratios)}"
    )
    cov_ok = all(
        abs(r.coverage_68 - 0.68) <= 0.03 and abs(r.coverage_95 - 0.95) <= 0.03 for r in rows
    )
    print(f"  coverage within 3 points of 68/95 on every map: {cov_ok}")
    order = sorted(rows, key=lambda r: -r.n_beads)
    stds = [r.mean_std for r in order]
    print(
        "  noise rising as resolution coarsens (16 -> 4 beads): "
        + " ".join(f"{s:.3f}" for s in stds)
        + f" -> monotone {all(b >= a for a, b in zip(stds, stds[1:], strict=False))}"
    )
    dos_ok = all(e[0] <= 0.5 * e[1] for e in extra.values())
    print(f"  W1(DOS) <= 0.5 W1(mean-only) on every map: {dos_ok}")
    rates = [e[2] for e in extra.values()]
    print(
        f"  predict throughput >= 1e5 frames/s: {min(rates):.0f}..{max(rates):.0f} -> "
        f"{min(rates) >= 1e5}"
    )
    gemm = float64_gemm_rate()
    ceiling = gemm / (2 * multiply_adds)
    print(
        f"  float64 GEMM on {args.threads} thread(s): {gemm / 1e9:.1f} GFLOP/s -> ceiling of the "
        f"{multiply_adds} multiply-adds a frame at {n_inducing_used} inducing points: "
        f"{ceiling:.0f} frames/s"
    )
    print(f"figures in {args.out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
