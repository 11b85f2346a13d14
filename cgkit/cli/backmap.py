"""``cgkit backmap train|apply``: DBM backmapping from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``backmap`` subcommand with ``train`` and ``apply``."""
    parser = subparsers.add_parser(
        "backmap",
        help="train or apply a DBM backmapper (CG -> all-atom)",
        description="Deep backmapping (Stieffenhofer et al. 2020) of CG configurations.",
    )
    sub = parser.add_subparsers(dest="backmap_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="train on paired all-atom / CG frames")
    train.add_argument("--method", choices=["dbm", "temporal-vae"], default="dbm")
    train.add_argument("--topology", help="dbm: all-atom GROMACS .itp of one molecule")
    train.add_argument("--n-molecules", type=int, default=1, help="copies of the molecule")
    train.add_argument("--forcefield", help="dbm: DBM ff.txt")
    train.add_argument("--map", required=True, help="CG map (cgkit JSON, DKL-ECG or DBM .map)")
    train.add_argument("--placement-map", help="map assigning each atom to one bead (optional)")
    train.add_argument("--aa", nargs="+", help="dbm: all-atom frames (any ASE format)")
    train.add_argument("--store", help="temporal-vae: store holding the all-atom trajectory")
    train.add_argument("--system", help="temporal-vae: system in --store (default: the first)")
    train.add_argument("--lag", type=int, default=1, help="temporal-vae: conditioning lag")
    train.add_argument(
        "--sequence",
        help="temporal-vae: one-letter residues of the ACE-...-NME peptide (default: from the "
        "store's provenance); enables the force-field energy term and H-bond constraints",
    )
    train.add_argument("--steps", type=int, default=2000, help="temporal-vae: training steps")
    train.add_argument("--cg", nargs="+", help="matching CG frames (default: mapped from --aa)")
    train.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--max-batches", type=int, default=None)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--width", type=int, default=16, help="generator/critic filters")
    train.add_argument(
        "--bond-stiffness",
        type=float,
        default=1.0,
        help="dbm: factor on the ff bond constants in the prior and candidate selection "
        "(100 for force fields whose bonds the reference MD constrains, e.g. the sPS table)",
    )
    train.add_argument(
        "--gibbs-fraction", type=float, default=0.5, help="dbm: share of Gibbs training batches"
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="cpu")
    train.add_argument("--no-progress", action="store_true", help="hide progress bars")
    train.set_defaults(func=run_train)

    apply = sub.add_parser("apply", help="backmap CG frames with a trained model")
    apply.add_argument("model", help="model file written by 'cgkit backmap train'")
    apply.add_argument("--method", choices=["dbm", "temporal-vae"], default="dbm")
    apply.add_argument("--cg", nargs="+", required=True, help="CG frames (any ASE format)")
    apply.add_argument("-o", "--output", required=True, help="output directory")
    apply.add_argument("--format", default="extxyz", help="ASE output format (extxyz, gro, ...)")
    apply.add_argument("--n-gibbs", type=int, default=None)
    apply.add_argument("--n-candidates", type=int, default=None)
    apply.add_argument("--n-repair", type=int, default=None,
                       help="repair sweeps over beads left in close contact (0: none)")  # fmt: skip
    apply.add_argument("--relax-steps", type=int, default=0,
                       help="dbm: then N L-BFGS steps of the force field restrained to the "
                            "beads (0: DBM alone)")  # fmt: skip
    apply.add_argument(
        "--inference-dtype",
        choices=("auto", "float32", "bfloat16"),  # = networks.INFERENCE_DTYPES (no torch here)
        default=None,
        help="generator precision (default: the model's setting, 'auto')",
    )
    apply.add_argument("--seed", type=int, default=0)
    apply.add_argument("--device", default=None)
    apply.add_argument("--no-progress", action="store_true", help="hide progress bars")
    apply.set_defaults(func=run_apply)


def _map_for(path, n_atoms: int, what: str):
    from cgkit.cli import CLIError
    from cgkit.mapping import CGMap

    cgmap = CGMap.read(path)
    if cgmap.n_atoms != n_atoms and n_atoms % cgmap.n_atoms == 0:
        cgmap = cgmap.repeat(n_atoms // cgmap.n_atoms)
    if cgmap.n_atoms != n_atoms:
        raise CLIError(f"{what} {path} maps {cgmap.n_atoms} atoms, the system has {n_atoms}")
    return cgmap


def _read_frames(paths):
    from ase.io import read

    from cgkit.cli import CLIError

    frames = []
    for path in paths:
        if not Path(path).exists():
            raise CLIError(f"frame file not found: {path}")
        frames.append(read(path))
    return frames


def run_train(args: argparse.Namespace) -> int:
    """Train and save a DBM (or, with ``--method temporal-vae``, a temporal VAE) backmapper."""
    import numpy as np

    from cgkit.backmap import DBMBackmapper, DBMConfig, read_forcefield, read_itp
    from cgkit.cli import CLIError

    if args.method == "temporal-vae":
        from cgkit.cli._backmap_temporal import run_train as run_temporal

        return run_temporal(args)
    missing = [f"--{n}" for n in ("topology", "forcefield", "aa") if not getattr(args, n)]
    if missing:
        raise CLIError(f"--method dbm needs {', '.join(missing)}")

    topology = read_itp(args.topology).replicate(args.n_molecules)
    cgmap = _map_for(args.map, topology.n_atoms, "map")
    owner = None
    if args.placement_map:
        owner = np.asarray(_map_for(args.placement_map, topology.n_atoms, "placement map")
                           .weights).argmax(axis=0)  # fmt: skip
    aa = _read_frames(args.aa)
    if args.cg is not None and len(args.cg) != len(aa):
        raise CLIError(f"got {len(aa)} --aa frames but {len(args.cg)} --cg frames")
    data = list(zip(aa, _read_frames(args.cg), strict=True)) if args.cg else aa
    config = DBMConfig(n_epochs=args.epochs, max_batches=args.max_batches,
                       batch_size=args.batch_size, width=args.width, seed=args.seed,
                       bond_stiffness=args.bond_stiffness,
                       gibbs_fraction=args.gibbs_fraction)  # fmt: skip
    model = DBMBackmapper(read_forcefield(args.forcefield), config, device=args.device,
                          verbose=not args.no_progress)  # fmt: skip
    model.fit(data, topology, cgmap, atom_to_bead=owner)
    model.save(args.output)
    print(f"trained on {len(aa)} frames ({len(model.history_)} batches); wrote {args.output}")
    return 0


def run_apply(args: argparse.Namespace) -> int:
    """Backmap CG frames and write one all-atom file per frame."""
    from ase.io import write
    from tqdm.auto import tqdm

    from cgkit.backmap import DBMBackmapper, ForceFieldRelaxer, RelaxedBackmapper, RelaxStage

    if args.method == "temporal-vae":
        from cgkit.cli._backmap_temporal import run_apply as run_temporal

        return run_temporal(args)
    model = DBMBackmapper.load(args.model, device=args.device)
    if args.n_gibbs is not None:
        model.config.n_gibbs = args.n_gibbs
    if args.n_candidates is not None:
        model.config.n_candidates = args.n_candidates
    if args.inference_dtype is not None:
        model.config.inference_dtype = args.inference_dtype
    if args.n_repair is not None:
        model.config.n_repair = args.n_repair
    backmapper = model
    if args.relax_steps > 0:
        relaxer = ForceFieldRelaxer(model.forcefield, model.topology_, model.cgmap_,
                                    [RelaxStage("lbfgs", args.relax_steps)],
                                    bond_stiffness=model.config.bond_stiffness)  # fmt: skip
        backmapper = RelaxedBackmapper(model, relaxer)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    frames = _read_frames(args.cg)
    suffix = {"extxyz": "xyz", "gromacs": "gro"}.get(args.format, args.format)
    for i, cg in enumerate(tqdm(frames, desc="backmapping", disable=args.no_progress)):
        atoms = backmapper.transform(cg, seed=args.seed + i)
        write(out / f"{Path(args.cg[i]).stem}_aa.{suffix}", atoms, format=args.format)
    print(f"wrote {len(frames)} all-atom frames to {out}")
    return 0
