"""Quantum-chemical labelers: ``labeler(atoms) -> dict`` of properties in eV, eV/Å, e*Å.

- :class:`XTBLabeler` -- GFN2-xTB (and GFN1/IPEA1) through tblite.
- :class:`PySCFLabeler` -- Kohn-Sham DFT through PySCF (extra ``[dft]``, imported lazily).

Failures raise :class:`LabelingError` (:class:`SCFConvergenceError` for SCF
non-convergence); :func:`label_with_retry` turns them into per-frame outcomes
according to a :class:`RetryPolicy`.
"""

from cgkit.qc.base import (
    LabelingError,
    LabelOutcome,
    RetryPolicy,
    SCFConvergenceError,
    frontier_orbitals,
    label_with_retry,
    labeler_from_dict,
    limit_threads,
    orbital_properties,
)
from cgkit.qc.dft import PySCFLabeler, resolve_xc
from cgkit.qc.xtb import XTBLabeler

__all__ = [
    "LabelOutcome",
    "LabelingError",
    "PySCFLabeler",
    "RetryPolicy",
    "SCFConvergenceError",
    "XTBLabeler",
    "frontier_orbitals",
    "label_with_retry",
    "labeler_from_dict",
    "limit_threads",
    "orbital_properties",
    "resolve_xc",
]
