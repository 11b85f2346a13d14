"""IBI of a CGMap against mapped AA frames: topology, non-redundant tables, IBI, figures.

The one-call path used by ``cgkit ibi`` and ``benchmarks/ibi_bithiophene.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from cgkit.ibi.iterate import IterativeBoltzmannInversion
from cgkit.ibi.topology import cg_interactions, independent_interactions, stiffest_first


def map_interactions(cgmap, bead_positions: np.ndarray, pairs: bool = False):
    """Interactions of a map's CG topology, split into independent and redundant sets.

    Parameters
    ----------
    cgmap : cgkit.mapping.CGMap
        Needs ``bead_bonds``; angles and dihedrals are used when the map has them.
    bead_positions : ndarray, shape (F, M, 3), Å
        Mapped AA frames (decide the order and the redundancy test).
    pairs : bool
        Add a non-bonded pair table for beads more than 3 bonds apart.

    Returns
    -------
    independent, redundant : lists of InteractionSet
    """
    if cgmap.bead_bonds is None or len(cgmap.bead_bonds) == 0:
        raise ValueError("the map has no bead bonds; give a map with a CG topology")
    interactions = cg_interactions(
        cgmap.n_beads, cgmap.bead_bonds, cgmap.bead_angles, cgmap.bead_dihedrals, pairs=pairs
    )
    ordered = stiffest_first(bead_positions, interactions)
    step = max(1, len(bead_positions) // 20)
    return independent_interactions(bead_positions[::step], ordered)


def run_ibi(
    cgmap,
    bead_positions: np.ndarray,
    ibi: IterativeBoltzmannInversion,
    out_dir=None,
    pairs: bool = False,
    report: Callable[[str], None] | None = None,
) -> IterativeBoltzmannInversion:
    """Fit ``ibi`` to the mapped frames, writing a PNG per iteration and the final tables.

    Independent interactions start from Boltzmann inversion, redundant ones from a flat
    table (both receive IBI updates).

    Parameters
    ----------
    cgmap : cgkit.mapping.CGMap
    bead_positions : ndarray, shape (F, M, 3), Å
    ibi : IterativeBoltzmannInversion
        Unfitted estimator holding the hyperparameters.
    out_dir : str or Path, optional
        Receives ``iteration_XX.png`` and ``potentials.json``.
    report : callable, optional
        Receives one line of progress text per iteration.

    Returns
    -------
    the fitted ``ibi``
    """
    from cgkit.ibi.plots import plot_distributions

    bead_masses = cgmap.bead_masses
    if bead_masses is None:
        raise ValueError("the map has no masses; bead masses are needed for CG MD")
    independent, redundant = map_interactions(cgmap, bead_positions, pairs=pairs)
    if report is not None:
        report(
            f"{len(independent)} independent + {len(redundant)} redundant interactions "
            f"for {cgmap.n_beads} beads"
        )
    out_dir = Path(out_dir) if out_dir is not None else None

    def progress(entry: dict) -> None:
        js = entry["js"]
        worst = max(js, key=js.get)
        if report is not None:
            report(
                f"iteration {entry['iteration']:2d}: max JS {js[worst]:.4f} ({worst}), "
                f"median {np.median(list(js.values())):.4f}, {entry['seconds']:.1f} s, "
                f"{entry['ms_per_step']:.2f} ms/step"
            )
        if out_dir is not None:
            plot_distributions(
                ibi.grids_,
                ibi.targets_,
                entry["densities"],
                js,
                out_dir / f"iteration_{entry['iteration']:02d}.png",
                title=f"IBI iteration {entry['iteration']}",
            )

    ibi.fit(bead_positions, independent, bead_masses, redundant=redundant, progress=progress)
    if out_dir is not None:
        ibi.calculator_.write(out_dir / "potentials.json")
    return ibi
