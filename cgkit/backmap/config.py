"""Hyperparameters of :class:`~cgkit.backmap.DBMBackmapper` (training and inference)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cgkit.backmap.networks import INFERENCE_DTYPES


@dataclass
class DBMConfig:
    """Hyperparameters of :class:`~cgkit.backmap.DBMBackmapper` (lengths Å, energies eV).

    Defaults follow the authors' ``config.ini`` (grid 8^3 over 1.2 nm, sigma 0.02 nm^2,
    cutoff 0.7 nm, DFS order, 4 critic steps per generator step, Adam beta1 = 0, prior
    weights 0 -> 0.001 -> 0.01 per kJ/mol = 0 -> 0.1 -> 1 per eV, bonded/non-bonded
    ratio 0.1, 2 Gibbs sweeps) except the network width (16 filters instead of 64) and
    the batch size, chosen so that training and inference run on a CPU. Additions for
    robustness: generator gradients are clipped to ``clip_norm`` and the energy prior uses
    a soft-core LJ of strength ``prior_soft_core`` (see
    :meth:`~cgkit.backmap.generation.SequenceTensors.energy`; smaller is harder, 0 is the
    plain LJ). Candidate selection at inference always uses the plain LJ.
    ``bond_stiffness`` multiplies the force-field bond constants in the prior and in
    candidate selection: the sPS table's bonds (1000 kJ/mol/nm^2, 0.1 eV/Å^2) are nearly
    free because the reference MD constrains them, so a 0.5 Å error costs 0.01 eV;
    100 gives the stiffness :class:`~cgkit.backmap.GeometricBackmapper` uses.
    ``gibbs_fraction`` of the training batches are Gibbs batches: all other atoms present
    (the bead's later atoms at their reference positions), which is the conditional a
    Gibbs sweep samples; a generator trained on forward batches alone sees inputs in the
    sweep it never saw in training (on sPS its sweeps shrank the phenyl rings).
    ``inference_dtype`` sets the generator's precision when backmapping (training is
    float32): ``"auto"`` runs it under bfloat16 autocast where the device has native
    bfloat16 kernels (see :func:`~cgkit.backmap.networks.inference_dtype`), which on 2
    AVX-512 cores makes a backmapping about 1.4x faster with the same quality on sPS
    (``benchmarks/dbm_inference_speed.py``).
    ``constrain_to_beads``: every candidate sequence is shifted rigidly so that its bead
    maps exactly onto the target before the candidates are compared by energy
    (:class:`~cgkit.backmap.projection.BeadConstraint`), so the kept candidate is judged
    as it will be output; ``project_to_beads`` then only removes what later placements
    change (nothing for maps whose rows are the placement sequences). Without the
    constraint the final projection moves atoms after selection (on sPS: backbone angle
    JS 0.226 instead of 0.191, 226 instead of 210 close contacts on the two held-out frames).
    ``n_repair`` repair sweeps follow the Gibbs sweeps: Gibbs steps for just the beads with
    an atom in a close contact (a non-excluded pair nearer than ``clash_factor`` times its
    LJ sigma), each with ``repair_candidates`` candidates, until no contact is left or a
    sweep no longer shrinks the set of such beads. This spends the sampler's candidates
    where the structure is wrong instead of on every bead (on sPS: contacts from 100-110 to
    5-17 per frame for ~15 % more time); with an undertrained generator (many contacts)
    each repair sweep can cost as much as a full sweep, so set ``n_repair=0`` for quick
    looks. Beads re-placed together are never bonded or in contact with each other
    (:func:`~cgkit.backmap.repair.conflict_free_groups`). The criterion is the
    close-contact count of :func:`~cgkit.backmap.metrics.close_contacts`
    (``clash_factor=0.7``), so that count after repair is no independent measure of
    quality; the distributions are.
    """

    resolution: int = 8
    grid_length: float = 12.0
    sigma_sq: float = 2.0
    cutoff: float = 7.0
    order: str = "dfs"
    hide_hydrogens: bool = True
    width: int = 16
    noise_dim: int = 32
    n_epochs: int = 1
    max_batches: int | None = None
    batch_size: int = 16
    n_critic: int = 4
    lr_generator: float = 5e-5
    lr_critic: float = 1e-4
    gp_weight: float = 10.0
    drift_weight: float = 1e-3
    prior_mode: str = "match"
    prior_weights: tuple[float, ...] = (0.0, 0.1, 1.0)
    prior_schedule: tuple[float, ...] = (0.3, 0.6)
    prior_nonbonded_scale: float = 0.1
    prior_soft_core: float = 0.5
    bond_stiffness: float = 1.0
    gibbs_fraction: float = 0.5
    clip_norm: float = 10.0
    rotate: bool = True
    n_gibbs: int = 2
    n_candidates: int = 8
    inference_dtype: str = "auto"
    project_to_beads: bool = True
    constrain_to_beads: bool = True
    n_repair: int = 8
    repair_candidates: int = 8
    clash_factor: float = 0.7
    seed: int = 0

    def __post_init__(self):
        if self.prior_mode not in ("match", "min"):
            raise ValueError(f"prior_mode must be 'match' or 'min', got {self.prior_mode!r}")
        if len(self.prior_weights) != len(self.prior_schedule) + 1:
            raise ValueError("prior_weights needs one entry more than prior_schedule")
        if not 0.0 <= self.gibbs_fraction <= 1.0:
            raise ValueError(f"gibbs_fraction must be in [0, 1], got {self.gibbs_fraction}")
        if self.inference_dtype not in INFERENCE_DTYPES:
            raise ValueError(f"inference_dtype must be one of {INFERENCE_DTYPES}, "
                             f"got {self.inference_dtype!r}")  # fmt: skip
        if self.n_gibbs < 0 or self.n_candidates < 1:
            raise ValueError("need n_gibbs >= 0 and n_candidates >= 1")
        if self.n_repair < 0 or self.repair_candidates < 1 or self.clash_factor <= 0:
            raise ValueError("need n_repair >= 0, repair_candidates >= 1 and clash_factor > 0")
        self.prior_weights = tuple(float(w) for w in self.prior_weights)
        self.prior_schedule = tuple(float(s) for s in self.prior_schedule)

    def prior_weight(self, progress: float) -> float:
        """Energy-prior weight at training ``progress`` (epochs done, fractional)."""
        return self.prior_weights[int(np.searchsorted(self.prior_schedule, progress, "right"))]
