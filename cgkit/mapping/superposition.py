"""Optimal rigid superposition of point sets (Kabsch algorithm).

One pure function shared by every part of cgkit that rotates all-atom frames onto CG
beads: the temporal backmapper's local frames and library search
(:mod:`cgkit.backmap.temporal`) and the rigid alignment of constrained sampling
(:func:`cgkit.sampling.constrained.align_to_beads`).
"""

from __future__ import annotations

import numpy as np
import torch


def kabsch_rotation(mobile, target, weights=None):
    """Proper rotations that best superpose centred point sets.

    Parameters
    ----------
    mobile : Tensor or ndarray (..., K, 3), centred
    target : Tensor or ndarray (..., K, 3), centred (broadcasts against ``mobile``)
    weights : Tensor or ndarray (..., K), optional
        Non-negative weight of every point in the fit (default: equal weights). The
        sets must be centred on their weighted centroids.

    Returns
    -------
    Tensor or ndarray (..., 3, 3)
        Rotation ``rot`` (det +1) minimising ``sum_k w_k |mobile_k @ rot - target_k|^2``;
        ndarray when ``mobile`` is one, else a float64 tensor.
    """
    is_numpy = isinstance(mobile, np.ndarray)
    mobile_t = torch.as_tensor(mobile, dtype=torch.float64)
    target_t = torch.as_tensor(target, dtype=torch.float64)
    if weights is not None:
        mobile_t = mobile_t * torch.as_tensor(weights, dtype=torch.float64)[..., None]
    cov = mobile_t.transpose(-1, -2) @ target_t
    u, _, vh = torch.linalg.svd(cov)
    sign = torch.sign(torch.linalg.det(u @ vh))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    fix = torch.ones(*sign.shape, 3, dtype=torch.float64)
    fix[..., 2] = sign
    rot = (u * fix[..., None, :]) @ vh
    return rot.numpy() if is_numpy else rot
