"""Gate-aware edge geometry for CGMP: radius graph, reference vectors and angles.

CGMP (Maier, Wang & Jackson, J. Chem. Phys. 160, 024109, 2024) describes each edge in the
style of ComENet (Wang et al., NeurIPS 2022) by ``(d, theta, phi)`` and ``(d, tau)``.
ComENet picks the nearest and second-nearest neighbours of an atom as its reference
directions, which is a discrete choice that cannot follow continuously vanishing atoms.
Following the CGMP appendix, the reference vectors here are *differentiable* weighted sums
over neighbours, with the edge weight

    w_ij = 2 ReLU(g_i g_j - 0.5)                                     (A1)

so an atom serves as a reference only while both gates are clearly on. Our reading of
eqs. A2-A5, which this module implements:

* (A2) soft-min weights ``a_ij = w_ij exp(-d_ij / sigma) / sum_k w_ik exp(-d_ik / sigma)``
  over the active neighbours, and the presence ``c_i = min(1, sum_j w_ij)``;
* (A3) first reference ``S_i = c_i sum_j a_ij u_ij`` (``u_ij`` unit edge vectors; about the
  direction of the nearest active neighbour);
* (A4) second reference ``T_i = min(1, sum_j w_ij q_ij^2) sum_j b_ij p_ij / q_ij`` with
  ``p_ij`` the part of ``u_ij`` orthogonal to ``S_i``, ``q_ij = |p_ij|`` and
  ``b_ij`` the soft-min weights times ``q_ij^2`` (about the nearest neighbour off the first
  axis). For the torsion ``tau`` of edge ``(i, j)`` the first reference of ``i`` leaves out
  ``j`` (and that of ``j`` leaves out ``i``), as ComENet switches to the second neighbour
  when the nearest one is the edge partner;
* (A5) degree 0/1: a missing reference (no active neighbour, only the edge partner, or only
  collinear neighbours) has length 0. Each angle is multiplied by the lengths (at most 1) of
  the references it uses, so angles fade continuously to 0 as neighbours switch off and are
  exactly 0 for isolated atoms.

All quantities are built from dot and cross products, so they are invariant to rotations and
translations. Edge vectors point from the centre atom ``i`` to its neighbour ``j``.
"""

from __future__ import annotations

import torch
from torch_geometric.utils import scatter

_EPS = 1e-12


def score_aware_distance_sq(positions: torch.Tensor, gates: torch.Tensor, cutoff: float):
    """Squared score-aware distances of CGMP eq. 5, for all pairs of each frame.

    ``d(i, j)^2 = |r_i - r_j|^2 + 2 r_C^2 ((1 - g_i)^2 + (1 - g_j)^2)``. The penalty is
    written with ``r_C^2`` so that it has units of Å^2 and an atom with gate 0 is at least
    ``sqrt(2) r_C`` from every other atom, i.e. outside the radius graph.

    Parameters
    ----------
    positions : Tensor, shape (B, n, 3), Å
    gates : Tensor, shape (n,) or (B, n), in [0, 1]
    cutoff : float, Å

    Returns
    -------
    Tensor, shape (B, n, n), Å^2
    """
    diff = positions[:, None, :, :] - positions[:, :, None, :]
    dist_sq = (diff * diff).sum(-1)
    off = (1.0 - gates) ** 2
    if off.dim() == 1:
        off = off.expand(positions.shape[0], -1)
    penalty = 2.0 * cutoff**2 * (off[:, :, None] + off[:, None, :])
    return dist_sq + penalty


def radius_graph(positions: torch.Tensor, gates: torch.Tensor, cutoff: float):
    """Radius graph over a batch of equally sized frames, using score-aware distances.

    Parameters
    ----------
    positions : Tensor, shape (B, n, 3), Å
    gates : Tensor, shape (n,) or (B, n)
    cutoff : float, Å
        Pairs with score-aware distance ``< cutoff`` are connected (both directions).

    Returns
    -------
    edge_index : LongTensor, shape (2, E)
        ``(i, j)`` = (centre, neighbour) indices into the flattened ``B * n`` nodes.
    distance : Tensor, shape (E,), Å
        Score-aware distance of each edge (differentiable in positions and gates).
    """
    n_frames, n_atoms, _ = positions.shape
    dist_sq = score_aware_distance_sq(positions, gates, cutoff)
    eye = torch.eye(n_atoms, dtype=torch.bool, device=positions.device)
    mask = (dist_sq.detach() < cutoff**2) & ~eye
    frame, centre, neighbour = mask.nonzero(as_tuple=True)
    edge_index = torch.stack([frame * n_atoms + centre, frame * n_atoms + neighbour])
    distance = torch.sqrt(dist_sq[frame, centre, neighbour])
    return edge_index, distance


def edge_weights(gates_flat: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    """Reference weight ``w_ij = 2 ReLU(g_i g_j - 0.5)`` of eq. A1, shape (E,)."""
    centre, neighbour = edge_index
    return 2.0 * torch.relu(gates_flat[centre] * gates_flat[neighbour] - 0.5)


def _safe_norm(vectors: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((vectors * vectors).sum(-1) + _EPS)


def _safe_atan2(sin_part: torch.Tensor, cos_part: torch.Tensor, tol: float = 1e-10):
    """``atan2`` that returns 0 (with zero gradient) where both arguments vanish."""
    degenerate = (sin_part * sin_part + cos_part * cos_part) < tol
    sin_safe = torch.where(degenerate, torch.zeros_like(sin_part), sin_part)
    cos_safe = torch.where(degenerate, torch.ones_like(cos_part), cos_part)
    return torch.atan2(sin_safe, cos_safe)


def _dihedral(axis: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Signed angle in (-pi, pi] between ``first`` and ``second`` seen along ``axis``."""
    plane1 = torch.linalg.cross(axis, first, dim=-1)
    plane2 = torch.linalg.cross(axis, second, dim=-1)
    cos_part = (plane1 * plane2).sum(-1)
    sin_part = (torch.linalg.cross(plane1, plane2, dim=-1) * axis).sum(-1) / _safe_norm(axis)
    return _safe_atan2(sin_part, cos_part)


def edge_angles(
    positions_flat: torch.Tensor,
    gates_flat: torch.Tensor,
    edge_index: torch.Tensor,
    softness: float = 0.3,
):
    """ComENet angles of every edge from gate-weighted differentiable reference vectors.

    Parameters
    ----------
    positions_flat : Tensor, shape (T, 3), Å
        Positions of all ``T = B * n`` nodes.
    gates_flat : Tensor, shape (T,)
    edge_index : LongTensor, shape (2, E)
        (centre ``i``, neighbour ``j``) pairs, e.g. from :func:`radius_graph`.
    softness : float, Å
        Length scale ``sigma`` of the soft-min that picks the nearest active neighbours.

    Returns
    -------
    theta, phi, tau : Tensor, shape (E,), rad
        Polar angle of ``v_ij`` from the first reference of ``i``; azimuth of ``v_ij`` about
        it, measured from the second reference; torsion between the references of ``i`` and
        ``j`` (each leaving out the edge partner) about the edge. Each is scaled by the
        strength (length, at most 1) of the references it uses (eq. A5).
    """
    n_nodes = positions_flat.shape[0]
    centre, neighbour = edge_index
    vectors = positions_flat[neighbour] - positions_flat[centre]
    length = _safe_norm(vectors)
    unit = vectors / length[:, None]

    def per_node(values):
        return scatter(values, centre, dim=0, dim_size=n_nodes, reduce="sum")

    weight = edge_weights(gates_flat, edge_index)  # (A1)
    active_length = torch.where(weight > 0, length, length + 1e3).detach()
    shift = scatter(active_length, centre, dim=0, dim_size=n_nodes, reduce="min")[centre]
    # exponent <= 0 on active edges (shift is their minimum); inactive edges have weight 0
    soft = weight * torch.exp(torch.clamp(-(length - shift) / softness, max=0.0))  # (A2)
    soft_sum = per_node(soft)
    presence = torch.clamp(per_node(weight), max=1.0)
    first = per_node(soft[:, None] * unit) / (soft_sum + _EPS)[:, None] * presence[:, None]  # (A3)

    first_dir = first / _safe_norm(first)[:, None]
    perp = unit - (unit * first_dir[centre]).sum(-1, keepdim=True) * first_dir[centre]
    perp_sq = (perp * perp).sum(-1)
    soft_perp = soft * perp_sq
    second = per_node((soft * _safe_norm(perp))[:, None] * perp)  # sum_j s_ij q_ij^2 p_ij / q_ij
    second = second / (per_node(soft_perp) + _EPS)[:, None]
    second = second * torch.clamp(per_node(weight * perp_sq), max=1.0)[:, None]  # (A4)

    strength_first = torch.clamp(_safe_norm(first), max=1.0)
    strength_second = torch.clamp(_safe_norm(second), max=1.0)

    ref_i = first[centre]
    cos_theta = (unit * ref_i).sum(-1)
    sin_theta = _safe_norm(torch.linalg.cross(unit, ref_i, dim=-1)) - _EPS**0.5
    theta = _safe_atan2(sin_theta, cos_theta) * strength_first[centre]

    phi = _dihedral(ref_i, unit, second[centre])
    phi = phi * strength_first[centre] * strength_second[centre]

    # torsion: first references leaving out the edge partner (ComENet's iref / jref)
    reverse = _reverse_edge(edge_index, n_nodes)
    node_sum = per_node(soft[:, None] * unit)
    weight_sum = per_node(weight)
    ref_i_wo = (node_sum[centre] - soft[:, None] * unit) / (soft_sum[centre] - soft + _EPS)[:, None]
    ref_i_wo = ref_i_wo * torch.clamp(weight_sum[centre] - weight, min=0.0, max=1.0)[:, None]
    ref_j_wo = (node_sum[neighbour] + soft[reverse][:, None] * unit) / (
        soft_sum[neighbour] - soft[reverse] + _EPS
    )[:, None]  # the j->i unit vector is -unit
    ref_j_wo = (
        ref_j_wo * torch.clamp(weight_sum[neighbour] - weight[reverse], min=0.0, max=1.0)[:, None]
    )
    tau = _dihedral(unit, ref_j_wo, ref_i_wo)
    tau = tau * torch.clamp(_safe_norm(ref_i_wo), max=1.0)
    tau = tau * torch.clamp(_safe_norm(ref_j_wo), max=1.0)
    return theta, phi, tau


def _reverse_edge(edge_index: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Index of edge ``(j, i)`` for each edge ``(i, j)`` of a symmetric graph, shape (E,)."""
    centre, neighbour = edge_index
    key = centre * n_nodes + neighbour
    reverse_key = neighbour * n_nodes + centre
    order = torch.argsort(key)
    position = torch.searchsorted(key[order], reverse_key)
    return order[position]
