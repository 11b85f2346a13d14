"""Map scan: one ECG model per CG map, compared by error, predicted noise and calibration.

Reproduces the resolution study of Maier & Jackson (2022, Fig. 4): the predictive noise of
an electronic property rises as the CG resolution coarsens. Inputs come either from a
:mod:`cgkit.data` store (maps stored with the system) or from an ``.npz`` with positions
plus map files (``CGMap.read``), so the scan runs directly on the shared data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cgkit.ecg.validation import calibration_report, gmm_local_noise


@dataclass
class ScanRow:
    """Held-out metrics of one map (target unit, eV; times in s)."""

    map_name: str
    n_beads: int
    n_train: int
    n_test: int
    rmse: float
    mean_std: float
    rmse_over_std: float
    nll: float
    coverage_68: float
    coverage_95: float
    gmm_noise: float | None
    train_time: float

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_metrics(
        cls, map_name: str, n_beads: int, n_train: int, n_test: int, metrics: dict, train_time
    ) -> ScanRow:
        """A row from the output of :func:`evaluate` (``gmm_noise`` may be absent)."""
        return cls(
            map_name=map_name,
            n_beads=int(n_beads),
            n_train=int(n_train),
            n_test=int(n_test),
            rmse=metrics["rmse"],
            mean_std=metrics["mean_std"],
            rmse_over_std=metrics["rmse_over_std"],
            nll=metrics["nll"],
            coverage_68=metrics["coverage_68"],
            coverage_95=metrics["coverage_95"],
            gmm_noise=metrics.get("gmm_noise"),
            train_time=float(train_time),
        )


def evaluate(model, bead_positions, y_true, gmm_components=(20, 40, 60, 80, 100)) -> dict:
    """Calibration metrics and GMM local noise of a fitted model on held-out frames.

    Returns
    -------
    dict
        :func:`~cgkit.ecg.validation.calibration_report` keys plus ``gmm_noise`` (RMS
        local noise over clusters, ``None`` if the model has no latents or there are too
        few frames), ``mean`` and ``std`` arrays.
    """
    mean, std = model.predict(bead_positions, return_std=True)
    report = calibration_report(y_true, mean, std)
    report["gmm_noise"] = None
    if hasattr(model, "encode"):
        try:
            local = gmm_local_noise(model.encode(bead_positions), y_true, mean, std, gmm_components)
            report["gmm_noise"] = local.mean_noise
        except ValueError:
            pass
    report["mean"], report["std"] = mean, std
    return report


def scan_maps(
    bead_positions: Mapping[str, np.ndarray],
    y,
    train_indices,
    test_indices,
    make_model,
    save_dir=None,
    log=print,
) -> list[ScanRow]:
    """Train and evaluate one model per map.

    Parameters
    ----------
    bead_positions : mapping map name -> ndarray (F, M, 3), Å
    y : array_like, shape (F,)
    train_indices, test_indices : array_like of int
    make_model : callable
        ``() -> unfitted regressor`` (e.g. ``lambda: ECGRegressor(n_epochs=50)``).
    save_dir : str or Path, optional
        Save each model as ``<save_dir>/<map name>.pt``.
    log : callable
        Progress messages.
    """
    y = np.asarray(y, dtype=float)
    train, test = np.asarray(train_indices), np.asarray(test_indices)
    rows = []
    for name, positions in bead_positions.items():
        start = time.perf_counter()
        model = make_model().fit(positions[train], y[train])
        train_time = time.perf_counter() - start
        metrics = evaluate(model, positions[test], y[test])
        row = ScanRow.from_metrics(
            name, positions.shape[1], len(train), len(test), metrics, train_time
        )
        if save_dir is not None:
            Path(save_dir).mkdir(parents=True, exist_ok=True)
            model.save(Path(save_dir) / f"{name}.pt")
        log(format_table([row], header=not rows))
        rows.append(row)
    return rows


def format_table(rows, header: bool = True) -> str:
    """Fixed-width text table of :class:`ScanRow` (energies in eV, coverage in %)."""
    lines = []
    if header:
        lines.append(
            f"{'map':>10} {'beads':>5} {'RMSE':>7} {'<std>':>7} {'ratio':>6} {'NLL':>7} "
            f"{'cov68':>6} {'cov95':>6} {'GMM':>7} {'train_s':>8}"
        )
    for r in rows:
        gmm = "-" if r.gmm_noise is None else f"{r.gmm_noise:.4f}"
        lines.append(
            f"{r.map_name:>10} {r.n_beads:>5d} {r.rmse:7.4f} {r.mean_std:7.4f} "
            f"{r.rmse_over_std:6.3f} {r.nll:7.3f} {100 * r.coverage_68:6.1f} "
            f"{100 * r.coverage_95:6.1f} {gmm:>7} {r.train_time:8.1f}"
        )
    return "\n".join(lines)


def _sort_key(name: str):
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 0, name)


def load_npz_maps(npz_path, map_paths, label: str = "homo"):
    """Bead positions per map and labels from an ``.npz`` (``positions`` + ``<label>_eV``).

    Parameters
    ----------
    npz_path : str or Path
        Arrays ``positions`` (F, N, 3) Å and ``<label>_eV`` or ``<label>`` (F,).
    map_paths : iterable of path
        Map files read with :meth:`cgkit.mapping.CGMap.read`; named by their stem.

    Returns
    -------
    bead_positions : dict map name -> ndarray (F, M, 3)
    y : ndarray (F,)
    """
    from cgkit.mapping import CGMap

    npz_path = Path(npz_path)
    with np.load(npz_path) as data:
        key = f"{label}_eV" if f"{label}_eV" in data.files else label
        if key not in data.files:
            raise KeyError(f"{npz_path}: no array {label!r} or {label + '_eV'!r}")
        positions, y = data["positions"], data[key]
    out = {}
    for path in sorted(map(Path, map_paths), key=lambda p: _sort_key(p.stem)):
        cgmap = CGMap.read(path)
        if cgmap.n_atoms != positions.shape[1]:
            raise ValueError(
                f"{path}: map has {cgmap.n_atoms} atoms but {npz_path} has {positions.shape[1]}"
            )
        out[path.stem] = np.asarray(cgmap.map_positions(positions))
    return out, np.asarray(y, dtype=float)


def load_store_maps(store, label: str, map_names=None, system=None):
    """Bead positions per map and labels from a :mod:`cgkit.data` store (ok frames only).

    ``map_names=None`` takes every map of the system.
    """
    if system is None:
        owners = [n for n in store.system_names if store[n].map_names]
        if len(owners) != 1:
            raise ValueError(f"{store.path}: choose a system among {owners}")
        system = owners[0]
    sys_ = store[system]
    names = sorted(map_names or sys_.map_names, key=_sort_key)
    frames = np.asarray(sys_.ok_frames(label), dtype=int)
    if len(frames) == 0:
        raise ValueError(f"{store.path}: no frames with an ok {label!r} label in {system!r}")
    out = {name: sys_.cg(name).bead_positions(frames) for name in names}
    return out, np.asarray(sys_.read_labels(label, frames), dtype=float)
