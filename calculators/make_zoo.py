"""Re-make entries of the calculator zoo from stores built with the project's recipes.

Usage (from the repository root; the store is built first, see each entry's CARD.md)::

    OMP_NUM_THREADS=1 cgkit build datasets/bithiophene.toml -o /tmp/zoo/bithiophene.h5 -j 2
    OMP_NUM_THREADS=1 python calculators/make_zoo.py bithiophene-homo-8bead \\
        --store /tmp/zoo/bithiophene.h5

For each entry the script trains an :class:`cgkit.ecg.ECGRegressor` on the store's frames
through the entry's CG map, holds out the contiguous tail of every MD replica, and writes
``calculators/<name>/`` (model.pt, map.json, reference.json, entry.json, CARD.md) plus the
zoo index ``calculators/README.md``. Training is deterministic (fixed seeds, one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ZOO = Path(__file__).resolve().parent
REPO = ZOO.parent


@dataclass(frozen=True)
class ZooSpec:
    """How one zoo entry is made.

    Attributes
    ----------
    recipe : str
        Dataset recipe, relative to the repository root (``cgkit build`` input).
    map_name : str
        Map of the recipe the model works on.
    label : str
        Store label to learn (eV).
    property : str
        Name of the calculator's result.
    description : str
    notes : str
        Entry-specific text for the card's limits section.
    test_fraction : float
        Held-out fraction: the last frames of every MD replica.
    ecg : dict
        :class:`cgkit.ecg.ECGRegressor` hyperparameters (seeded).
    """

    recipe: str
    map_name: str
    label: str
    property: str
    description: str
    notes: str = ""
    test_fraction: float = 0.2
    ecg: dict = field(default_factory=dict)


# A small extractor: with 400-1600 correlated MD frames the default (80, 40, 20, 10) one
# over-fits and its std is over-confident on held-out segments.
_BT_ECG = {
    "hidden_sizes": (16,),
    "latent_dim": 2,
    "n_inducing": 200,
    "n_epochs": 100,
    "batch_size": 400,
    "seed": 0,
}
_TEMPO_ECG = {
    "hidden_sizes": (16,),
    "latent_dim": 2,
    "n_inducing": 100,
    "n_epochs": 150,
    "batch_size": 200,
    "seed": 0,
}
_TEMPO_NOTE = (
    "The TEMPO pair `tempo-somo-keep-no` / `tempo-somo-merge-no` differs only in the map: "
    "merging N and O into one bead removes the N-O bond length from the CG coordinates, so "
    "the SOMO's dependence on it (the SOMO is the N-O pi* orbital) can no longer be predicted "
    "and shows up as noise: the predicted std jumps (compare the two cards or "
    "calculators/README.md)."
)

ENTRIES: dict[str, ZooSpec] = {
    "bithiophene-homo-8bead": ZooSpec(
        recipe="datasets/bithiophene.toml",
        map_name="8bead",
        label="homo",
        property="homo",
        description="HOMO energy of 2,2'-bithiophene (GFN2-xTB) from its 8-bead CG configuration",
        ecg=_BT_ECG,
    ),
    "bithiophene-lumo-8bead": ZooSpec(
        recipe="datasets/bithiophene.toml",
        map_name="8bead",
        label="lumo",
        property="lumo",
        description="LUMO energy of 2,2'-bithiophene (GFN2-xTB) from its 8-bead CG configuration",
        ecg=_BT_ECG,
    ),
    "tempo-somo-keep-no": ZooSpec(
        recipe="datasets/tempo.toml",
        map_name="keep_no",
        label="homo",
        property="somo",
        description="SOMO energy of the TEMPO radical (spin-polarised GFN2-xTB), 5 beads, "
        "N and O separate (the N-O bond is kept)",
        notes=_TEMPO_NOTE,
        ecg=_TEMPO_ECG,
    ),
    "tempo-somo-merge-no": ZooSpec(
        recipe="datasets/tempo.toml",
        map_name="merge_no",
        label="homo",
        property="somo",
        description="SOMO energy of the TEMPO radical (spin-polarised GFN2-xTB), 4 beads, "
        "N and O in one bead (the N-O bond is decimated)",
        notes=_TEMPO_NOTE,
        ecg=_TEMPO_ECG,
    ),
}


def held_out_split(n_frames: int, n_replicas: int, test_fraction: float):
    """Train/test frame indices: the last ``test_fraction`` of every replica's block is test.

    Replica ``r`` owns frames ``r*ceil(n/R) .. min((r+1)*ceil(n/R), n)`` (the builder's
    layout); consecutive MD frames are correlated, so contiguous tails give an honest error.

    Returns
    -------
    train, test : ndarray of int
    first_test : ndarray of int
        The first test frame of every replica (the reference frames).
    """
    from cgkit.sampling.sources import replica_tail_split

    train, test = replica_tail_split(n_frames, n_replicas, test_fraction)
    first = test[np.r_[True, np.diff(test) > 1]] if len(test) else test
    return train, test, first


def load_data(spec: ZooSpec, store_path: Path) -> dict:
    """Frames, labels, map and provenance of ``spec`` from a store built with its recipe."""
    import cgkit.data
    from cgkit.sampling.recipe import Recipe

    recipe = Recipe.read(REPO / spec.recipe)
    with cgkit.data.open(store_path) as store:
        provenance = store.provenance
        if provenance.get("recipe_fingerprint") != recipe.fingerprint():
            sys.exit(
                f"error: {store_path} was not built from {spec.recipe} (recipe fingerprint "
                f"{str(provenance.get('recipe_fingerprint'))[:12]} vs {recipe.fingerprint()[:12]})"
            )
        system = store[recipe.name]
        n_frames = system.n_frames
        counts = system.label_counts(spec.label)
        if counts["ok"] == 0 or counts["pending"]:
            sys.exit(f"error: {store_path}: label {spec.label!r} is incomplete ({counts})")
        info = system.label_info(spec.label)
        view = system.cg(spec.map_name)
        ok = np.asarray(view.ok_frames(spec.label), dtype=int)
        replicas = recipe.md.replicas if recipe.md is not None else 1
        train, test, first = held_out_split(n_frames, replicas, spec.test_fraction)
        train, test = np.intersect1d(train, ok), np.intersect1d(test, ok)
        reference = np.intersect1d(first, ok)
        return {
            "recipe": recipe,
            "provenance": provenance,
            "cgmap": system.maps[spec.map_name],
            "label_info": info,
            "counts": counts,
            "n_frames": n_frames,
            "replicas": replicas,
            "train": train,
            "test": test,
            "reference": reference,
            "beads_train": view.bead_positions(train),
            "beads_test": view.bead_positions(test),
            "y_train": np.asarray(view.read_labels(spec.label, train), dtype=float),
            "y_test": np.asarray(view.read_labels(spec.label, test), dtype=float),
            "numbers": np.asarray(system.to_atoms(0).numbers, dtype=int),
            "symbols": system.symbols,
            "ref_positions": system.read_positions(reference),
            "ref_label": np.asarray(system.read_labels(spec.label, reference), dtype=float),
        }


def make(name: str, store_path: Path, out_root: Path = ZOO, log=print) -> dict:
    """Train, evaluate and write zoo entry ``name``; returns its metrics."""
    import torch

    from cgkit._version import __version__
    from cgkit.calculators import zoo
    from cgkit.ecg import ECGRegressor
    from cgkit.ecg.validation import calibration_report

    torch.set_num_threads(1)
    spec = ENTRIES[name]
    data = load_data(spec, store_path)
    log(f"{name}: {len(data['train'])} train / {len(data['test'])} test frames")
    tic = time.perf_counter()
    model = ECGRegressor(**spec.ecg).fit(data["beads_train"], data["y_train"])
    train_seconds = time.perf_counter() - tic
    mean, std = model.predict(data["beads_test"], return_std=True)
    metrics = calibration_report(data["y_test"], mean, std)
    metrics["label_std"] = float(np.std(data["y_test"]))
    metrics.update(n_train=len(data["train"]), n_test=len(data["test"]))
    folder = out_root / name
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / zoo.MODEL_FILE)
    data["cgmap"].write(folder / zoo.MAP_FILE)
    # the reference predictions come from the saved files, as the tests will see them
    saved = zoo.ZooEntry(name, folder, spec.property, spec.label, "eV", spec.description)
    cgmap, reloaded = saved.read_map(), saved.read_model()
    ref_mean, ref_std = reloaded.predict(
        cgmap.map_positions(data["ref_positions"]), return_std=True
    )
    reference = {
        "numbers": data["numbers"].tolist(),
        "positions": data["ref_positions"].tolist(),
        "frames": data["reference"].tolist(),
        "mean": ref_mean.tolist(),
        "std": ref_std.tolist(),
        "label": data["ref_label"].tolist(),
    }
    (folder / zoo.REFERENCE_FILE).write_text(json.dumps(reference) + "\n")
    entry = {
        "kind": zoo.MODEL_KIND,
        "property": spec.property,
        "label": spec.label,
        "unit": data["label_info"].unit,
        "description": spec.description,
        "map": spec.map_name,
        "n_beads": int(cgmap.n_beads),
        "recipe": spec.recipe,
        "recipe_fingerprint": data["recipe"].fingerprint(),
        "ecg": asdict(model.config),
        "test_fraction": spec.test_fraction,
        "metrics": {k: _round(v) for k, v in metrics.items()},
        "cgkit_version": __version__,
    }
    (folder / zoo.ENTRY_FILE).write_text(json.dumps(entry, indent=2) + "\n")
    card = _card(name, spec, data, metrics, model, store_path, train_seconds)
    (folder / zoo.CARD_FILE).write_text(card)
    write_index(out_root)
    log(
        f"{name}: RMSE {metrics['rmse']:.4f} eV, mean std {metrics['mean_std']:.4f} eV, "
        f"coverage 68/95 {metrics['coverage_68']:.2f}/{metrics['coverage_95']:.2f}, "
        f"NLL {metrics['nll']:.3f} ({train_seconds:.0f} s)"
    )
    return metrics


def _round(value):
    return round(float(value), 6) if isinstance(value, float) else value


def _commands(name: str, spec: ZooSpec) -> str:
    store = f"/tmp/zoo/{Path(spec.recipe).stem}.h5"  # any path outside the repository
    return (
        f"OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 cgkit build {spec.recipe} -o {store} -j 2\n"
        f"OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python calculators/make_zoo.py {name} "
        f"--store {store}"
    )


def _map_table(cgmap, symbols) -> str:
    rows = ["| bead | atoms (recipe order) | elements |", "| --- | --- | --- |"]
    for bead in range(cgmap.n_beads):
        atoms = np.flatnonzero(cgmap.weights[bead])
        name = cgmap.bead_names[bead] if cgmap.bead_names else str(bead)
        elements = "".join(symbols[i] for i in atoms)
        rows.append(f"| {name} | {', '.join(map(str, atoms))} | {elements} |")
    return "\n".join(rows)


def _card(name, spec, data, metrics, model, store_path, train_seconds) -> str:
    recipe, info = data["recipe"], data["label_info"]
    md = recipe.md
    counts = data["counts"]
    map_spec = next(m for m in recipe.maps if m.name == spec.map_name)
    weights = (
        "centre of mass" if map_spec.weights == "mass" else f"{map_spec.weights} weighted centre"
    )
    notes = f"\n- {spec.notes}" if spec.notes else ""
    if metrics["rmse"] >= 0.9 * metrics["label_std"]:
        notes += (
            "\n- On held-out frames this model is hardly better than the label mean (RMSE "
            f"{metrics['rmse']:.3f} vs label std {metrics['label_std']:.3f} {info.unit}): the "
            "map's coordinates carry little information on the property, and the model reports "
            "nearly all of its spread as noise (the std), which is the honest answer."
        )
    return f"""# {name}

{spec.description}.

## What it predicts

`{spec.property}` (mean, {info.unit}) and `{spec.property}_std` (predictive std, {info.unit}) of
the store label `{spec.label}`: {info.method} ({info.program} {info.program_version}).
Model: DKL-ECG (`cgkit.ecg.ECGRegressor`, Maier & Jackson, J. Chem. Phys. 157, 174102, 2022),
a deep-kernel sparse variational GP whose std includes the heteroscedastic noise of the
property at fixed CG configuration.

```python
from cgkit.calculators import load

calc = load("{name}")  # an ECGCalculator with the CG map: takes all-atom Atoms
atoms.calc = calc
calc.get_property("{spec.property}", atoms), calc.get_property("{spec.property}_std", atoms)
```

## The map

Map `{spec.map_name}` of `{spec.recipe}`: {data["cgmap"].n_beads} beads, each at the
{weights} of its atoms (`map.json`).
All-atom Atoms must use the recipe's atom order (RDKit order of SMILES
`{recipe.molecule.smiles}`, {data["cgmap"].n_atoms} atoms).

{_map_table(data["cgmap"], data["symbols"])}

## Training data and recipe

- Recipe `{spec.recipe}` (fingerprint `{recipe.fingerprint()[:16]}`): {recipe.description}.
- {data["n_frames"]} frames from {data["replicas"]} MD replicas ({md.method}, {md.temperature:g} K,
  {md.timestep:g} fs step, a frame every {md.interval} steps after {md.equilibration} steps of
  equilibration, seed {recipe.seed}); label `{spec.label}`: {counts["ok"]} ok,
  {counts["failed"]} failed.
- Split: the last {spec.test_fraction:.0%} of every replica is held out (contiguous, so
  correlated neighbours of test frames are not trained on): {metrics["n_train"]} train,
  {metrics["n_test"]} test frames.
- ECG hyperparameters: `{json.dumps(spec.ecg)}` (other values default); trained in
  {train_seconds:.0f} s on one CPU thread.

## Held-out metrics

| metric | value |
| --- | --- |
| RMSE | {metrics["rmse"]:.4f} {info.unit} |
| mean predicted std | {metrics["mean_std"]:.4f} {info.unit} |
| std of the test labels | {metrics["label_std"]:.4f} {info.unit} |
| RMSE / mean std | {metrics["rmse_over_std"]:.2f} |
| coverage of the 68 % interval | {metrics["coverage_68"]:.1%} |
| coverage of the 95 % interval | {metrics["coverage_95"]:.1%} |
| NLL (per frame, nats) | {metrics["nll"]:.3f} |

`reference.json` holds the first held-out frame of every replica (all-atom positions) and the
model's predictions for them; `tests/calculators/test_zoo.py` checks them.

## Limits

- Trained on one isolated molecule at {md.temperature:g} K with {info.method} labels: not DFT, no
  environment, no other temperatures or conformers outside this MD; expect larger errors there.
- The predicted std covers the noise seen in training; far from the training data it is not
  a guarantee.
- Small model for the repository (n_inducing {model.config.n_inducing}, {metrics["n_train"]}
  training frames); re-train on more frames for production work.{notes}

## Re-make it

From the repository root (the first line builds the store, minutes; the second trains and
rewrites this folder; metrics reproduce within noise, exactly on the same machine):

```bash
{_commands(name, spec)}
```
"""


def write_index(out_root: Path = ZOO) -> Path:
    """Write ``README.md``: a table of every entry's held-out metrics."""
    rows = [
        "| entry | property | map (beads) | RMSE | mean std | coverage 68/95 | NLL |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted(out_root.glob("*/entry.json")):
        entry = json.loads(path.read_text())
        m, unit = entry["metrics"], entry["unit"]
        rows.append(
            f"| [{path.parent.name}]({path.parent.name}/CARD.md) | {entry['property']} "
            f"| {entry['map']} ({entry['n_beads']}) | {m['rmse']:.4f} {unit} "
            f"| {m['mean_std']:.4f} {unit} | {m['coverage_68']:.0%} / {m['coverage_95']:.0%} "
            f"| {m['nll']:.2f} |"
        )
    text = f"""# Calculator zoo

Ready ECG calculators: `cgkit.calculators.load(NAME)` returns an `ECGCalculator` that takes
all-atom ASE Atoms. Each folder holds the model, its CG map, reference predictions and a card
(`CARD.md`) with the data, recipe, limits and the command that re-makes it
(`calculators/make_zoo.py`). Metrics are on held-out MD segments.

{chr(10).join(rows)}
"""
    path = out_root / "README.md"
    path.write_text(text)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", help=f"entries: {', '.join(ENTRIES)}")
    parser.add_argument("--store", required=True, type=Path, help="store built from the recipe")
    parser.add_argument("--out", type=Path, default=ZOO, help="zoo folder (default: this one)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in ENTRIES]
    if unknown:
        parser.error(f"unknown entries {unknown}; known: {', '.join(ENTRIES)}")
    if not args.store.exists():
        parser.error(f"store {args.store} not found; build it first (see the entry's CARD.md)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print("command:", shlex.join(["python", *sys.argv]))
    for name in args.names:
        make(name, args.store, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
