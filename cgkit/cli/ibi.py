"""``cgkit ibi``: iterative Boltzmann inversion of CG potentials for a mapped AA ensemble.

Inputs: a :mod:`cgkit.data` store (``.h5``/``.zarr``) with ``--map NAME`` stored in it, or
an ``.npz`` with ``positions`` (F, N, 3) Å and ``--map`` a map file (``.map``/``.json``).
Writes one PNG of target vs CG distributions per iteration and ``potentials.json`` (the
tables of :class:`cgkit.calculators.TabulatedCGCalculator`) to ``--out``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cgkit.cli import CLIError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ibi",
        help="fit tabulated CG bonded potentials by iterative Boltzmann inversion",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("source", help="store (.h5/.zarr) or .npz with positions (Å)")
    parser.add_argument(
        "--map", required=True, help="map name in the store, or a map file for an npz"
    )
    parser.add_argument("--system", help="store system (when several have the map)")
    parser.add_argument("--out", required=True, type=Path, help="folder for PNGs and tables")
    parser.add_argument("--max-frames", type=int, default=10000, help="use at most this many")
    parser.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--steps", type=int, default=8000, help="CG MD steps per iteration")
    parser.add_argument("--chains", type=int, default=50, help="molecule copies simulated together")
    parser.add_argument("--equilibration", type=int, default=300, help="steps per chain")
    parser.add_argument(
        "--timestep",
        type=float,
        default=1.0,
        help="CG MD step, fs (default 1: maps with single-carbon beads on ring bonds diverge at 2)",
    )
    parser.add_argument("--alpha", type=float, default=0.3, help="IBI damping (default 0.3)")
    parser.add_argument(
        "--smoothing", type=int, default=1, help="running-mean passes over each update"
    )
    parser.add_argument("--tolerance", type=float, default=0.02, help="JS divergence, bits")
    parser.add_argument("--pairs", action="store_true", help="add non-bonded pair tables")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run)


def _load(args):
    """(cgmap, bead_positions (F, M, 3) Å) from a store or an npz + map file."""
    from cgkit.mapping import CGMap

    source = Path(args.source)
    if not source.exists():
        raise CLIError(f"{source}: no such file or store")
    if source.suffix == ".npz":
        map_path = Path(args.map)
        if not map_path.exists():
            raise CLIError(f"{map_path}: map file not found (an npz needs a map file)")
        cgmap = CGMap.read(map_path)
        with np.load(source) as data:
            if "positions" not in data.files:
                raise CLIError(f"{source}: no 'positions' array (have {data.files})")
            positions = np.asarray(data["positions"], float)
        if positions.ndim != 3 or positions.shape[1:] != (cgmap.n_atoms, 3):
            raise CLIError(
                f"{source}: positions {positions.shape} do not fit the map's {cgmap.n_atoms} atoms"
            )
        stride = max(1, int(np.ceil(len(positions) / args.max_frames)))
        return cgmap, cgmap.map_positions(positions[::stride])
    import cgkit.data

    with cgkit.data.open(source) as store:
        try:
            view = store.cg(args.map, system=args.system)
        except KeyError as exc:
            raise CLIError(str(exc.args[0] if exc.args else exc)) from None
        stride = max(1, int(np.ceil(view.n_frames / args.max_frames)))
        return view.cgmap, view.bead_positions(np.arange(0, view.n_frames, stride))


def run(args) -> int:
    from cgkit.ibi import IterativeBoltzmannInversion, run_ibi

    cgmap, bead_positions = _load(args)
    if len(bead_positions) < 10:
        raise CLIError(f"{args.source}: {len(bead_positions)} frames; IBI needs at least 10")
    print(f"{len(bead_positions)} mapped frames, {cgmap.n_beads} beads", flush=True)
    ibi = IterativeBoltzmannInversion(
        temperature=args.temperature,
        n_iterations=args.iterations,
        md_steps=args.steps,
        equilibration=args.equilibration,
        timestep=args.timestep,
        n_chains=args.chains,
        alpha=args.alpha,
        smoothing=args.smoothing,
        tolerance=args.tolerance,
        seed=args.seed,
    )
    try:
        run_ibi(
            cgmap,
            bead_positions,
            ibi,
            out_dir=args.out,
            pairs=args.pairs,
            report=lambda line: print(line, flush=True),
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    best = ibi.history_[ibi.best_iteration_]
    state = "converged" if ibi.converged_ else "not converged"
    print(
        f"best iteration {ibi.best_iteration_} ({state}): max JS "
        f"{max(best['js'].values()):.4f}; tables in {args.out / 'potentials.json'}"
    )
    return 0
