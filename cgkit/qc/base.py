"""Shared parts of the quantum-chemical labelers: errors, retry policy, orbitals, threads.

A *labeler* is any callable ``labeler(atoms, attempt=0) -> dict`` returning named
properties in cgkit units (see :mod:`cgkit.units`: eV, eV/Å, e*Å). Labelers also expose
``properties`` (the names they return), ``program``/``program_version``/``method`` (for
provenance in the store) and ``to_dict()`` so a worker process can rebuild them with
:func:`labeler_from_dict`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


class LabelingError(RuntimeError):
    """A labeler could not produce properties for one structure."""


class SCFConvergenceError(LabelingError):
    """The self-consistent field iterations did not converge."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing frame is retried before it is recorded as failed.

    Parameters
    ----------
    max_attempts : int
        Total number of attempts per frame (1 = no retry). Labelers receive the
        0-based attempt number and may use more robust settings on later attempts
        (e.g. stronger SCF damping).
    retry_on : tuple of str
        Names of exception classes that are retried; an exception is retried when any
        class in its MRO has one of these names. ``("Exception",)`` retries everything,
        the default retries only SCF non-convergence.
    """

    max_attempts: int = 2
    retry_on: tuple[str, ...] = ("SCFConvergenceError",)

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        object.__setattr__(self, "retry_on", tuple(self.retry_on))

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """Whether to try again after ``exc`` was raised on 0-based ``attempt``."""
        if attempt + 1 >= self.max_attempts:
            return False
        names = {cls.__name__ for cls in type(exc).__mro__}
        return bool(names.intersection(self.retry_on))

    def to_dict(self) -> dict:
        """JSON-able form."""
        d = asdict(self)
        d["retry_on"] = list(self.retry_on)
        return d


@dataclass
class LabelOutcome:
    """Result of labelling one frame: either ``values`` or a failure ``reason``."""

    values: dict[str, np.ndarray] | None
    reason: str | None = None
    attempts: int = 1
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the frame was labelled."""
        return self.values is not None


def label_with_retry(labeler: Callable, atoms, policy: RetryPolicy | None = None) -> LabelOutcome:
    """Label ``atoms``, catching and retrying failures according to ``policy``.

    Every exception raised by the labeler (SCF non-convergence, a crash inside the QC
    code, bad input) becomes a failed :class:`LabelOutcome` with its reason; nothing
    propagates, so one bad frame never stops a build.

    Parameters
    ----------
    labeler : callable
        ``labeler(atoms, attempt=k) -> dict``.
    atoms : ase.Atoms
        Structure to label.
    policy : RetryPolicy, optional
        Defaults to ``RetryPolicy()``.
    """
    policy = policy or RetryPolicy()
    errors: list[str] = []
    attempt = 0
    while True:
        try:
            values = labeler(atoms, attempt=attempt)
            return LabelOutcome(values=values, attempts=attempt + 1, errors=errors)
        except Exception as exc:  # any QC failure is a per-frame failure
            errors.append(f"{type(exc).__name__}: {exc}")
            if not policy.should_retry(exc, attempt):
                return LabelOutcome(
                    values=None, reason=errors[-1], attempts=attempt + 1, errors=errors
                )
            attempt += 1


def frontier_orbitals(orbital_energies: np.ndarray, occupations: np.ndarray) -> tuple[float, float]:
    """HOMO and LUMO energies of one spin channel (or a spin-summed set of orbitals).

    The HOMO is the highest orbital with occupation > 0.5, so a singly occupied
    orbital (SOMO) of a radical counts as occupied whether occupations run 0..2
    (restricted) or 0..1 (one spin channel). The LUMO is the next orbital above it.

    Parameters
    ----------
    orbital_energies : ndarray, shape (n_orbitals,)
        Orbital energies (any unit; returned in the same unit).
    occupations : ndarray, shape (n_orbitals,)
        Occupation numbers.

    Returns
    -------
    homo, lumo : float
        ``nan`` where the channel has no occupied or no virtual orbital.
    """
    energies = np.asarray(orbital_energies, dtype=float)
    occupations = np.asarray(occupations, dtype=float)
    if energies.shape != occupations.shape or energies.ndim != 1:
        raise ValueError(
            f"orbital energies {energies.shape} and occupations {occupations.shape} "
            "must be 1-D arrays of the same length"
        )
    order = np.argsort(energies, kind="stable")
    energies, occupations = energies[order], occupations[order]
    occupied = np.flatnonzero(occupations > 0.5)
    if occupied.size == 0:
        return float("nan"), float(energies[0]) if energies.size else float("nan")
    i = occupied[-1]
    homo = float(energies[i])
    lumo = float(energies[i + 1]) if i + 1 < energies.size else float("nan")
    return homo, lumo


def orbital_properties(orbital_energies: np.ndarray, occupations: np.ndarray) -> dict[str, float]:
    """HOMO/LUMO/gap from restricted ``(n,)`` or spin-resolved ``(2, n)`` orbitals.

    With two spin channels the result also holds ``homo_alpha``, ``homo_beta``,
    ``lumo_alpha``, ``lumo_beta``; ``homo`` is the higher of the two channel HOMOs and
    ``lumo`` the lower of the two channel LUMOs. Units follow the input.
    """
    energies = np.asarray(orbital_energies, dtype=float)
    occupations = np.asarray(occupations, dtype=float)
    if energies.ndim == 1:
        homo, lumo = frontier_orbitals(energies, occupations)
        return {"homo": homo, "lumo": lumo, "gap": lumo - homo}
    if energies.ndim != 2 or energies.shape[0] != 2:
        raise ValueError(f"expected orbital energies of shape (n,) or (2, n), got {energies.shape}")
    homo_a, lumo_a = frontier_orbitals(energies[0], occupations[0])
    homo_b, lumo_b = frontier_orbitals(energies[1], occupations[1])
    homo = float(np.nanmax([homo_a, homo_b]))
    lumo = float(np.nanmin([lumo_a, lumo_b]))
    return {
        "homo": homo,
        "lumo": lumo,
        "gap": lumo - homo,
        "homo_alpha": homo_a,
        "homo_beta": homo_b,
        "lumo_alpha": lumo_a,
        "lumo_beta": lumo_b,
    }


def limit_threads(n_threads: int) -> None:
    """Pin OpenMP/BLAS thread pools of this process to ``n_threads``.

    Sets ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` (read by
    libraries loaded later) and limits the pools of libraries already loaded via
    threadpoolctl, so parallel labelling workers do not oversubscribe the cores.
    """
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n_threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return
    threadpool_limits(limits=n_threads)


def labeler_from_dict(config: Mapping[str, Any]):
    """Rebuild a labeler from its ``to_dict()`` form (``{"kind": "xtb"|"pyscf", ...}``)."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind == "xtb":
        from cgkit.qc.xtb import XTBLabeler

        return XTBLabeler(**config)
    if kind == "pyscf":
        from cgkit.qc.dft import PySCFLabeler

        return PySCFLabeler(**config)
    raise ValueError(f"unknown labeler kind {kind!r}; expected 'xtb' or 'pyscf'")
