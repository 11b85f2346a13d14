"""CG internal coordinates (bond lengths, angles, dihedrals, pair distances).

:func:`internal_coordinates` (torch, imported lazily; NumPy in gives NumPy out, tensors
keep autograd) serves analysis of many frames; :func:`coordinate_gradients` (NumPy, analytic
gradients) serves the tabulated force field at every MD step.

Conventions
-----------
bond, pair : distance between beads (I, J), Å, Jacobian r^2
angle      : angle I-J-K at the central bead J, rad in [0, pi], Jacobian sin(theta)
dihedral   : IUPAC dihedral I-J-K-L, rad in (-pi, pi], Jacobian 1 (periodic)
"""

from __future__ import annotations

import numpy as np

#: number of beads in one interaction tuple, by kind
TUPLE_SIZE = {"bond": 2, "pair": 2, "angle": 3, "dihedral": 4}


def _bond(p, idx):
    import torch

    return torch.linalg.norm(p[..., idx[:, 1], :] - p[..., idx[:, 0], :], dim=-1)


def _angle(p, idx):
    import torch

    a = p[..., idx[:, 0], :] - p[..., idx[:, 1], :]
    b = p[..., idx[:, 2], :] - p[..., idx[:, 1], :]
    cross = torch.linalg.norm(torch.cross(a, b, dim=-1), dim=-1)
    return torch.atan2(cross, (a * b).sum(-1))


def _dihedral(p, idx):
    import torch

    b0 = p[..., idx[:, 1], :] - p[..., idx[:, 0], :]
    b1 = p[..., idx[:, 2], :] - p[..., idx[:, 1], :]
    b2 = p[..., idx[:, 3], :] - p[..., idx[:, 2], :]
    n1 = torch.cross(b0, b1, dim=-1)
    n2 = torch.cross(b1, b2, dim=-1)
    b1_unit = b1 / torch.linalg.norm(b1, dim=-1, keepdim=True)
    m1 = torch.cross(n1, b1_unit, dim=-1)
    x = (n1 * n2).sum(-1)
    y = (m1 * n2).sum(-1)
    return -torch.atan2(y, x)


_FUNCTIONS = {"bond": _bond, "pair": _bond, "angle": _angle, "dihedral": _dihedral}


def internal_coordinates(bead_positions, kind: str, tuples):
    """Values of one kind of internal coordinate for every tuple and frame.

    Parameters
    ----------
    bead_positions : ndarray or torch.Tensor, shape (F, M, 3) or (M, 3), Å
    kind : {"bond", "pair", "angle", "dihedral"}
    tuples : array-like of int, shape (K, 2|3|4)
        0-based bead indices of each interaction.

    Returns
    -------
    same type as ``bead_positions``, shape (F, K) or (K,)
        Å for bonds/pairs, rad for angles/dihedrals.
    """
    import torch

    if kind not in _FUNCTIONS:
        raise ValueError(f"unknown interaction kind {kind!r}; use one of {sorted(_FUNCTIONS)}")
    is_tensor = isinstance(bead_positions, torch.Tensor)
    positions = bead_positions if is_tensor else torch.as_tensor(np.asarray(bead_positions, float))
    idx = torch.as_tensor(np.asarray(tuples, dtype=np.int64).reshape(-1, TUPLE_SIZE[kind]))
    values = _FUNCTIONS[kind](positions, idx)
    return values if is_tensor else values.numpy()


def jacobian(kind: str, grid: np.ndarray) -> np.ndarray:
    """Volume element of a coordinate: r^2 (bond/pair), sin(theta) (angle), 1 (dihedral)."""
    if kind in ("bond", "pair"):
        return grid**2
    if kind == "angle":
        return np.sin(grid)
    if kind == "dihedral":
        return np.ones_like(grid)
    raise ValueError(f"unknown interaction kind {kind!r}")


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (K, 3) arrays (np.cross has a large per-call overhead)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def _unit_norm(vectors: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    return np.maximum(np.sqrt(np.einsum("...i,...i->...", vectors, vectors)), floor)


def coordinate_gradients(bead_positions: np.ndarray, kind: str, tuples: np.ndarray):
    """Values and analytic gradients of internal coordinates for one configuration (NumPy).

    Used by the tabulated force field at every MD step, so it avoids autograd: one batched
    evaluation per kind.

    Parameters
    ----------
    bead_positions : ndarray, shape (M, 3), Å
    kind : {"bond", "pair", "angle", "dihedral"}
    tuples : ndarray of int, shape (K, n)
        n = 2, 3, 4 bead indices (same conventions as :func:`internal_coordinates`).

    Returns
    -------
    values : ndarray, shape (K,)
        Å or rad.
    gradients : ndarray, shape (K, n, 3)
        d value / d position of each bead of the tuple, 1 (bonds) or rad/Å.
    """
    p = bead_positions
    if kind in ("bond", "pair"):
        d = p[tuples[:, 1]] - p[tuples[:, 0]]
        r = _unit_norm(d)
        u = d / r[:, None]
        return r, np.stack([-u, u], axis=1)
    if kind == "angle":
        a = p[tuples[:, 0]] - p[tuples[:, 1]]
        b = p[tuples[:, 2]] - p[tuples[:, 1]]
        n = _cross(a, b)
        n_norm = _unit_norm(n)
        dot = np.einsum("ki,ki->k", a, b)
        theta = np.arctan2(n_norm, dot)
        # d theta / d a = (a x n) / (|a|^2 |n|), d theta / d b = -(b x n) / (|b|^2 |n|)
        aa = np.einsum("ki,ki->k", a, a)
        bb = np.einsum("ki,ki->k", b, b)
        grad_a = _cross(a, n) / (aa * n_norm)[:, None]
        grad_b = -_cross(b, n) / (bb * n_norm)[:, None]
        return theta, np.stack([grad_a, -grad_a - grad_b, grad_b], axis=1)
    if kind == "dihedral":
        b0 = p[tuples[:, 1]] - p[tuples[:, 0]]
        b1 = p[tuples[:, 2]] - p[tuples[:, 1]]
        b2 = p[tuples[:, 3]] - p[tuples[:, 2]]
        n1 = _cross(b0, b1)
        n2 = _cross(b1, b2)
        b1_norm = _unit_norm(b1)
        m1 = _cross(n1, b1 / b1_norm[:, None])
        phi = -np.arctan2(np.einsum("ki,ki->k", m1, n2), np.einsum("ki,ki->k", n1, n2))
        # Blondel & Karplus (1996) gradients for the IUPAC sign convention
        n1_sq = np.maximum(np.einsum("ki,ki->k", n1, n1), 1e-24)
        n2_sq = np.maximum(np.einsum("ki,ki->k", n2, n2), 1e-24)
        grad_i = -(b1_norm / n1_sq)[:, None] * n1
        grad_l = (b1_norm / n2_sq)[:, None] * n2
        f01 = (np.einsum("ki,ki->k", b0, b1) / b1_norm**2)[:, None]
        f21 = (np.einsum("ki,ki->k", b2, b1) / b1_norm**2)[:, None]
        grad_j = -(1.0 + f01) * grad_i + f21 * grad_l
        grad_k = -(1.0 + f21) * grad_l + f01 * grad_i
        return phi, np.stack([grad_i, grad_j, grad_k, grad_l], axis=1)
    raise ValueError(f"unknown interaction kind {kind!r}; use one of {sorted(_FUNCTIONS)}")
