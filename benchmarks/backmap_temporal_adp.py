"""Temporal VAE backmapping of alanine dipeptide vs. the frame-based library baseline.

Data: vacuum amber14 MD at 300 K, frames every 1 ps (:func:`cgkit.sampling.openmm_md.
simulate_peptide`; generated into ``--store`` when it does not exist). The first
``--train-fraction`` of the trajectory trains the VAE and fills the library; the rest is
cut into segments of ``--segment`` frames, mapped to the 5 backbone beads and backmapped
by both methods. Printed: JS divergences (nats) to the reference of per-element
displacement distributions |r_i(t) - r_i(t - 1 ps)|, potential energies, phi/psi
Ramachandran histograms (also their overlap) and bond lengths, and the CG consistency
RMSD (raw VAE output and after the least-squares projection onto the beads).

    OMP_NUM_THREADS=1 python benchmarks/backmap_temporal_adp.py --out /tmp/vae_png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import cgkit.data
from cgkit.backmap.temporal import (
    LibraryBackmapper,
    OpenMMEnergy,
    TemporalVAEBackmapper,
    TemporalVAEConfig,
)
from cgkit.backmap.temporal import metrics as tm
from cgkit.sampling.openmm_md import capped_peptide, create_openmm_system, simulate_peptide


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", default="/tmp/cgkit_adp_1ps.h5")
    p.add_argument("--n-frames", type=int, default=12000, help="frames to simulate if needed")
    p.add_argument("--train-fraction", type=float, default=0.8)
    p.add_argument("--segment", type=int, default=200, help="frames per held-out segment")
    p.add_argument("--n-segments", type=int, default=6)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--resolution", type=int, default=8)
    p.add_argument("--length", type=float, default=10.0)
    p.add_argument("--sigma-sq", type=float, default=1.5)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--latent-dim", type=int, default=8)
    p.add_argument("--beta", type=float, default=0.001)
    p.add_argument("--energy-weight", type=float, default=0.1)
    p.add_argument("--cg-weight", type=float, default=10.0)
    p.add_argument("--distance-weight", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="directory for PNGs and the model")
    return p.parse_args()


def energies_of(energy, frames):
    return energy.energies_and_forces(frames)[0]


def plot(out: Path, results: dict, symbols) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    names = list(results)
    elements = sorted(set(symbols))
    fig, axes = plt.subplots(1, len(elements), figsize=(4 * len(elements), 3.2))
    sym = np.asarray(symbols)
    for ax, element in zip(axes, elements, strict=True):
        for name in names:
            d = results[name]["displacements"][:, sym == element].ravel()
            ax.hist(d, bins=60, range=(0, 6), density=True, histtype="step", label=name)
        ax.set_xlabel(f"|r(t) - r(t - 1 ps)| of {element} (Å)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "displacements.png", dpi=120)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in names:
        ax.hist(results[name]["energy"], bins=60, density=True, histtype="step", label=name)
    ax.set_xlabel("potential energy (eV)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "energy.png", dpi=120)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4))
    for ax, name in zip(axes, names, strict=True):
        ax.hist2d(*results[name]["phi_psi"].T, bins=60, range=[[-180, 180], [-180, 180]])
        ax.set_title(name)
        ax.set_xlabel("phi (deg)")
        ax.set_ylabel("psi (deg)")
    fig.tight_layout()
    fig.savefig(out / "ramachandran.png", dpi=120)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in names:
        ax.hist(results[name]["bonds"].ravel(), bins=120, range=(0.8, 1.8), density=True,
                histtype="step", label=name)  # fmt: skip
    ax.set_xlabel("bond length (Å)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bonds.png", dpi=120)
    plt.close("all")


def main() -> int:
    args = parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    if not Path(args.store).exists():
        print(f"simulating {args.n_frames} frames (1 ps apart) into {args.store}")
        simulate_peptide(args.store, "A", n_frames=args.n_frames, seed=args.seed)
    with cgkit.data.open(args.store) as store:
        system = store["alanine-dipeptide"]
        positions = system.read_positions()
        cgmap = system.maps["backbone"]
        symbols = system.symbols
    structure = capped_peptide("A")
    energy = OpenMMEnergy(create_openmm_system(structure.topology))
    n_train = int(args.train_fraction * len(positions))
    train, test = positions[:n_train], positions[n_train:]
    print(f"{len(positions)} frames: {n_train} train, {len(test)} held out "
          f"({args.n_segments} segments of {args.segment})")  # fmt: skip

    config = TemporalVAEConfig(
        resolution=args.resolution, length=args.length, sigma_sq=args.sigma_sq,
        channels=args.channels, latent_dim=args.latent_dim, n_steps=args.steps,
        batch_size=args.batch_size, beta=args.beta, energy_weight=args.energy_weight,
        cg_weight=args.cg_weight, distance_weight=args.distance_weight,
        seed=args.seed, library_size=None,
    )  # fmt: skip
    print("config:", json.dumps(config.__dict__))
    t = time.time()
    model = TemporalVAEBackmapper(config, energy=energy).fit(train, cgmap)
    print(f"training: {time.time() - t:.0f} s")
    for step in range(0, args.steps, max(args.steps // 6, 1)):
        h = model.history_[step]
        print(f"  step {step:5d} " + " ".join(f"{k}={v:.3g}" for k, v in h.items()))
    last = {k: np.mean([h[k] for h in model.history_[-50:]]) for k in model.history_[-1]}
    print("  last 50 " + " ".join(f"{k}={v:.3g}" for k, v in last.items()))
    library = LibraryBackmapper().fit(train, cgmap.weights)

    starts = np.linspace(0, len(test) - args.segment, args.n_segments).astype(int)
    segments = [test[s : s + args.segment] for s in starts]
    seg_ids = np.repeat(np.arange(len(segments)), args.segment)
    reference = np.concatenate(segments)
    beads = cgmap.map_positions(reference)
    t = time.time()
    vae = np.concatenate(
        [model.backmap_trajectory(cgmap.map_positions(s), seed=args.seed + k)
         for k, s in enumerate(segments)]
    )  # fmt: skip
    print(f"VAE backmapping: {time.time() - t:.0f} s for {len(reference)} frames")
    t = time.time()
    lib = library.backmap(beads)
    print(f"library backmapping: {time.time() - t:.0f} s")
    model.config.project = False
    raw = model.backmap_trajectory(cgmap.map_positions(segments[0]), seed=args.seed)
    model.config.project = True

    quads = structure.phi_psi[0]
    results = {}
    for name, frames in (("reference", reference), ("vae", vae), ("library", lib)):
        results[name] = {
            "displacements": tm.displacements(frames, 1, seg_ids),
            "energy": energies_of(energy, frames),
            "phi_psi": tm.dihedrals(frames, quads),
            "bonds": tm.bond_lengths(frames, structure.bonds),
        }
    ref = results["reference"]
    e_bins = np.linspace(np.percentile(ref["energy"], 0.5) - 0.2,
                         np.percentile(ref["energy"], 99.5) + 0.2, 61)  # fmt: skip
    e_bins = np.concatenate([[-np.inf], e_bins, [np.inf]])
    b_bins = np.concatenate([[0.0], np.linspace(0.9, 1.7, 81), [np.inf]])
    print()
    print(f"{'metric':38s} {'VAE':>10s} {'library':>10s}")
    js = {}
    for name in ("vae", "library"):
        r = results[name]
        js[name] = {
            "displacement": tm.displacement_js(ref["displacements"], r["displacements"], symbols),
            "energy": tm.histogram_js(ref["energy"], r["energy"], e_bins),
            "rama": tm.ramachandran_scores(ref["phi_psi"], r["phi_psi"]),
            "bonds": tm.histogram_js(ref["bonds"], r["bonds"], b_bins),
        }
    for key in js["vae"]["displacement"]:
        v, lb = js["vae"]["displacement"][key], js["library"]["displacement"][key]
        print(f"{'JS displacement ' + key:38s} {v:10.4f} {lb:10.4f}")
    for key, label in (("energy", "JS potential energy"), ("bonds", "JS bond lengths")):
        print(f"{label:38s} {js['vae'][key]:10.4f} {js['library'][key]:10.4f}")
    for key in ("js", "overlap"):
        v, lb = js["vae"]["rama"][key], js["library"]["rama"][key]
        print(f"{'phi/psi histogram ' + key:38s} {v:10.4f} {lb:10.4f}")
    print(f"{'mean displacement (Å) [ref ' + format(ref['displacements'].mean(), '.3f') + ']':38s} "
          f"{results['vae']['displacements'].mean():10.3f} "
          f"{results['library']['displacements'].mean():10.3f}")  # fmt: skip
    print(f"{'median energy (eV) [ref ' + format(np.median(ref['energy']), '.3f') + ']':38s} "
          f"{np.median(results['vae']['energy']):10.3f} "
          f"{np.median(results['library']['energy']):10.3f}")  # fmt: skip
    cg_vae = tm.cg_consistency_rmsd(vae, cgmap.weights, beads)
    cg_lib = tm.cg_consistency_rmsd(lib, cgmap.weights, beads)
    cg_raw = tm.cg_consistency_rmsd(raw, cgmap.weights, cgmap.map_positions(segments[0]))
    print(f"{'CG consistency RMSD (Å)':38s} {cg_vae:10.4f} {cg_lib:10.4f}")
    print(f"{'CG consistency RMSD, raw VAE (Å)':38s} {cg_raw:10.4f}")
    ratio = js["vae"]["displacement"]["all"] / max(js["library"]["displacement"]["all"], 1e-12)
    print()
    print(
        f"goal JS(displacement) VAE <= 0.5 library: ratio {ratio:.3f} "
        f"{'MET' if ratio <= 0.5 else 'NOT MET'}"
    )
    print(f"goal CG consistency < 0.05 Å: {cg_vae:.4f} {'MET' if cg_vae < 0.05 else 'NOT MET'}"
          f" (raw generator output {cg_raw:.3f} Å)")  # fmt: skip
    if args.out:
        out = Path(args.out)
        plot(out, results, symbols)
        model.save(out / "temporal_vae_adp.pt")
        print(f"plots and model in {out}")
    print(f"total wall time {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
