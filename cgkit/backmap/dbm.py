"""DBM backmapping: autoregressive conditional WGAN over voxelised local environments.

Stieffenhofer, Wand & Bereau, Mach. Learn.: Sci. Technol. 1, 045014 (2020) and
Stieffenhofer's thesis, sections 4.2-4.5. Atoms are placed bead by bead
(:mod:`cgkit.backmap.environment`); for each atom a generator turns the voxelised local
environment, the atom type and noise into a density whose weighted mean is the new
position (eq. 4.11). Training (:mod:`cgkit.backmap.training`) unrolls each bead's
sequence (eq. 4.13) with an annealed force-field prior (eq. 4.15/4.16). Inference samples
forward, then runs Gibbs sweeps; per environment several z rotations and noise draws are
tried and the lowest-energy candidate kept. Repair sweeps then re-place only the beads
left with close contacts (:mod:`cgkit.backmap.repair`).
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import torch
from ase import Atoms
from threadpoolctl import threadpool_limits

from cgkit._version import __version__
from cgkit.backmap.batch import EnvironmentBuilder
from cgkit.backmap.config import DBMConfig
from cgkit.backmap.environment import make_plan
from cgkit.backmap.forcefield import ForceField, Topology
from cgkit.backmap.generation import SequenceTensors, rotate_about_z, unroll
from cgkit.backmap.networks import Critic, Generator, InferenceGenerator, inference_dtype
from cgkit.backmap.projection import BeadConstraint, project_to_beads
from cgkit.backmap.relax import backmap_frames
from cgkit.backmap.repair import conflict_free_groups, contact_beads
from cgkit.backmap.serialization import (
    forcefield_from_dict,
    forcefield_to_dict,
    topology_from_dict,
    topology_to_dict,
)
from cgkit.backmap.training import train
from cgkit.backmap.voxel import make_grid

_FORMAT = "cgkit.backmap.DBMBackmapper"


def atom_to_bead_from_map(cgmap, atom_bonds=None) -> np.ndarray:
    """Placement bead of every atom: the bead with its largest weight (ties: lowest bead);
    atoms of no bead take the bead of a bonded atom."""
    weights = np.asarray(cgmap.weights)
    owner = np.where(weights.max(axis=0) > 0, weights.argmax(axis=0), -1)
    bonds = np.zeros((0, 2), int) if atom_bonds is None else np.asarray(atom_bonds, int)
    for _ in range(len(owner)):
        missing = owner < 0
        if not missing.any():
            break
        for i, j in bonds:
            if owner[i] < 0 <= owner[j]:
                owner[i] = owner[j]
            elif owner[j] < 0 <= owner[i]:
                owner[j] = owner[i]
        if np.array_equal(missing, owner < 0):
            raise ValueError(f"atom {int(np.flatnonzero(owner < 0)[0])} is bonded to no bead")
    return owner


def _tqdm(verbose):
    def make(total):
        from tqdm.auto import tqdm

        return tqdm(total=total, disable=not verbose, desc="DBM training")

    return make


class DBMBackmapper:
    """Deep backmapping (DBM) of CG configurations to all-atom ones.

    Parameters
    ----------
    forcefield : ForceField
        Interaction parameters and voxel channels (``read_forcefield("ff.txt")``).
    config : DBMConfig or None
    device : str
        Torch device (``"cpu"`` or ``"cuda"``).
    verbose : bool
        Show progress bars.
    warm_start : bool
        ``fit`` on a fitted backmapper continues training its networks (same topology
        and map) instead of starting afresh.

    Attributes (after ``fit``)
    --------------------------
    generator_, critic_ : torch modules
    topology_ : Topology, cgmap_ : CGMap, atom_to_bead_ : ndarray (N,)
    plan_ : PlacementPlan, history_ : list of per-batch losses
    """

    def __init__(self, forcefield: ForceField, config: DBMConfig | None = None, device="cpu",
                 verbose=False, warm_start=False):  # fmt: skip
        self.forcefield = forcefield
        self.config = config
        self.device = device
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ setup
    @property
    def _cfg(self) -> DBMConfig:
        return self.config if self.config is not None else DBMConfig()

    def _setup(self, topology: Topology, cgmap, atom_to_bead):
        cfg = self._cfg
        if topology.n_atoms != cgmap.n_atoms:
            raise ValueError(
                f"topology has {topology.n_atoms} atoms but the map has {cgmap.n_atoms}"
            )
        self.topology_, self.cgmap_ = topology, cgmap
        if atom_to_bead is None:
            atom_to_bead = atom_to_bead_from_map(cgmap, topology.bonds)
        self.atom_to_bead_ = np.asarray(atom_to_bead, dtype=int)
        heavy = np.array([s != "H" for s in topology.symbols])
        rng = np.random.default_rng(cfg.seed)
        self.plan_ = make_plan(topology.bonds, self.atom_to_bead_, cgmap.n_beads, heavy,
                               cfg.order, rng)  # fmt: skip
        self.builder_ = EnvironmentBuilder(
            topology, self.forcefield, self.atom_to_bead_, list(cgmap.bead_types), self.plan_,
            cfg.cutoff, cfg.hide_hydrogens,
        )  # fmt: skip
        self.constraint_ = BeadConstraint(cgmap, self.plan_.sequences)
        self.excluded_ = topology.excluded_pairs()
        self.sigma_ = np.array([self.forcefield.atom_types[t].sigma for t in topology.atom_types])
        self.grid_ = make_grid(cfg.resolution, cfg.grid_length, device=self.device)
        n_channels = self.builder_.channels.n_channels
        self.n_atom_types_ = len(self.builder_.channels.type_names)
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG untouched
            torch.manual_seed(cfg.seed)
            self.generator_ = Generator(n_channels, self.n_atom_types_, cfg.noise_dim,
                                        cfg.width, cfg.resolution).to(self.device)  # fmt: skip
            self.critic_ = Critic(n_channels + 1, cfg.width, cfg.resolution).to(self.device)

    def _frames(self, pairs_or_store):
        """List of (positions, bead_positions, cell) from pairs, AA frames or a store system."""
        n_atoms, cgmap = self.topology_.n_atoms, self.cgmap_
        frames = []
        if hasattr(pairs_or_store, "read_positions"):  # a cgkit.data System
            positions = pairs_or_store.read_positions()
            cells = pairs_or_store.read_cell()
            items = [(positions[i], None if cells is None else cells[i], None)
                     for i in range(len(positions))]  # fmt: skip
        else:
            items = []
            for item in pairs_or_store:
                aa, cg = item if isinstance(item, tuple | list) else (item, None)
                cell = aa.cell.array if aa.pbc.any() else None
                items.append((aa.positions, cell, None if cg is None else cg.positions))
        for f, (positions, cell, beads) in enumerate(items):
            if len(positions) != n_atoms:
                raise ValueError(f"frame {f} has {len(positions)} atoms, topology has {n_atoms}")
            if beads is None:
                beads = cgmap.map_positions(positions, cell=cell)
            if len(beads) != cgmap.n_beads:
                raise ValueError(f"frame {f} has {len(beads)} beads, the map has {cgmap.n_beads}")
            frames.append((np.asarray(positions, float), np.asarray(beads, float), cell))
        if not frames:
            raise ValueError("no training frames given")
        return frames

    # ------------------------------------------------------------------ API
    def fit(self, pairs_or_store, topology: Topology, cgmap, atom_to_bead=None) -> DBMBackmapper:
        """Train on paired AA/CG frames.

        Parameters
        ----------
        pairs_or_store : sequence of (aa_atoms, cg_atoms) or of aa_atoms, or a
            ``cgkit.data`` system
            All-atom frames (Å) with their CG frames; without CG frames the beads are
            mapped with ``cgmap`` (periodic-aware).
        topology : Topology
            Atoms and bonded terms of the whole system (``read_itp(...).replicate(n)``).
        cgmap : cgkit.mapping.CGMap
        atom_to_bead : ndarray (N,) or None
            Bead that places each atom; default: the bead with the atom's largest weight.

        Returns
        -------
        self
        """
        if self.warm_start and hasattr(self, "generator_"):
            if topology.n_atoms != self.topology_.n_atoms or cgmap != self.cgmap_:
                raise ValueError("warm_start needs the topology and map of the first fit")
            # inference leaves the generator's weights in channels_last; train in the default
            self.generator_.to(memory_format=torch.contiguous_format)
        else:
            self._setup(topology, cgmap, atom_to_bead)
        frames = self._frames(pairs_or_store)
        with torch.random.fork_rng(devices=[]):
            self.history_ = train(self.generator_, self.critic_, self.builder_, frames,
                                  self._cfg, self.n_atom_types_, self.grid_, self.device,
                                  _tqdm(self.verbose))  # fmt: skip
        return self

    def _check_fitted(self):
        if not hasattr(self, "generator_"):
            raise RuntimeError("DBMBackmapper is not fitted; call fit() or load() first")

    @torch.no_grad()
    def place_beads(self, beads, positions, placed, bead_positions, cell, gibbs, rng, noise=None,
                    n_candidates=None):  # fmt: skip
        """(Re-)place the atoms of ``beads`` in place; other atoms stay untouched.

        Parameters
        ----------
        beads : ndarray (B,)
        positions : ndarray (N, 3) Å, modified in place
        placed : ndarray of bool (N,), modified in place; atoms usable as environment
        bead_positions : ndarray (M, 3) Å; cell : ndarray (3, 3) or None
        gibbs : bool
            Re-place with all other atoms present (sequence atoms at their old positions).
        rng : numpy Generator
            Draws the candidate rotations.
        noise : torch.Generator or None
            Draws the generator noise.
        n_candidates : int or None
            Candidates per environment (None: the config's ``n_candidates``).
        """
        self._check_fitted()
        cfg = self._cfg
        self.generator_.eval()
        dtype = inference_dtype(cfg.inference_dtype, self.device)
        gen = InferenceGenerator(self.generator_, dtype)
        lengths = np.array([len(self.plan_.sequences[b]) for b in beads])
        for length in np.unique(lengths):
            group = np.asarray(beads)[lengths == length]
            present = np.ones_like(placed) if gibbs else placed
            batch = self.builder_.build(group, positions, present, bead_positions, cell,
                                        gibbs=gibbs)  # fmt: skip
            # all candidates (random z rotation + noise) of all environments in one pass
            n_group, n_cand = len(group), n_candidates or cfg.n_candidates
            angles = torch.as_tensor(rng.uniform(0, 2 * np.pi, n_cand * n_group),
                                     dtype=torch.float32, device=self.device)  # fmt: skip
            tensors = SequenceTensors(batch, self.grid_, cfg.sigma_sq, angles, self.device,
                                      gen.dtype, n_copies=n_cand)  # fmt: skip
            coords, _ = unroll(gen, tensors, self.n_atom_types_, cfg.noise_dim, gibbs, noise)
            if cfg.constrain_to_beads:
                coords = self._constrain(coords, group, batch, angles, positions, placed, cell)
            # plain LJ: a clash must cost its full energy when candidates are compared
            energy = tensors.energy(coords, soft_core=0.0, bond_stiffness=cfg.bond_stiffness)
            energy = energy.cpu().numpy()
            energy = np.nan_to_num(energy, nan=np.inf).reshape(n_cand, n_group)
            local = rotate_about_z(coords, -angles).cpu().numpy().astype(float)
            local = local.reshape(n_cand, n_group, -1, 3)
            best = local[np.argmin(energy, axis=0), np.arange(n_group)]
            positions[batch.sequence] = batch.centres[:, None] + np.matmul(best, batch.rotations)
            placed[batch.sequence] = True
        return positions

    def _constrain(self, coords, beads, batch, angles, positions, placed, cell):
        """Shift every candidate sequence (n B, L, 3) so its bead maps onto its target."""
        weights, scale, offset = self.constraint_.terms(
            beads, positions, placed, batch.centres, batch.rotations, cell
        )
        n_copies = len(coords) // len(beads)

        def t(x):
            x = torch.as_tensor(x, dtype=coords.dtype, device=coords.device)
            return x.repeat(n_copies, *([1] * (x.dim() - 1)))

        offset = rotate_about_z(t(offset)[:, None], angles)  # (n B, 1, 3)
        mapped = (t(weights)[..., None] * coords).sum(1, keepdim=True) + offset
        return coords - mapped * t(scale)[:, None, None]

    def clashing_beads(self, positions, cell=None, return_pairs=False):
        """Beads (sorted) owning an atom of a pair closer than ``clash_factor`` x its sigma;
        with ``return_pairs`` also the bead pairs (P, 2) of those contacts."""
        self._check_fitted()
        found = contact_beads(positions, self.sigma_, self.excluded_, self.atom_to_bead_,
                              self._cfg.clash_factor, cell)  # fmt: skip
        return found if return_pairs else found[0]

    def transform(self, cg_atoms, seed=None) -> Atoms:
        """Backmap one CG configuration.

        Parameters
        ----------
        cg_atoms : ase.Atoms
            M beads in map order (Å); cell and pbc are used when periodic. Not modified.
        seed : int or None

        Returns
        -------
        ase.Atoms
            New object: N atoms (symbols from the topology, ``atomtypes`` array with the
            force-field types, masses from the force field), same cell and pbc.
        """
        self._check_fitted()
        cfg = self._cfg
        bead_positions = np.asarray(cg_atoms.positions, dtype=float)
        if len(bead_positions) != self.cgmap_.n_beads:
            raise ValueError(f"CG configuration has {len(bead_positions)} beads, "
                             f"the map has {self.cgmap_.n_beads}")  # fmt: skip
        cell = cg_atoms.cell.array.copy() if cg_atoms.pbc.any() else None
        rng = np.random.default_rng(cfg.seed if seed is None else seed)
        noise = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**31)))
        # numpy's BLAS threads spin between the (small) numpy calls and take the cores from
        # torch's convolutions: one BLAS thread is ~10 % faster per sPS frame on 2 cores
        with threadpool_limits(limits=1, user_api="blas"):
            positions = self._sample(bead_positions, cell, rng, noise)
        if cfg.project_to_beads:
            positions = project_to_beads(positions, self.cgmap_, bead_positions, cell)
        return self._atoms(positions, cg_atoms)

    __call__ = transform

    def _sample(self, bead_positions, cell, rng, noise) -> np.ndarray:
        """Forward pass, Gibbs sweeps and repair sweeps; positions (N, 3) Å."""
        cfg = self._cfg
        n_atoms = self.topology_.n_atoms
        positions, placed = np.zeros((n_atoms, 3)), np.zeros(n_atoms, dtype=bool)
        for beads in self.plan_.steps:
            self.place_beads(beads, positions, placed, bead_positions, cell, False, rng, noise)
        for _ in range(cfg.n_gibbs):
            for beads in self.plan_.steps:
                self.place_beads(beads, positions, placed, bead_positions, cell, True, rng, noise)
        n_flagged = np.inf
        for _ in range(cfg.n_repair):
            flagged, bead_pairs = self.clashing_beads(positions, cell, return_pairs=True)
            if not len(flagged) or len(flagged) >= n_flagged:  # done, or no longer helping
                break
            n_flagged = len(flagged)
            for group in conflict_free_groups(flagged, bead_pairs, self.builder_.bead_neighbours):
                self.place_beads(group, positions, placed, bead_positions, cell, True, rng,
                                 noise, n_candidates=cfg.repair_candidates)  # fmt: skip
        return positions

    def _atoms(self, positions, cg_atoms) -> Atoms:
        types = self.topology_.atom_types
        atoms = Atoms(symbols=self.topology_.symbols, positions=positions,
                      cell=cg_atoms.cell.copy(), pbc=cg_atoms.pbc.copy())  # fmt: skip
        atoms.set_masses([self.forcefield.atom_types[t].mass for t in types])
        atoms.set_array("atomtypes", np.array(types))
        return atoms

    def backmap_trajectory(self, cg_frames, store=None, seed=None) -> list[Atoms]:
        """Backmap every CG frame; optionally append the results to a store system.

        Parameters
        ----------
        cg_frames : iterable of ase.Atoms
        store : cgkit.data System or None
            Receives the backmapped positions (and cells) via ``append_frames``.
        seed : int or None
        """
        return backmap_frames(self.transform, cg_frames, store,
                              self._cfg.seed if seed is None else seed)  # fmt: skip

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write weights (state_dict) and JSON metadata (config, force field, topology,
        map, placement assignment, cgkit version) into one torch file."""
        self._check_fitted()
        meta = {
            "format": _FORMAT,
            "cgkit_version": __version__,
            "config": asdict(self._cfg),
            "forcefield": forcefield_to_dict(self.forcefield),
            "topology": topology_to_dict(self.topology_),
            "cgmap": self.cgmap_.to_dict(),
            "atom_to_bead": self.atom_to_bead_.tolist(),
            "device": str(self.device),
            "verbose": self.verbose,
        }
        torch.save({"meta": json.dumps(meta), "generator": self.generator_.state_dict(),
                    "critic": self.critic_.state_dict()}, path)  # fmt: skip

    @classmethod
    def load(cls, path, device=None) -> DBMBackmapper:
        """Rebuild a backmapper written by :meth:`save` (``weights_only`` loading)."""
        from cgkit.mapping import CGMap

        state = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(state["meta"])
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a saved DBMBackmapper (format {meta.get('format')!r})")
        cfg = meta["config"]
        cfg["prior_weights"], cfg["prior_schedule"] = (tuple(cfg["prior_weights"]),
                                                       tuple(cfg["prior_schedule"]))  # fmt: skip
        obj = cls(forcefield_from_dict(meta["forcefield"]), DBMConfig(**cfg),
                  device or meta["device"], meta["verbose"])  # fmt: skip
        obj._setup(topology_from_dict(meta["topology"]), CGMap.from_dict(meta["cgmap"]),
                   np.asarray(meta["atom_to_bead"]))  # fmt: skip
        obj.generator_.load_state_dict(state["generator"])
        obj.critic_.load_state_dict(state["critic"])
        obj.history_ = []
        return obj
