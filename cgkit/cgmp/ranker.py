"""CGMP ranker: one-shot importance ranking of atoms for a target property.

Trains a :class:`~cgkit.cgmp.model.CGMPModel` while the target resolution ``M`` of the gate
regulariser is lowered from ``N`` to 2 (:class:`~cgkit.cgmp.schedule.ResolutionSchedule`).
At the last epoch of every resolution the gates, the kept atoms (the ``M`` largest gates),
the held-out R^2 with the other gates set to 0, and a snapshot of the network are recorded;
the atoms that are not kept are then removed for good (:meth:`CGMPModel.remove_atoms`), so
the kept sets are nested and the ranking is the order in which atoms left.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from cgkit.cgmp.inputs import PropertyData, load_property_data
from cgkit.cgmp.loss import LossConfig
from cgkit.cgmp.model import CGMPConfig, CGMPModel
from cgkit.cgmp.schedule import ResolutionSchedule
from cgkit.cgmp.training import predict_batched, r2_score, train_epoch


class CGMPRanker:
    """Rank the atoms of a molecule by their importance for a scalar property.

    Parameters
    ----------
    hidden, layers, cutoff : int, int, float
        Network width, number of interactions and radius-graph cutoff (Å).
    warmup : int
        Epochs at full resolution.
    epochs_per_step : int
        Epochs at each lower resolution.
    min_resolution : int
        Last resolution of the schedule.
    batch_size : int
        Frames per optimisation step.
    learning_rate, gate_learning_rate : float
        Step sizes of the network (Adam) and of the gate logits (SGD with momentum 0.9).
    validation_fraction : float
        Held-out fraction when ``fit`` gets no explicit split.
    n_radial, n_spherical : int
        Size of the ComENet edge bases.
    loss : LossConfig, optional
        Loss weights (defaults of :class:`~cgkit.cgmp.loss.LossConfig`).
    seed : int
        Seed of initialisation, noise, shuffling and the default split.
    verbose : bool
        Print one line per recorded resolution.

    Attributes
    ----------
    target_ : str
        Name of the learned property.
    atom_indices_ : ndarray of int, shape (n,)
        Molecule indices of the candidate atoms (heavy atoms by default).
    ranking_ : ndarray of int, shape (n,)
        Candidate atoms (molecule indices) in order of removal, first removed first.
    resolution_curve_ : dict of int -> float
        Held-out R^2 at each resolution ``M``.
    gate_history_ : dict of int -> ndarray, shape (n,)
        Gates of the candidate atoms at the end of each resolution.
    history_ : list of dict
        Per epoch: resolution, mean loss, mean MSE (standardised units).
    fit_time_ : float
        Wall time of ``fit`` in s.
    """

    def __init__(
        self,
        hidden: int = 32,
        layers: int = 3,
        cutoff: float = 5.0,
        warmup: int = 20,
        epochs_per_step: int = 5,
        min_resolution: int = 2,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        gate_learning_rate: float = 0.2,
        validation_fraction: float = 0.2,
        n_radial: int = 6,
        n_spherical: int = 3,
        loss: LossConfig | None = None,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.hidden = hidden
        self.layers = layers
        self.cutoff = cutoff
        self.warmup = warmup
        self.epochs_per_step = epochs_per_step
        self.min_resolution = min_resolution
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.gate_learning_rate = gate_learning_rate
        self.validation_fraction = validation_fraction
        self.n_radial = n_radial
        self.n_spherical = n_spherical
        self.loss = loss
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _model_config(self, n_atoms: int) -> CGMPConfig:
        return CGMPConfig(
            n_atoms=n_atoms,
            hidden=self.hidden,
            layers=self.layers,
            cutoff=self.cutoff,
            n_radial=self.n_radial,
            n_spherical=self.n_spherical,
        )

    def fit(
        self,
        data,
        target: str = "homo",
        heavy_atoms_only: bool = True,
        train_index=None,
        test_index=None,
        system: str | None = None,
    ) -> CGMPRanker:
        """Train with the decreasing-resolution schedule and record the ranking.

        Parameters
        ----------
        data : mapping, PropertyData, str or Path
            Arrays ``numbers`` (N,), ``positions`` (F, N, 3) Å, ``y`` (F,) eV; a ``.npz``; or
            a cgkit store (see :func:`~cgkit.cgmp.inputs.load_property_data`).
        target : str
            Property to learn when reading a file or store.
        heavy_atoms_only : bool
            Candidate atoms are the non-hydrogen atoms (hydrogens are ignored entirely).
        train_index, test_index : array of int, optional
            Frames to train on and to score; by default a random split.
        system : str, optional
            System of a store holding several.
        """
        started = time.perf_counter()
        data = load_property_data(data, target=target, system=system)
        self.target_ = target
        self._set_molecule(data, heavy_atoms_only)
        train_index, test_index = self._split(data.n_frames, train_index, test_index)
        values = data.values
        self.mean_ = float(values[train_index].mean())
        self.scale_ = float(values[train_index].std()) or 1.0

        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        positions = torch.as_tensor(data.positions[:, self.atom_indices_], dtype=torch.float32)
        targets = torch.as_tensor((values - self.mean_) / self.scale_, dtype=torch.float32)
        train = torch.as_tensor(train_index)
        test = torch.as_tensor(test_index)
        n_atoms = len(self.atom_indices_)
        self.config_ = self._model_config(n_atoms)
        model = CGMPModel(self.config_)
        optimizers = self._optimizers(model)
        loss_config = self.loss or LossConfig()
        schedule = ResolutionSchedule(
            n_atoms, self.warmup, self.epochs_per_step, min(self.min_resolution, n_atoms)
        )
        self.schedule_ = schedule
        self.history_, self.gate_history_, self.resolution_curve_ = [], {}, {}
        self.kept_sets_, self.model_states_ = {}, {}
        for epoch in range(schedule.n_epochs):
            resolution = schedule.resolution(epoch)
            terms = train_epoch(
                model,
                optimizers,
                positions[train],
                targets[train],
                resolution,
                loss_config,
                self.batch_size,
                generator,
            )
            self.history_.append({"epoch": epoch, "resolution": resolution, **terms})
            if schedule.is_record_epoch(epoch):
                self._record(model, resolution, positions[test], values[test_index])
        self.ranking_ = self._ranking()
        self._models = {}
        self.fit_time_ = time.perf_counter() - started
        return self

    def _optimizers(self, model: CGMPModel) -> list:
        """Adam for the network; SGD with momentum for the gate logits.

        Adam divides each parameter's step by the running size of its own gradient, so every
        gate logit would move at about the same speed whatever its share of the loss: the
        atom removed first would be the one with the steadiest gradient, not the one the
        prediction needs least (on bithiophene HOMO this kept a propyl carbon over a ring
        carbon that a fixed-map fit shows is worth more). Plain gradient steps keep the
        gates' speeds proportional to their gradients, so the count term of eq. 14 removes
        the atom whose loss gradient resists least.
        """
        network = [p for name, p in model.named_parameters() if name != "gate_logits"]
        return [
            torch.optim.Adam(network, lr=self.learning_rate),
            torch.optim.SGD([model.gate_logits], lr=self.gate_learning_rate, momentum=0.9),
        ]

    def _set_molecule(self, data: PropertyData, heavy_atoms_only: bool) -> None:
        self.numbers_ = data.numbers.copy()
        self.masses_ = None if data.masses is None else np.asarray(data.masses, dtype=float)
        self.n_molecule_atoms_ = len(data.numbers)
        if heavy_atoms_only:
            self.atom_indices_ = np.flatnonzero(data.numbers > 1)
        else:
            self.atom_indices_ = np.arange(len(data.numbers))
        if len(self.atom_indices_) < 2:
            raise ValueError(f"{data.source}: CGMP needs at least 2 candidate atoms")

    def _split(self, n_frames: int, train_index, test_index):
        if train_index is not None and test_index is not None:
            return np.asarray(train_index, dtype=int), np.asarray(test_index, dtype=int)
        order = np.random.default_rng(self.seed).permutation(n_frames)
        n_test = max(1, int(round(self.validation_fraction * n_frames)))
        if n_frames - n_test < 1:
            raise ValueError(f"need at least 2 frames to split, got {n_frames}")
        return np.sort(order[n_test:]), np.sort(order[:n_test])

    def _record(self, model: CGMPModel, resolution: int, positions, values) -> None:
        gates = model.gates().detach()
        kept = torch.argsort(gates, descending=True)[:resolution]
        hard = torch.zeros_like(gates)
        hard[kept] = gates[kept]
        prediction, _ = predict_batched(model, positions, gates=hard)
        r2 = r2_score(values, prediction.numpy() * self.scale_ + self.mean_)
        self.gate_history_[resolution] = gates.numpy().copy()
        self.kept_sets_[resolution] = np.sort(kept.numpy())
        self.resolution_curve_[resolution] = r2
        self.model_states_[resolution] = copy.deepcopy(model.state_dict())
        dropped = torch.ones_like(gates, dtype=torch.bool)
        dropped[kept] = False
        model.remove_atoms(torch.nonzero(dropped).flatten())
        if self.verbose:
            print(f"CGMP seed {self.seed}: M={resolution:3d}  held-out R2={r2:.3f}", flush=True)

    def _ranking(self) -> np.ndarray:
        """Removal order: atoms last kept at higher resolutions leave first."""
        n_atoms = len(self.atom_indices_)
        survival = np.full(n_atoms, n_atoms + 1)
        for resolution, kept in self.kept_sets_.items():
            survival[kept] = np.minimum(survival[kept], resolution)
        final_gates = self.gate_history_[min(self.kept_sets_)]
        order = np.lexsort((final_gates, -survival))
        return self.atom_indices_[order]

    # ------------------------------------------------------------------ queries
    def _check_fitted(self) -> None:
        if not hasattr(self, "ranking_"):
            raise RuntimeError("this CGMPRanker is not fitted yet; call fit(...) first")

    def _resolution(self, resolution: int | None) -> int:
        self._check_fitted()
        if resolution is None:
            return max(self.kept_sets_)
        if resolution not in self.kept_sets_:
            raise ValueError(
                f"resolution {resolution} was not recorded (have {sorted(self.kept_sets_)})"
            )
        return int(resolution)

    def kept_(self, resolution: int) -> np.ndarray:
        """Molecule indices of the atoms kept at ``resolution``, sorted, shape (M,)."""
        return self.atom_indices_[self.kept_sets_[self._resolution(resolution)]]

    def model_at(self, resolution: int | None = None) -> CGMPModel:
        """The network as recorded at the end of ``resolution`` (default: full)."""
        resolution = self._resolution(resolution)
        if resolution not in self._models:
            model = CGMPModel(self.config_)
            model.load_state_dict(self.model_states_[resolution])
            self._models[resolution] = model.eval()
        return self._models[resolution]

    def contributions(self, positions, resolution: int | None = None):
        """Property and per-atom contributions predicted from the atoms kept at ``resolution``.

        Parameters
        ----------
        positions : ndarray, shape (F, N, 3) or (N, 3), Å
            Positions of the whole molecule (all ``N`` atoms, in training order).
        resolution : int, optional
            Number of kept atoms ``M`` (default: full resolution).

        Returns
        -------
        prediction : ndarray, shape (F,) or (), eV
        atom_contributions : ndarray, shape (F, N) or (N,), eV
            Contribution of each molecule atom; 0 for atoms that are not kept. They sum to
            ``prediction - bias``, the bias being the constant output offset.
        """
        resolution = self._resolution(resolution)
        positions = np.asarray(positions, dtype=float)
        single = positions.ndim == 2
        if single:
            positions = positions[None]
        if positions.shape[1:] != (self.n_molecule_atoms_, 3):
            raise ValueError(
                f"positions must have shape (F, {self.n_molecule_atoms_}, 3), got {positions.shape}"
            )
        kept = self.kept_sets_[resolution]
        model = self.model_at(resolution)
        gates = model.gates().detach()[torch.as_tensor(kept)]
        atoms = torch.as_tensor(kept)
        kept_positions = torch.as_tensor(
            positions[:, self.atom_indices_[kept]], dtype=torch.float32
        )
        prediction, per_atom = predict_batched(model, kept_positions, atom_ids=atoms, gates=gates)
        full = np.zeros(positions.shape[:2])
        full[:, self.atom_indices_[kept]] = per_atom.numpy() * self.scale_
        prediction = prediction.numpy().astype(float) * self.scale_ + self.mean_
        if single:
            return prediction[0], full[0]
        return prediction, full

    def predict(self, positions, resolution: int | None = None) -> np.ndarray:
        """Predicted property (eV) from the atoms kept at ``resolution``, shape (F,)."""
        return self.contributions(positions, resolution)[0]

    def score(self, positions, values, resolution: int | None = None) -> float:
        """R^2 of :meth:`predict` against ``values`` (F,) eV."""
        return r2_score(values, self.predict(positions, resolution))

    def to_cgmap(self, resolution: int):
        """Decimation :class:`~cgkit.mapping.CGMap` keeping the atoms of ``resolution``."""
        from cgkit.mapping import CGMap

        return CGMap.decimation(self.kept_(resolution), self.n_molecule_atoms_, masses=self.masses_)

    def atomic_covariance(self, data, resolution: int | None = None) -> np.ndarray:
        """Covariance over frames of the per-atom contributions before pooling (Fig. 7).

        Parameters
        ----------
        data : ndarray (F, N, 3) Å, or anything :func:`load_property_data` reads
        resolution : int, optional
            Network snapshot and kept atoms to use (default: full resolution).

        Returns
        -------
        ndarray, shape (n, n), eV^2
            Rows and columns follow ``atom_indices_``; atoms not kept have zero rows.
        """
        if isinstance(data, np.ndarray):
            positions = data
        else:
            positions = load_property_data(data).positions
        _, per_atom = self.contributions(positions, resolution)
        return np.atleast_2d(np.cov(per_atom[:, self.atom_indices_], rowvar=False))

    def top_covariance_edges(self, covariance: np.ndarray, k: int = 10) -> list:
        """The ``k`` off-diagonal entries of largest magnitude of an :meth:`atomic_covariance`.

        Returns
        -------
        list of (atom_i, atom_j, covariance) with molecule indices ``atom_i < atom_j``.
        """
        rows, cols = np.triu_indices(covariance.shape[0], k=1)
        order = np.argsort(-np.abs(covariance[rows, cols]), kind="stable")[:k]
        return [
            (
                int(self.atom_indices_[rows[i]]),
                int(self.atom_indices_[cols[i]]),
                float(covariance[rows[i], cols[i]]),
            )
            for i in order
        ]

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write the snapshots (state_dicts) and a JSON description to ``path`` (``.pt``)."""
        from cgkit.cgmp.persistence import save_ranker

        self._check_fitted()
        save_ranker(self, path)

    @classmethod
    def load(cls, path) -> CGMPRanker:
        """Read a ranker written by :meth:`save` (``weights_only`` loading, no pickle)."""
        from cgkit.cgmp.persistence import load_ranker

        return load_ranker(path)
