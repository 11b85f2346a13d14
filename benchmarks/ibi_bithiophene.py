"""IBI acceptance benchmark: 8-bead propyl-bithiophene map against the mapped DFT-set frames.

Prints the per-interaction Jensen-Shannon divergence (bits) of the CG MD distributions of
the best iteration against the mapped AA ones (goal <= 0.02 each), the IBI history and
timings (force-field call, ms per MD step). PNGs of every iteration go to ``--out``.
CG MD runs ``--chains`` non-interacting copies of the molecule in one ASE system, started
from AA frames spread over the data set. The final tables are then validated by a fresh
CG MD whose copies all start from frame 0 (``validation.png``), so populations cannot be
inherited from the starting frames. Example (3-8 min on one core, depending on load)::

    OMP_NUM_THREADS=1 python benchmarks/ibi_bithiophene.py --out /tmp/ibi_bt

``--store`` runs the same on a GFN2-xTB store of ``datasets/bithiophene.toml`` (``cgkit
build datasets/bithiophene.toml -o bt.h5``) with one of its maps (``--map``, default
8bead); the recipe's maps carry no bonds, so the bead topology comes from the bonds of
the recipe's SMILES (RDKit atom order, the order the recipe's frames use). Its beads of
one carbon (12 amu) on stiff aromatic bonds need a 1 fs CG timestep (at 2 fs the CG MD
runs hot: the distributions come out far too wide, angles about twice, and IBI
diverges)::

    OMP_NUM_THREADS=1 python benchmarks/ibi_bithiophene.py --store bt.h5 \\
        --timestep 1.0 --steps 16000 --out /tmp/ibi_xtb
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from ase import Atoms

from cgkit.calculators.tabulated import TabulatedCGCalculator
from cgkit.ibi import (
    IterativeBoltzmannInversion,
    histogram_density,
    js_divergence,
    map_interactions,
    run_cg_md,
    run_ibi,
)
from cgkit.ibi.iterate import replicate
from cgkit.ibi.plots import plot_distributions
from cgkit.ibi.topology import sample_values
from cgkit.mapping import CGMap

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "bithiophene_dft"
DEFAULT_RECIPE = ROOT / "datasets" / "bithiophene.toml"


def smiles_atom_bonds(smiles: str) -> np.ndarray:
    """Atom bonds (K, 2) of a SMILES with explicit hydrogens, in RDKit's atom order."""
    from rdkit import Chem

    molecule = Chem.AddHs(Chem.MolFromSmiles(smiles))
    return np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in molecule.GetBonds()])


def load_store(store_path: Path, map_name: str, recipe_path: Path):
    """(cgmap with a bead topology, mapped frames (F, M, 3) Å) of a recipe's xTB store."""
    import cgkit.data
    from cgkit.sampling.recipe import Recipe

    recipe = Recipe.read(recipe_path)
    with cgkit.data.open(store_path) as store:
        system = store[recipe.name]
        positions = system.read_positions()
        stored = system.maps[map_name]
        masses = system.masses
    cgmap = stored
    if stored.bead_bonds is None:
        cgmap = CGMap(
            stored.weights,
            masses=masses,
            bead_names=stored.bead_names,
            atom_bonds=smiles_atom_bonds(recipe.molecule.smiles),
        )
    return cgmap, cgmap.map_positions(positions)


def validate(ibi, cgmap, start_frame, interactions, args) -> dict:
    """JS per interaction of a fresh CG MD of the final tables, every copy from one frame."""
    copies = args.validation_chains
    start = Atoms(
        f"X{cgmap.n_beads * copies}",
        positions=np.tile(start_frame, (copies, 1)),
        masses=np.tile(cgmap.bead_masses, copies),
    )
    calculator = TabulatedCGCalculator(replicate(ibi.potentials_, cgmap.n_beads, copies))
    trajectory = run_cg_md(
        start,
        calculator,
        300.0,
        args.validation_steps,
        args.timestep,
        equilibration=5000,
        seed=12345,
    ).reshape(-1, cgmap.n_beads, 3)
    densities, js = {}, {}
    for interaction in interactions:
        grid = ibi.grids_[interaction.name]
        values = sample_values(trajectory, interaction)
        if interaction.kind != "dihedral":
            half = 0.5 * (grid[1] - grid[0])
            values = values[(values >= grid[0] - half) & (values <= grid[-1] + half)]
        densities[interaction.name] = histogram_density(values, grid, interaction.kind)
        js[interaction.name] = js_divergence(
            densities[interaction.name], ibi.targets_[interaction.name]
        )
    plot_distributions(
        ibi.grids_,
        ibi.targets_,
        densities,
        js,
        args.out / "validation.png",
        title="validation: fresh CG MD of the final tables",
    )
    return js


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--beads", type=int, default=8)
    parser.add_argument("--store", type=Path, help="GFN2-xTB store of the recipe (not --data)")
    parser.add_argument("--map", default="8bead", help="map of --store")
    parser.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE, help="recipe of --store")
    parser.add_argument("--out", type=Path, default=Path("/tmp/ibi_bithiophene"))
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--chains", type=int, default=50)
    parser.add_argument("--equilibration", type=int, default=300)
    parser.add_argument("--timestep", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--smoothing", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=0.01, help="stop at this max JS")
    parser.add_argument("--validation-chains", type=int, default=20)
    parser.add_argument("--validation-steps", type=int, default=100000)
    args = parser.parse_args()

    if args.store is not None:
        cgmap, bead_positions = load_store(args.store, args.map, args.recipe)
    else:
        cgmap = CGMap.read(args.data / "maps" / f"{args.beads}_bead.map")
        with np.load(args.data / "train.npz") as data:
            bead_positions = cgmap.map_positions(data["positions"])
    print(f"{len(bead_positions)} mapped frames, {cgmap.n_beads} beads, masses {cgmap.bead_masses}")
    ibi = IterativeBoltzmannInversion(
        temperature=300.0,
        n_iterations=args.iterations,
        md_steps=args.steps,
        equilibration=args.equilibration,
        timestep=args.timestep,
        n_chains=args.chains,
        alpha=args.alpha,
        smoothing=args.smoothing,
        tolerance=args.tolerance,
    )
    tic = time.perf_counter()
    run_ibi(cgmap, bead_positions, ibi, out_dir=args.out, report=print)
    total = time.perf_counter() - tic

    force_field = ibi.calculator_.force_field
    n_calls = 2000
    start = time.perf_counter()
    for _ in range(n_calls):
        force_field.energy_and_forces(bead_positions[0])
    per_call = (time.perf_counter() - start) / n_calls

    molecule = Atoms(f"X{cgmap.n_beads}", positions=bead_positions[0], masses=cgmap.bead_masses)
    start = time.perf_counter()
    run_cg_md(molecule, ibi.calculator_, 300.0, 2000, timestep=args.timestep)
    single_ms = (time.perf_counter() - start) / 2000 * 1e3

    independent, redundant = map_interactions(cgmap, bead_positions)
    validation = validate(ibi, cgmap, bead_positions[0], independent + redundant, args)
    best = ibi.history_[ibi.best_iteration_]
    names = {i.name for i in independent}
    print(f"\nbest iteration {ibi.best_iteration_} (converged: {ibi.converged_})")
    print(
        f"validation: {args.validation_chains} copies all started from frame 0, "
        f"{args.validation_steps} steps ({args.validation_steps * args.timestep / 1e3:.0f} ps) "
        "each after 5000 equilibration steps"
    )
    print(f"{'interaction':<20} {'start':>6} {'JS IBI':>8} {'L1 IBI':>7} {'JS valid.':>10}")
    for name in ibi.targets_:
        print(
            f"{name:<20} {'BI' if name in names else 'flat':>6} {best['js'][name]:8.4f} "
            f"{best['l1'][name]:7.3f} {validation[name]:10.4f}"
        )
    for label, values in (("IBI", best["js"]), ("validation", validation)):
        js = np.array(list(values.values()))
        print(
            f"JS {label}: max {js.max():.4f}, median {np.median(js):.4f}, "
            f"{np.sum(js <= 0.02)}/{len(js)} <= 0.02"
        )
    print(
        f"force field: {1e6 * per_call:.0f} us/call ({len(ibi.potentials_)} tables); "
        f"one molecule {single_ms:.2f} ms/MD step (ASE Langevin); "
        f"{args.chains} copies {np.mean([h['ms_per_step'] for h in ibi.history_]):.2f} ms/step; "
        f"total {total / 60:.1f} min; PNGs in {args.out}"
    )


if __name__ == "__main__":
    main()
