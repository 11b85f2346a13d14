"""Mapping entropy over repeated CGMP runs (eq. 15)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MappingEntropy:
    """Statistics of the removal order over several :class:`~cgkit.cgmp.CGMPRanker` runs.

    Attributes
    ----------
    atoms : ndarray of int, shape (n,)
        Molecule indices of the candidate atoms (columns below).
    resolutions : ndarray of int, shape (R,)
        Resolution ``M`` reached by each removal step, ``N - 1`` down to the last one.
    removal_probability : ndarray, shape (R, n)
        ``p_ij``: fraction of runs in which atom ``i`` is the one removed to reach
        resolution ``j``; rows sum to 1.
    decimated_probability : ndarray, shape (R, n)
        Fraction of runs in which atom ``i`` is no longer kept at resolution ``j``.
    entropy : ndarray, shape (R,)
        ``Omega_j = -sum_i p_ij log p_ij`` (nats); 0 when all runs agree.
    n_runs : int
    """

    atoms: np.ndarray
    resolutions: np.ndarray
    removal_probability: np.ndarray
    decimated_probability: np.ndarray
    entropy: np.ndarray
    n_runs: int


def mapping_entropy(rankers) -> MappingEntropy:
    """Removal probabilities ``p_ij`` and entropies ``Omega_j`` of eq. 15.

    Parameters
    ----------
    rankers : sequence of fitted CGMPRanker
        Runs on the same molecule and candidate atoms (e.g. different seeds).
    """
    rankers = list(rankers)
    if not rankers:
        raise ValueError("mapping_entropy needs at least one fitted CGMPRanker")
    atoms = np.asarray(rankers[0].atom_indices_)
    for index, ranker in enumerate(rankers):
        if not np.array_equal(ranker.atom_indices_, atoms):
            raise ValueError(
                f"ranker {index} has candidate atoms {list(ranker.atom_indices_)}, "
                f"ranker 0 has {list(atoms)}"
            )
    n_atoms = len(atoms)
    min_resolution = min(min(r.kept_sets_) for r in rankers)
    resolutions = np.arange(n_atoms - 1, min_resolution - 1, -1)
    column = {int(atom): k for k, atom in enumerate(atoms)}
    removal = np.zeros((len(resolutions), n_atoms))
    decimated = np.zeros((len(resolutions), n_atoms))
    for ranker in rankers:
        for step, _resolution in enumerate(resolutions):
            removal[step, column[int(ranker.ranking_[step])]] += 1.0
            decimated[step, [column[int(a)] for a in ranker.ranking_[: step + 1]]] += 1.0
    removal /= len(rankers)
    decimated /= len(rankers)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(removal > 0, removal * np.log(removal), 0.0)
    entropy = 0.0 - terms.sum(axis=1)  # 0.0 - x: no "-0.0" when every p is 0 or 1
    return MappingEntropy(atoms, resolutions, removal, decimated, entropy, len(rankers))
