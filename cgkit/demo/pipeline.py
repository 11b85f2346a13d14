"""The demo pipeline: build -> train per map -> evaluate -> report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgkit._version import __version__

#: recipe used by default (shipped in the repository's datasets/ folder)
DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "datasets" / "bithiophene.toml"


@dataclass
class DemoConfig:
    """Settings of one demo run.

    Attributes
    ----------
    out : Path
        Output directory (store, models, report, figures).
    n_frames : int
        Frames to sample and label.
    maps : tuple of str
        Maps of the recipe to train on, coarse to fine.
    label : str
        Target property (eV).
    test_fraction : float
        Held-out fraction (the last frames of each MD replica block are not used: the
        split takes every k-th frame so train and test cover the same trajectory span).
    ecg : dict
        Keyword arguments of :class:`cgkit.ecg.ECGRegressor`. A small extractor (16 units,
        2 latent dimensions) is better calibrated than the paper's 80-40-20-10 network on a
        few thousand GFN2-xTB frames (see ``calculators/make_zoo.py``).
    workers : int
        Labelling processes.
    recipe : Path
    """

    out: Path
    n_frames: int = 2000
    maps: tuple[str, ...] = ("2bead", "4bead", "6bead", "8bead")
    label: str = "homo"
    test_fraction: float = 0.2
    ecg: dict = field(
        default_factory=lambda: {
            "hidden_sizes": (16,),
            "latent_dim": 2,
            "n_inducing": 200,
            "n_epochs": 100,
            "batch_size": 400,
        }
    )
    workers: int = 2
    recipe: Path = DEFAULT_RECIPE

    @classmethod
    def quick(cls, out: Path) -> DemoConfig:
        """A small configuration (CI smoke run, about two minutes on 2 cores)."""
        return cls(
            out=out,
            n_frames=300,
            ecg={
                "hidden_sizes": (16,),
                "latent_dim": 2,
                "n_inducing": 64,
                "n_epochs": 150,
                "batch_size": 120,
            },
        )


def build_store(config: DemoConfig, log=print) -> tuple[Path, float]:
    """Sample and label the demo data set (resumes a partial store). Returns path, seconds."""
    from cgkit.data.builder import DatasetBuilder
    from cgkit.sampling.recipe import Recipe

    if not Path(config.recipe).exists():
        raise FileNotFoundError(
            f"demo recipe {config.recipe} not found; run from a source checkout or pass --recipe"
        )
    recipe = Recipe.read(config.recipe).resized(config.n_frames)
    path = Path(config.out) / "bithiophene.h5"
    tic = time.perf_counter()
    builder = DatasetBuilder.from_recipe(
        recipe,
        path,
        n_workers=config.workers,
        progress=True,
        provenance={"command": "cgkit demo", "demo_frames": config.n_frames},
    )
    summary = builder.build()
    log(str(summary))
    return path, time.perf_counter() - tic


def _model_path(config: DemoConfig, map_name: str) -> Path:
    return Path(config.out) / "models" / f"ecg-{config.label}-{map_name}.pt"


def train_models(config: DemoConfig, store_path: Path, log=print) -> list[dict]:
    """Train (or reload) one ECG model per map and evaluate it on held-out frames."""
    import cgkit.data
    from cgkit.ecg import ECGRegressor
    from cgkit.ecg.scan import evaluate

    with cgkit.data.open(store_path) as store:
        system = store[store.system_names[0]]
        frames = np.asarray(system.ok_frames(config.label), dtype=int)
        y = np.asarray(system.read_labels(config.label, frames), float)
        positions = {m: system.cg(m).bead_positions(frames) for m in config.maps}
    from cgkit.sampling.recipe import Recipe
    from cgkit.sampling.sources import replica_tail_split

    recipe = Recipe.read(config.recipe)
    replicas = recipe.md.replicas if recipe.md is not None else 1
    train, test = replica_tail_split(len(frames), replicas, config.test_fraction)
    results = []
    for map_name in config.maps:
        path = _model_path(config, map_name)
        meta_path = path.with_suffix(".train.json")
        signature = {
            "ecg": config.ecg,
            "n_frames": len(frames),
            "label": config.label,
            "test_fraction": config.test_fraction,
            "replicas": replicas,
            "store": str(store_path.name),
        }
        signature = json.loads(json.dumps(signature))  # as it reads back (tuples -> lists)
        tic = time.perf_counter()
        reused = False
        if (
            path.exists()
            and meta_path.exists()
            and json.loads(meta_path.read_text()).get("signature") == signature
        ):
            model = ECGRegressor.load(path)
            train_seconds = json.loads(meta_path.read_text())["train_seconds"]
            reused = True
        else:
            model = ECGRegressor(**config.ecg, seed=0).fit(positions[map_name][train], y[train])
            train_seconds = time.perf_counter() - tic
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(path)
            meta_path.write_text(
                json.dumps({"signature": signature, "train_seconds": train_seconds})
            )
        metrics = evaluate(model, positions[map_name][test], y[test])
        row = {
            "map": map_name,
            "n_beads": int(positions[map_name].shape[1]),
            "n_train": len(train),
            "n_test": len(test),
            "train_seconds": train_seconds,
            "reused": reused,
            "model": str(path.relative_to(config.out)),
            **{
                k: metrics[k]
                for k in (
                    "rmse",
                    "mean_std",
                    "rmse_over_std",
                    "nll",
                    "coverage_68",
                    "coverage_95",
                    "gmm_noise",
                )
            },
            "mean": metrics["mean"],
            "std": metrics["std"],
            "y_test": y[test],
        }
        log(
            f"  {map_name}: RMSE {row['rmse']:.4f} eV, <std> {row['mean_std']:.4f} eV, "
            f"coverage68 {100 * row['coverage_68']:.1f}%"
            + (" (reused model)" if reused else f" ({train_seconds:.1f} s)")
        )
        results.append(row)
    return results


def run_demo(config: DemoConfig, log=print) -> Path:
    """Run every step; returns the path of the markdown report."""
    from cgkit.demo.report import write_figures, write_report

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    log(f"[1/3] building the data set ({config.n_frames} frames, GFN2-xTB MD + labels)")
    store_path, timings["build data set (MD + GFN2-xTB labels)"] = build_store(config, log)
    log(f"[2/3] training ECG models on maps {', '.join(config.maps)}")
    tic = time.perf_counter()
    rows = train_models(config, store_path, log)
    timings["train + evaluate ECG models"] = time.perf_counter() - tic
    log("[3/3] writing figures and report")
    tic = time.perf_counter()
    figures = write_figures(rows, out)
    timings["figures"] = time.perf_counter() - tic
    report = write_report(config, rows, figures, timings, out, __version__)
    log(f"report: {report}")
    return report
