"""Structural comparison of backmapped and reference all-atom configurations.

Distributions of selected bonded degrees of freedom, per-molecule Lennard-Jones energies
and radial distribution functions, their Jensen-Shannon divergences to a reference, and
counts of atom pairs closer than a fraction of their LJ sigma (clashes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cgkit._divergence import js_divergence as _js_divergence
from cgkit.backmap.energy import bond_angles, dihedral_angles, lj_pair_energies, lj_pairs
from cgkit.mapping.pbc import minimum_image


def _cell(atoms):
    return atoms.cell.array if atoms.pbc.any() else None


def select_terms(topology, kind: str, types) -> np.ndarray:
    """Rows of ``topology`` angles (``kind="angle"``), proper (``"proper"``) or improper
    (``"improper"``) dihedrals whose atom types equal ``types`` (either direction)."""
    if kind == "angle":
        index = topology.angles
    else:
        func = {"proper": 1, "improper": 2}[kind]
        index = topology.dihedrals[topology.dihedral_funcs == func]
    types = tuple(types)
    keep = [tuple(topology.atom_types[a] for a in row) in (types, types[::-1]) for row in index]
    return index[np.asarray(keep, dtype=bool)]


def term_values(atoms, index, kind: str = "angle") -> np.ndarray:
    """Angles (``kind="angle"``, index (K, 3)) or dihedrals (index (K, 4)) in degrees,
    minimum image in the cell of ``atoms``."""
    cell = _cell(atoms)
    pos = torch.tensor(atoms.positions, dtype=torch.float64)[None]
    cell_t = None if cell is None else torch.tensor(cell)
    idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
    values = bond_angles(pos, idx, cell_t) if kind == "angle" else dihedral_angles(pos, idx, cell_t)
    return np.degrees(values[0].numpy())


def _pairs(atoms, topology, cutoff):
    return lj_pairs(atoms.positions, topology.excluded_pairs(), cutoff, _cell(atoms), atoms.pbc)


def per_molecule_lj(atoms, topology, forcefield, cutoff: float = 10.0) -> np.ndarray:
    """LJ energy per molecule (eV), inter-molecular pairs split half and half.

    Returns
    -------
    ndarray (n_molecules,)
    """
    pairs = _pairs(atoms, topology, cutoff)
    types = topology.atom_types
    sig = np.array([forcefield.atom_types[t].sigma for t in types])
    eps = np.array([forcefield.atom_types[t].epsilon for t in types])
    i, j = pairs[:, 0], pairs[:, 1]
    cell = _cell(atoms)
    energy = lj_pair_energies(
        torch.tensor(atoms.positions)[None], torch.as_tensor(pairs),
        torch.tensor(0.5 * (sig[i] + sig[j])), torch.tensor(np.sqrt(eps[i] * eps[j])),
        None if cell is None else torch.tensor(cell),
    )[0].numpy()  # fmt: skip
    mol = topology.molecule_index
    out = np.zeros(mol.max() + 1)
    np.add.at(out, mol[i], 0.5 * energy)
    np.add.at(out, mol[j], 0.5 * energy)
    return out


def close_contact_pairs(positions, sigma, excluded, factor: float = 0.7, cell=None,
                        pbc=None) -> np.ndarray:  # fmt: skip
    """Non-excluded atom pairs ``(P, 2)`` closer than ``factor`` times their LJ sigma.

    Parameters
    ----------
    positions : ndarray (N, 3), Å
    sigma : ndarray (N,), Å        LJ sigma of every atom (pairs use the arithmetic mean)
    excluded : ndarray (E, 2)      non-bonded exclusions (``Topology.excluded_pairs()``)
    factor : float
    cell : ndarray (3, 3) or None; pbc : bool or (3,) bools
    """
    positions, sigma = np.asarray(positions, dtype=float), np.asarray(sigma, dtype=float)
    pairs = lj_pairs(positions, excluded, factor * sigma.max(), cell, pbc)
    i, j = pairs[:, 0], pairs[:, 1]
    d = _shortest(positions[j] - positions[i], cell, pbc)
    return pairs[np.linalg.norm(d, axis=1) < factor * 0.5 * (sigma[i] + sigma[j])]


def _shortest(displacements, cell, pbc=None):
    """Shortest periodic images (K, 3) Å (exact in skewed cells, periodic axes only)."""
    if cell is None or not len(displacements):
        return displacements
    pbc = True if pbc is None else pbc
    return minimum_image(displacements[None], np.asarray(cell, dtype=float), pbc)[0]


def close_contacts(atoms, topology, forcefield, factor: float = 0.7) -> int:
    """Number of non-excluded atom pairs closer than ``factor`` times their LJ sigma."""
    sigma = np.array([forcefield.atom_types[t].sigma for t in topology.atom_types])
    pairs = close_contact_pairs(atoms.positions, sigma, topology.excluded_pairs(), factor,
                                _cell(atoms), atoms.pbc)  # fmt: skip
    return len(pairs)


def nonbonded_rdf(atoms, topology, types=("C", "C_AR"), r_max=10.0, n_bins=100):
    """RDF g(r) of non-excluded pairs of atoms whose type is in ``types``.

    Returns
    -------
    r : ndarray (n_bins,) bin centres, Å;  g : ndarray (n_bins,)
    """
    pairs = _pairs(atoms, topology, r_max)
    chosen = np.isin(np.asarray(topology.atom_types), list(types))
    pairs = pairs[chosen[pairs[:, 0]] & chosen[pairs[:, 1]]]
    cell = _cell(atoms)
    d = _shortest(atoms.positions[pairs[:, 1]] - atoms.positions[pairs[:, 0]], cell, atoms.pbc)
    edges = np.linspace(0.0, r_max, n_bins + 1)
    counts, _ = np.histogram(np.linalg.norm(d, axis=1), edges)
    n = int(chosen.sum())
    volume = abs(np.linalg.det(cell)) if cell is not None else 1.0
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    g = counts / (0.5 * n * (n / volume) * shell)
    return 0.5 * (edges[1:] + edges[:-1]), g


def js_divergence(p, q) -> float:
    """Jensen-Shannon divergence (natural log, in [0, ln 2]) of two histograms."""
    return _js_divergence(p, q, base=np.e)


QUANTITIES = {
    "backbone_angle": ("angle", ("C", "C", "C"), np.linspace(60, 180, 61)),
    "backbone_dihedral": ("proper", ("C", "C", "C", "C"), np.linspace(-180, 180, 73)),
    "phenyl_improper": ("improper", None, np.linspace(-60, 60, 61)),
}


def compare_structures(structures: dict, topology, forcefield, lj_bins=None) -> dict:
    """Distributions and JS divergences to ``structures["reference"]``.

    Parameters
    ----------
    structures : dict name -> list of ase.Atoms
        Must contain ``"reference"``; the others are compared to it.

    Returns
    -------
    dict with ``histograms`` {quantity: {name: (edges, counts)}}, ``rdf`` {name: (r, g)},
    ``js`` {name: {quantity: float}} and ``close_contacts`` {name: list of int}.
    """
    hist: dict = {}
    samples: dict = {}
    for quantity, (kind, types, _edges) in QUANTITIES.items():
        if types is None:
            index = topology.dihedrals[topology.dihedral_funcs == 2]
        else:
            index = select_terms(topology, kind, types)
        kind_v = "angle" if kind == "angle" else "dihedral"
        for name, frames in structures.items():
            values = np.concatenate([term_values(a, index, kind_v) for a in frames])
            samples.setdefault(quantity, {})[name] = values
    lj = {name: np.concatenate([per_molecule_lj(a, topology, forcefield) for a in frames])
          for name, frames in structures.items()}  # fmt: skip
    ref_lj = lj["reference"]
    lj_edges = np.linspace(ref_lj.min() - 2 * ref_lj.std(), ref_lj.max() + 2 * ref_lj.std(), 31)
    samples["lj_per_chain"] = lj
    edges_of = {q: e for q, (_k, _t, e) in QUANTITIES.items()} | {"lj_per_chain": lj_edges}
    for quantity, per_name in samples.items():
        edges = edges_of[quantity]
        hist[quantity] = {
            name: (edges, np.histogram(np.clip(v, edges[0], edges[-1]), edges)[0])
            for name, v in per_name.items()
        }
    rdf = {}
    for name, frames in structures.items():
        curves = [nonbonded_rdf(a, topology) for a in frames]
        rdf[name] = (curves[0][0], np.mean([g for _r, g in curves], axis=0))
    js = {}
    for name in structures:
        if name == "reference":
            continue
        js[name] = {q: js_divergence(h[name][1] + 1e-12, h["reference"][1] + 1e-12)
                    for q, h in hist.items()}  # fmt: skip
        js[name]["rdf_nonbonded_carbons"] = js_divergence(rdf[name][1] + 1e-12,
                                                          rdf["reference"][1] + 1e-12)  # fmt: skip
    contacts = {name: [close_contacts(a, topology, forcefield) for a in frames]
                for name, frames in structures.items()}  # fmt: skip
    return {"histograms": hist, "rdf": rdf, "js": js, "close_contacts": contacts}


def plot_comparison(results: dict, out_dir) -> list[Path]:
    """One PNG per quantity in ``out_dir``; returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for quantity, per_name in results["histograms"].items():
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for name, (edges, counts) in per_name.items():
            centres = 0.5 * (edges[1:] + edges[:-1])
            ax.plot(centres, counts / max(1, counts.sum()), label=name)
        ax.set_xlabel(quantity)
        ax.set_ylabel("probability")
        ax.legend()
        fig.tight_layout()
        written.append(out_dir / f"{quantity}.png")
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, (r, g) in results["rdf"].items():
        ax.plot(r, g, label=name)
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r), non-bonded carbons")
    ax.legend()
    fig.tight_layout()
    written.append(out_dir / "rdf_nonbonded_carbons.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written
