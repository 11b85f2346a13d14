"""Temporally coherent backmapping with a conditional VAE (Shmilovich et al. 2022,
arXiv 2205.05213; Stieffenhofer thesis ch. 8).

A CG trajectory is backmapped frame by frame. Each frame lives in the local frame of its
beads (:mod:`cgkit.backmap.temporal.data`); every particle has its own Gaussian density
channel on a voxel grid. Training: the encoder maps ``E(r_t)`` to a latent z, the decoder
maps ``E(R_t)``, ``E(r_{t-lag})`` and z to ``E(r_t)``; coordinates are weighted means of
the generated densities. The previous frame is moved onto the current beads first, each
bead's atoms rigidly with their bead (atoms a decimation map drops follow the nearest
bead), so the decoder's copy prior is already CG consistent. Inference: z is drawn from
a Gaussian mixture fitted to the encoder means, the first all-atom frame comes from a
library of training frames (nearest CG configuration), the rest autoregressively. Bonds
the reference MD kept rigid (bonds to hydrogen) can be passed to :meth:`fit` as
:class:`~cgkit.backmap.temporal.constraints.BondConstraints`; every generated frame then
has them at their lengths.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import torch

from cgkit._version import __version__
from cgkit.backmap.projection import project_to_beads
from cgkit.backmap.temporal import losses
from cgkit.backmap.temporal.config import TemporalVAEConfig
from cgkit.backmap.temporal.constraints import BondConstraints
from cgkit.backmap.temporal.data import (
    assign_atoms_to_beads,
    local_frames,
    shift_to_beads,
    temporal_pairs,
)
from cgkit.backmap.temporal.library import LibraryBackmapper
from cgkit.backmap.temporal.networks import TemporalDecoder, TemporalEncoder
from cgkit.backmap.voxel import density_to_coordinate, gaussian_density, make_grid
from cgkit.units import KB_EV

_FORMAT = "cgkit.TemporalVAEBackmapper/1"


class TemporalVAEBackmapper:
    """Conditional-VAE trajectory backmapper (scikit-learn style).

    Parameters
    ----------
    config : TemporalVAEConfig, optional
    energy : torch.nn.Module, optional
        Maps positions (B, N, 3) Å to energies (B,) eV, e.g.
        :class:`cgkit.backmap.temporal.openmm_energy.OpenMMEnergy`; enables the
        force-field term (training only, not saved).
    """

    def __init__(self, config: TemporalVAEConfig | None = None, energy=None):
        self.config = config or TemporalVAEConfig()
        self.energy = energy

    # ------------------------------------------------------------------ set-up
    def _setup(self, weights, symbols, reference, lag, atom_to_bead) -> None:
        cfg = self.config
        self.weights_ = np.asarray(weights, dtype=float)
        self.atom_to_bead_ = np.asarray(atom_to_bead, dtype=np.int64)
        self.symbols_ = list(symbols)
        self.reference_ = np.asarray(reference, dtype=float)
        self.lag_ = int(lag)
        n_beads, n_atoms = self.weights_.shape
        self.grid_ = make_grid(cfg.resolution, cfg.length)
        self.encoder_ = TemporalEncoder(n_atoms, cfg.resolution, cfg.channels, cfg.latent_dim)
        self.decoder_ = TemporalDecoder(
            n_atoms, n_beads, cfg.resolution, cfg.channels, cfg.latent_dim, cfg.n_blocks
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "decoder_"):
            raise RuntimeError("TemporalVAEBackmapper is not fitted; call fit() or load()")

    def _density(self, positions: torch.Tensor) -> torch.Tensor:
        return gaussian_density(positions, self.grid_, self.config.sigma_sq)

    def _decode(self, beads, previous, latent):
        """Local-frame beads (B, M, 3), previous atoms (B, N, 3), z -> (probs, coords)."""
        logits = self.decoder_(self._density(beads), self._density(previous), latent)
        probs = torch.softmax(logits.flatten(2), dim=-1).view_as(logits)
        return probs, density_to_coordinate(probs, self.grid_)

    # ---------------------------------------------------------------- training
    @staticmethod
    def _read(data, system):
        """Positions (F, N, 3) Å and symbols from a store, a store path or an array."""
        import cgkit.data

        if isinstance(data, np.ndarray):
            return data, None
        store = cgkit.data.open(data) if not hasattr(data, "system_names") else data
        try:
            names = store.system_names
            if system is None:
                if len(names) != 1:
                    raise ValueError(f"{store.path}: pass system=, the store holds {names}")
                system = names[0]
            target = store[system]
            return target.read_positions(), target.symbols
        finally:
            if store is not data:
                store.close()

    def fit(self, data, cgmap, lag: int = 1, system: str | None = None, segment_ids=None,
            constraints: BondConstraints | None = None):  # fmt: skip
        """Train on an all-atom trajectory.

        Parameters
        ----------
        data : cgkit.data.Store, path of a store, or ndarray (F, N, 3) Å
            Consecutive frames at a fixed interval (molecule whole).
        cgmap : cgkit.mapping.CGMap
        lag : int
            Conditioning lag tau in frames.
        system : str, optional
            System of the store (default: its only system).
        segment_ids : array (F,), optional
            Trajectory segment of every frame; no pair spans two segments.
        constraints : BondConstraints, optional
            Rigid bonds of the reference MD (e.g. ``BondConstraints.from_openmm`` of a
            system built with ``HBonds``), imposed on every backmapped frame after the
            projection onto the beads (which they keep exact when the map gives the
            moved atoms no weight, as decimation maps do for hydrogens).

        Returns
        -------
        self
        """
        cfg = self.config
        positions, symbols = self._read(data, system)
        positions = np.asarray(positions, dtype=float)
        if positions.ndim != 3 or positions.shape[1] != cgmap.n_atoms:
            raise ValueError(
                f"frames of shape {positions.shape} do not match a map of {cgmap.n_atoms} atoms"
            )
        if symbols is None:
            symbols = cgmap.symbols or ["X"] * cgmap.n_atoms
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        weights = cgmap.weights
        reference = weights @ positions[0]
        atom_to_bead = assign_atoms_to_beads(weights, positions[0])
        self._setup(weights, symbols, reference - reference.mean(0), lag, atom_to_bead)
        self.constraints_ = constraints
        if (
            constraints is not None
            and constraints.pairs.size
            and (constraints.pairs.max() >= cgmap.n_atoms)
        ):
            raise ValueError(
                f"constraint atom {constraints.pairs.max()} outside a map of {cgmap.n_atoms} atoms"
            )
        pairs = temporal_pairs(
            positions, weights, self.reference_, lag, segment_ids, self.atom_to_bead_
        )
        self.library_ = LibraryBackmapper(cfg.library_size).fit(positions, weights)
        weights_t = torch.tensor(weights, dtype=torch.float32)
        params = [*self.encoder_.parameters(), *self.decoder_.parameters()]
        optimizer = torch.optim.Adam(params, lr=cfg.learning_rate)
        kt = KB_EV * cfg.temperature
        self.history_ = []
        for step in range(cfg.n_steps):
            batch = rng.choice(len(pairs), size=min(cfg.batch_size, len(pairs)), replace=False)
            beads, previous, current = pairs.tensors(batch)
            if cfg.previous_noise > 0:  # inference conditions on generated, imperfect frames
                previous = previous + cfg.previous_noise * torch.randn_like(previous)
            target = self._density(current)
            mean, log_var = self.encoder_(target)
            latent = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
            probs, coords = self._decode(beads, previous, latent)
            generated = probs * target.flatten(2).sum(-1)[..., None, None, None]
            terms = {
                "voxel": losses.voxel_loss(generated, target),
                "coordinate": losses.coordinate_loss(coords, current),
                "distance": losses.distance_matrix_loss(coords, current),
                "cg": losses.cg_consistency_loss(coords, weights_t, beads),
                "kl": losses.kl_divergence(mean, log_var),
            }
            beta = losses.cyclic_beta(step, cfg.beta_period, cfg.beta)
            energy_w = losses.exponential_ramp(step, cfg.n_steps, 0.0, cfg.energy_weight)
            total = (
                cfg.voxel_weight * terms["voxel"]
                + cfg.coordinate_weight * terms["coordinate"]
                + cfg.distance_weight * terms["distance"]
                + cfg.cg_weight * terms["cg"]
                + beta * terms["kl"]
            )
            if self.energy is not None and cfg.energy_weight > 0:
                terms["energy"] = self._energy_term(coords, current, kt)
                total = total + energy_w * terms["energy"]
            optimizer.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            optimizer.step()
            self.history_.append({k: v.item() for k, v in terms.items()} | {"total": total.item()})
        self._fit_prior(pairs)
        return self

    def _energy_term(self, coords: torch.Tensor, current: torch.Tensor, kt: float):
        """Eq. 8.5 on generated coords (B, N, 3) Å, against the reference frames in "match"
        mode; energies in kT."""
        if self.constraints_ is not None:
            coords = self.constraints_.apply_tensor(coords)
        generated = self.energy(coords.double()).float() / kt
        if self.config.energy_mode == "min":
            return losses.energy_loss(generated, self.config.energy_cap)
        with torch.no_grad():
            reference = self.energy(current.double()).float() / kt
        return losses.energy_match_loss(generated, reference, self.config.energy_cap)

    @torch.no_grad()
    def _fit_prior(self, pairs) -> None:
        from sklearn.mixture import GaussianMixture

        means = []
        for start in range(0, len(pairs), 256):
            _, _, current = pairs.tensors(slice(start, start + 256))
            means.append(self.encoder_(self._density(current))[0].numpy())
        means = np.concatenate(means)
        n_components = min(self.config.n_components, len(means))
        gmm = GaussianMixture(n_components, covariance_type="full", random_state=self.config.seed)
        gmm.fit(means)
        self.prior_weights_ = gmm.weights_
        self.prior_means_ = gmm.means_
        self.prior_chol_ = np.linalg.cholesky(gmm.covariances_)

    # --------------------------------------------------------------- inference
    def sample_latent(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        """``n`` latent vectors (n, latent_dim) from the Gaussian-mixture prior."""
        self._check_fitted()
        comp = rng.choice(len(self.prior_weights_), size=n, p=self.prior_weights_)
        noise = rng.standard_normal((n, self.prior_means_.shape[1]))
        z = self.prior_means_[comp] + np.einsum("nij,nj->ni", self.prior_chol_[comp], noise)
        return torch.as_tensor(z, dtype=torch.float32)

    @torch.no_grad()
    def backmap_step(self, bead_positions, previous_positions, rng=None) -> np.ndarray:
        """One autoregressive step: all-atom frame (N, 3) Å at t from beads (M, 3) Å at t
        and the all-atom frame (N, 3) Å at t - lag (lab frame)."""
        self._check_fitted()
        rng = rng if rng is not None else np.random.default_rng(self.config.seed)
        beads = np.asarray(bead_positions, dtype=float)[None]
        frames = local_frames(beads, self.reference_)
        previous = shift_to_beads(
            np.asarray(previous_positions, dtype=float)[None], self.weights_, beads,
            self.atom_to_bead_,
        )  # fmt: skip
        previous = frames.to_local(previous)
        _, coords = self._decode(
            torch.as_tensor(frames.to_local(beads), dtype=torch.float32),
            torch.as_tensor(previous, dtype=torch.float32),
            self.sample_latent(1, rng),
        )
        return self._snap(frames.to_lab(coords.double().numpy())[0], beads[0])

    def _snap(self, atoms: np.ndarray, beads: np.ndarray) -> np.ndarray:
        """With ``config.project``: atoms (N, 3) moved onto beads (M, 3), each bead's atoms
        rigidly by its residual, then the least-norm projection (exact CG consistency);
        then the bond constraints, if any."""
        if self.config.project:
            atoms = shift_to_beads(atoms, self.weights_, beads, self.atom_to_bead_)
            atoms = project_to_beads(atoms, self._cgmap(), beads)
        if self.constraints_ is not None:
            atoms = self.constraints_.apply(atoms)
        return atoms

    def _cgmap(self):
        from cgkit.mapping import CGMap

        return CGMap(self.weights_, allow_unmapped=True)

    def backmap_trajectory(self, bead_positions, seed: int | None = None, initial_frames=None,
                           out=None) -> np.ndarray:  # fmt: skip
        """Backmap a CG trajectory autoregressively.

        Parameters
        ----------
        bead_positions : ndarray (F, M, 3), Å
            Consecutive CG frames at the training frame interval.
        seed : int, optional
            Seed of the latent draws (default: ``config.seed``); equal seeds give equal
            trajectories.
        initial_frames : ndarray (lag, N, 3), Å, optional
            All-atom frames of the first ``lag`` CG frames; default: library frames with
            the nearest CG configuration, superposed on the beads (and projected onto them
            with ``config.project``).
        out : cgkit.data.System, optional
            Writable store system; the frames are appended to it.

        Returns
        -------
        ndarray (F, N, 3), Å
        """
        self._check_fitted()
        beads = np.asarray(bead_positions, dtype=float)
        if beads.ndim != 3 or beads.shape[1:] != self.reference_.shape:
            raise ValueError(
                f"CG frames of shape {beads.shape}; this model backmaps "
                f"{self.reference_.shape[0]} beads"
            )
        rng = np.random.default_rng(self.config.seed if seed is None else seed)
        lag = self.lag_
        result = np.empty((len(beads), self.weights_.shape[1], 3))
        n_init = min(lag, len(beads))
        if initial_frames is None:
            initial = self.library_.backmap(beads[:n_init])
            result[:n_init] = [self._snap(a, b) for a, b in zip(initial, beads, strict=False)]
        else:
            result[:n_init] = np.asarray(initial_frames, dtype=float)[:n_init]
        for t in range(n_init, len(beads)):
            result[t] = self.backmap_step(beads[t], result[t - lag], rng)
        if out is not None:
            out.append_frames(result)
        return result

    def transform(self, cg_trajectory, seed: int | None = None) -> list:
        """Atoms form: consecutive CG ``ase.Atoms`` (beads) -> list of all-atom ``ase.Atoms``
        (see :meth:`backmap_trajectory` for ``seed``)."""
        from ase import Atoms

        beads = np.stack([a.positions for a in cg_trajectory])
        frames = self.backmap_trajectory(beads, seed=seed)
        return [Atoms(self.symbols_, positions=p) for p in frames]

    # --------------------------------------------------------------- save/load
    def save(self, path) -> None:
        """Write weights (state_dict), prior, library and JSON metadata into one torch file."""
        self._check_fitted()
        meta = {
            "format": _FORMAT,
            "cgkit_version": __version__,
            "config": asdict(self.config),
            "symbols": self.symbols_,
            "lag": self.lag_,
        }
        arrays = {
            "weights": self.weights_,
            "reference": self.reference_,
            "prior_weights": self.prior_weights_,
            "prior_means": self.prior_means_,
            "prior_chol": self.prior_chol_,
            "library": self.library_.positions_,
            "atom_to_bead": self.atom_to_bead_,
        }
        if self.constraints_ is not None:
            arrays["constraint_pairs"] = self.constraints_.pairs
            arrays["constraint_lengths"] = self.constraints_.lengths
        torch.save(
            {
                "meta": json.dumps(meta),
                "encoder": self.encoder_.state_dict(),
                "decoder": self.decoder_.state_dict(),
                "arrays": {k: torch.tensor(np.array(v)) for k, v in arrays.items()},
            },
            path,
        )

    @classmethod
    def load(cls, path) -> TemporalVAEBackmapper:
        """Rebuild a backmapper written by :meth:`save` (``weights_only`` loading)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(state["meta"])
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a saved TemporalVAEBackmapper")
        arrays = {k: v.numpy() for k, v in state["arrays"].items()}
        obj = cls(TemporalVAEConfig(**meta["config"]))
        obj._setup(arrays["weights"], meta["symbols"], arrays["reference"], meta["lag"],
                   arrays["atom_to_bead"])  # fmt: skip
        obj.encoder_.load_state_dict(state["encoder"])
        obj.decoder_.load_state_dict(state["decoder"])
        obj.prior_weights_ = arrays["prior_weights"]
        obj.prior_means_ = arrays["prior_means"]
        obj.prior_chol_ = arrays["prior_chol"]
        obj.library_ = LibraryBackmapper().fit(arrays["library"], arrays["weights"])
        obj.constraints_ = (
            BondConstraints(arrays["constraint_pairs"], arrays["constraint_lengths"])
            if "constraint_pairs" in arrays
            else None
        )
        obj.history_ = []
        return obj
