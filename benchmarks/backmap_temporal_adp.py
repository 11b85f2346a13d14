"""Temporal VAE backmapping of capped peptides vs. the frame-based library baseline.

Data: vacuum amber14 MD at 300 K of ACE-``--sequence``-NME (default alanine dipeptide),
frames every ``--interval-fs`` (default 100 fs: shorter than the decorrelation time of
the fast modes, where conditioning on the previous frame matters; at 1 ps a library of
independent frames already reproduces the displacements), generated into ``--store``
with :func:`cgkit.sampling.openmm_md.simulate_peptide` when it does not exist. The model
is per molecule (one voxel channel per atom), so every peptide trains its own.

The first ``--train-fraction`` of the trajectory trains the VAE and fills the library;
the rest is cut into segments of ``--segment`` frames, mapped to the backbone beads and
backmapped by both methods. Printed: JS divergences (nats) to the reference of
per-element displacement distributions |r_i(t) - r_i(t - interval)|, potential
energies, phi/psi Ramachandran histograms (also their overlap) and bond lengths, and the
CG consistency RMSD (raw VAE output and after the projection onto the beads). With
``--cg-md-frames`` > 0 the same is reported for a CG trajectory that never was all-atom:
Langevin MD of the beads (each with the mass of the atoms that follow it) with
Boltzmann-inverted bonded potentials whose dihedral tables are scaled by
``--dihedral-scale`` (:mod:`cgkit.backmap.temporal.cg_trajectory`), compared with the
all-atom reference distributions.

    OMP_NUM_THREADS=1 python benchmarks/backmap_temporal_adp.py --out /tmp/vae_png
    OMP_NUM_THREADS=1 python benchmarks/backmap_temporal_adp.py --sequence AA \
        --store /tmp/cgkit_aa_100fs.h5 --out /tmp/vae_aa_png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase.data import atomic_masses, atomic_numbers

import cgkit.data
from cgkit.backmap.temporal import (
    LibraryBackmapper,
    TemporalVAEBackmapper,
    TemporalVAEConfig,
)
from cgkit.backmap.temporal import metrics as tm
from cgkit.backmap.temporal.cg_trajectory import perturbed_cg_trajectory
from cgkit.backmap.temporal.openmm_energy import peptide_force_field
from cgkit.sampling.openmm_md import capped_peptide, simulate_peptide


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequence", default="A", help="residues between the ACE and NME caps")
    p.add_argument("--store", default="/tmp/cgkit_adp_100fs.h5")
    p.add_argument("--n-frames", type=int, default=40000, help="frames to simulate if needed")
    p.add_argument("--interval-fs", type=float, default=100.0, help="frame interval if simulated")
    p.add_argument("--train-fraction", type=float, default=0.8)
    p.add_argument("--segment", type=int, default=200, help="frames per held-out segment")
    p.add_argument("--n-segments", type=int, default=3)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--resolution", type=int, default=8)
    p.add_argument("--length", type=float, default=10.0)
    p.add_argument("--sigma-sq", type=float, default=1.5)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--latent-dim", type=int, default=8)
    p.add_argument("--beta", type=float, default=1e-4)
    p.add_argument("--previous-noise", type=float, default=0.2, help="Å, training only")
    p.add_argument("--energy-weight", type=float, default=0.3)
    p.add_argument("--energy-mode", choices=("min", "match"), default="match")
    p.add_argument("--cg-weight", type=float, default=10.0)
    p.add_argument("--distance-weight", type=float, default=1.0)
    p.add_argument("--cg-md-frames", type=int, default=600, help="0: no CG-MD input")
    p.add_argument("--dihedral-scale", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="directory for PNGs and the model")
    return p.parse_args()


def plot(out: Path, results: dict, symbols, interval_fs: float, tag: str = "") -> None:
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
        ax.set_xlabel(f"|r(t) - r(t - {interval_fs:g} fs)| of {element} (Å)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / f"displacements{tag}.png", dpi=120)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in names:
        ax.hist(results[name]["energy"], bins=60, density=True, histtype="step", label=name)
    ax.set_xlabel("potential energy (eV)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"energy{tag}.png", dpi=120)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4))
    for ax, name in zip(axes, names, strict=True):
        ax.hist2d(*results[name]["phi_psi"].T, bins=60, range=[[-180, 180], [-180, 180]])
        ax.set_title(name)
        ax.set_xlabel("phi (deg)")
        ax.set_ylabel("psi (deg)")
    fig.tight_layout()
    fig.savefig(out / f"ramachandran{tag}.png", dpi=120)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in names:
        ax.hist(results[name]["bonds"].ravel(), bins=120, range=(0.8, 1.8), density=True,
                histtype="step", label=name)  # fmt: skip
    ax.set_xlabel("bond length (Å)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"bonds{tag}.png", dpi=120)
    plt.close("all")


def measure(frames, seg_ids, energy, structure, lag: int = 1) -> dict:
    """Displacements (P, N), energies (F,) eV, phi/psi (F * residues, 2) deg, bonds (F, K)."""
    quads = structure.phi_psi.reshape(-1, 4)
    return {
        "displacements": tm.displacements(frames, lag, seg_ids),
        "energy": energy.energies_and_forces(frames)[0],
        "phi_psi": tm.dihedrals(frames, quads).reshape(-1, 2),
        "bonds": tm.bond_lengths(frames, structure.bonds),
    }


def report(results: dict, symbols, cgmap, beads: dict, title: str) -> dict:
    """Print the JS table of the candidates against ``results["reference"]``."""
    ref = results["reference"]
    names = [n for n in results if n != "reference"]
    e_bins = np.linspace(np.percentile(ref["energy"], 0.5) - 0.2,
                         np.percentile(ref["energy"], 99.5) + 0.2, 61)  # fmt: skip
    e_bins = np.concatenate([[-np.inf], e_bins, [np.inf]])
    b_bins = np.concatenate([[0.0], np.linspace(0.9, 1.7, 81), [np.inf]])
    js = {}
    for name in names:
        r = results[name]
        js[name] = {
            "displacement": tm.displacement_js(ref["displacements"], r["displacements"], symbols),
            "energy": tm.histogram_js(ref["energy"], r["energy"], e_bins),
            "rama": tm.ramachandran_scores(ref["phi_psi"], r["phi_psi"]),
            "bonds": tm.histogram_js(ref["bonds"], r["bonds"], b_bins),
            "cg": tm.cg_consistency_rmsd(r["frames"], cgmap.weights, beads[name]),
        }
    print()
    print(title)
    print(f"{'metric':38s} " + " ".join(f"{n:>10s}" for n in names))
    for key in js[names[0]]["displacement"]:
        print(f"{'JS displacement ' + key:38s} "
              + " ".join(f"{js[n]['displacement'][key]:10.4f}" for n in names))  # fmt: skip
    for key, label in (("energy", "JS potential energy"), ("bonds", "JS bond lengths")):
        print(f"{label:38s} " + " ".join(f"{js[n][key]:10.4f}" for n in names))
    for key in ("js", "overlap"):
        print(f"{'phi/psi histogram ' + key:38s} "
              + " ".join(f"{js[n]['rama'][key]:10.4f}" for n in names))  # fmt: skip
    label = f"mean displacement (Å) [ref {ref['displacements'].mean():.3f}]"
    print(f"{label:38s} "
          + " ".join(f"{results[n]['displacements'].mean():10.3f}" for n in names))  # fmt: skip
    label = f"median energy (eV) [ref {np.median(ref['energy']):.3f}]"
    print(f"{label:38s} " + " ".join(f"{np.median(results[n]['energy']):10.3f}" for n in names))
    print(f"{'CG consistency RMSD (Å)':38s} " + " ".join(f"{js[n]['cg']:10.4f}" for n in names))
    return js


def main() -> int:
    args = parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    if not Path(args.store).exists():
        print(f"simulating {args.n_frames} frames ({args.interval_fs} fs apart) into {args.store}")
        simulate_peptide(args.store, args.sequence, n_frames=args.n_frames, seed=args.seed,
                         interval_fs=args.interval_fs)  # fmt: skip
    with cgkit.data.open(args.store) as store:
        (name,) = store.system_names
        system = store[name]
        positions = system.read_positions()
        interval_fs = float(np.median(np.diff(system.read_time()[:100])))
        cgmap = system.maps["backbone"]
        symbols = system.symbols
    structure = capped_peptide(args.sequence)
    # the reference MD constrains bonds to hydrogen (HBonds): so do the generated frames
    energy, constraints = peptide_force_field(structure.topology)
    n_train = int(args.train_fraction * len(positions))
    train, test = positions[:n_train], positions[n_train:]
    print(f"{name}: {len(positions)} frames {interval_fs:g} fs apart: {n_train} train, "
          f"{len(test)} held out ({args.n_segments} segments of {args.segment})")  # fmt: skip

    config = TemporalVAEConfig(
        resolution=args.resolution, length=args.length, sigma_sq=args.sigma_sq,
        channels=args.channels, latent_dim=args.latent_dim, n_steps=args.steps,
        batch_size=args.batch_size, beta=args.beta, energy_weight=args.energy_weight,
        energy_mode=args.energy_mode, previous_noise=args.previous_noise,
        cg_weight=args.cg_weight, distance_weight=args.distance_weight,
        seed=args.seed, library_size=None,
    )  # fmt: skip
    print("config:", json.dumps(config.__dict__))
    t = time.time()
    model = TemporalVAEBackmapper(config, energy=energy).fit(train, cgmap, constraints=constraints)
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

    results = {
        name: {"frames": frames, **measure(frames, seg_ids, energy, structure)}
        for name, frames in (("reference", reference), ("vae", vae), ("library", lib))
    }
    js = report(results, symbols, cgmap, {"vae": beads, "library": beads},
                f"held-out AA trajectory mapped to CG ({len(reference)} frames)")  # fmt: skip
    cg_raw = tm.cg_consistency_rmsd(raw, cgmap.weights, cgmap.map_positions(segments[0]))
    print(f"{'CG consistency RMSD, raw VAE (Å)':38s} {cg_raw:10.4f}")
    ratio = js["vae"]["displacement"]["all"] / max(js["library"]["displacement"]["all"], 1e-12)
    cg_vae = js["vae"]["cg"]
    print()
    print(
        f"goal JS(displacement) VAE <= 0.5 library: ratio {ratio:.3f} "
        f"{'MET' if ratio <= 0.5 else 'NOT MET'}"
    )
    print(f"goal CG consistency < 0.05 Å: {cg_vae:.4f} {'MET' if cg_vae < 0.05 else 'NOT MET'}"
          f" (raw generator output {cg_raw:.3f} Å)")  # fmt: skip

    cg_results = None
    if args.cg_md_frames > 0:
        t = time.time()
        # each bead carries the mass of the atoms that follow it (its backbone atom, its
        # hydrogens and side/cap groups), so its inertia is that of its part of the molecule
        atom_masses = atomic_masses[[atomic_numbers[x] for x in symbols]]
        masses = np.bincount(model.atom_to_bead_, weights=atom_masses, minlength=cgmap.n_beads)
        cg_md = perturbed_cg_trajectory(
            cgmap.map_positions(train), cgmap, masses, args.cg_md_frames, interval_fs,
            dihedral_scale=args.dihedral_scale, seed=args.seed,
        )  # fmt: skip
        print(f"\nCG MD ({args.cg_md_frames} frames, dihedral tables x {args.dihedral_scale}): "
              f"{time.time() - t:.0f} s")  # fmt: skip
        cg_ids = np.zeros(len(cg_md), dtype=int)
        cg_results = {"reference": results["reference"]}
        for label, frames in (("vae", model.backmap_trajectory(cg_md, seed=args.seed)),
                              ("library", library.backmap(cg_md))):  # fmt: skip
            cg_results[label] = {"frames": frames, **measure(frames, cg_ids, energy, structure)}
        report(cg_results, symbols, cgmap, {"vae": cg_md, "library": cg_md},
               "CG MD input (never all-atom), against the AA reference distributions")  # fmt: skip
    if args.out:
        out = Path(args.out)
        plot(out, results, symbols, interval_fs)
        if cg_results is not None:
            plot(out, cg_results, symbols, interval_fs, tag="_cg_md")
        model.save(out / f"temporal_vae_{name}.pt")
        print(f"plots and model in {out}")
    print(f"total wall time {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
