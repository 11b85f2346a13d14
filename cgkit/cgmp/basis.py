"""Spherical Bessel x spherical harmonic edge bases of ComENet, in plain torch.

A port of the feature construction of ComENet (Wang et al., "ComENet: Towards Complete and
Efficient Message Passing for 3D Molecular Graphs", NeurIPS 2022; DIG ``dig.threedgraph``),
written without sympy. The radial functions are normalised spherical Bessel functions
``j_l(z_ln d / r_C)`` whose roots ``z_ln`` make every function vanish at the cutoff, so an
edge fades smoothly as its (score-aware) distance approaches ``r_C``.

* :class:`TorsionBasis` encodes ``(d, theta, phi)`` as ``j_l(z_ln d / r_C) Y_lm(theta, phi)``
  for ``l < L``, ``|m| <= l``, ``n < K``: ``L^2 K`` features.
* :class:`AngleBasis` encodes ``(d, tau)`` as ``j_l(z_ln d / r_C) Y_l0(tau)``: ``L K`` features.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import optimize, special

MAX_DEGREE = 4


def bessel_roots(n_degrees: int, n_roots: int) -> np.ndarray:
    """First ``n_roots`` positive roots of ``j_l`` for ``l < n_degrees``, shape (L, K)."""
    roots = np.zeros((n_degrees, n_roots))
    for degree in range(n_degrees):
        grid = np.linspace(1e-3, (n_roots + degree + 2) * np.pi, 4000 * (n_roots + degree + 2))
        values = special.spherical_jn(degree, grid)
        brackets = np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)[0][:n_roots]
        for k, index in enumerate(brackets):
            roots[degree, k] = optimize.brentq(
                lambda x, d=degree: special.spherical_jn(d, x), grid[index], grid[index + 1]
            )
    return roots


def spherical_bessel(degree: int, x: torch.Tensor) -> torch.Tensor:
    """Spherical Bessel function ``j_l(x)`` for ``l <= 3`` (closed forms), any shape."""
    sin, cos = torch.sin(x), torch.cos(x)
    if degree == 0:
        return sin / x
    if degree == 1:
        return sin / x**2 - cos / x
    if degree == 2:
        return (3.0 / x**2 - 1.0) * sin / x - 3.0 * cos / x**2
    if degree == 3:
        return (15.0 / x**3 - 6.0 / x) * sin / x - (15.0 / x**2 - 1.0) * cos / x
    raise ValueError(f"spherical Bessel degree {degree} > 3 is not supported")


def _legendre_prefactor(degree: int, order: int) -> float:
    return math.sqrt(
        (2 * degree + 1)
        / (4 * math.pi)
        * math.factorial(degree - abs(order))
        / math.factorial(degree + abs(order))
    )


def associated_legendre(n_degrees: int, cos_theta: torch.Tensor) -> dict:
    """``P_l^m(cos theta)`` for ``0 <= m <= l < n_degrees`` (Condon-Shortley phase).

    Returns
    -------
    dict mapping ``(l, m)`` to a tensor shaped like ``cos_theta``.
    """
    sin_theta = torch.sqrt(torch.clamp(1.0 - cos_theta**2, min=0.0) + 1e-12)
    table = {(0, 0): torch.ones_like(cos_theta)}
    for m in range(1, n_degrees):
        table[(m, m)] = -(2 * m - 1) * sin_theta * table[(m - 1, m - 1)]
    for m in range(0, n_degrees - 1):
        table[(m + 1, m)] = (2 * m + 1) * cos_theta * table[(m, m)]
    for m in range(0, n_degrees):
        for degree in range(m + 2, n_degrees):
            table[(degree, m)] = (
                (2 * degree - 1) * cos_theta * table[(degree - 1, m)]
                - (degree + m - 1) * table[(degree - 2, m)]
            ) / (degree - m)
    return table


def real_spherical_harmonics(n_degrees: int, theta: torch.Tensor, phi=None) -> torch.Tensor:
    """Real spherical harmonics ``Y_lm(theta, phi)``.

    Parameters
    ----------
    n_degrees : int
        ``L``; degrees ``l < L``.
    theta : Tensor, shape (E,), rad
    phi : Tensor, shape (E,), rad, or None
        Without ``phi`` only the ``m = 0`` harmonics are returned.

    Returns
    -------
    Tensor, shape (E, L^2) ordered by ``l`` then ``m = -l..l``; or (E, L) when ``phi`` is None.
    """
    legendre = associated_legendre(n_degrees, torch.cos(theta))
    columns = []
    for degree in range(n_degrees):
        if phi is None:
            columns.append(_legendre_prefactor(degree, 0) * legendre[(degree, 0)])
            continue
        for order in range(-degree, degree + 1):
            m = abs(order)
            value = _legendre_prefactor(degree, m) * legendre[(degree, m)]
            if order > 0:
                value = math.sqrt(2.0) * value * torch.cos(m * phi)
            elif order < 0:
                value = math.sqrt(2.0) * value * torch.sin(m * phi)
            columns.append(value)
    return torch.stack(columns, dim=-1)


class _RadialBessel(torch.nn.Module):
    def __init__(self, n_radial: int, n_spherical: int, cutoff: float):
        super().__init__()
        if not 1 <= n_spherical <= MAX_DEGREE:
            raise ValueError(f"n_spherical must be in 1..{MAX_DEGREE}, got {n_spherical}")
        if n_radial < 1:
            raise ValueError(f"n_radial must be >= 1, got {n_radial}")
        roots = bessel_roots(n_spherical, n_radial)
        norm = 1.0 / np.sqrt(
            0.5 * special.spherical_jn(np.arange(1, n_spherical + 1)[:, None], roots) ** 2
        )
        self.register_buffer("roots", torch.tensor(roots, dtype=torch.float32), persistent=False)
        self.register_buffer("norm", torch.tensor(norm, dtype=torch.float32), persistent=False)
        self.n_radial = n_radial
        self.n_spherical = n_spherical
        self.cutoff = cutoff

    def radial(self, distance: torch.Tensor) -> torch.Tensor:
        """Normalised ``j_l(z_ln d / r_C)``, shape (E, L, K)."""
        scaled = torch.clamp(distance / self.cutoff, min=1e-4)[:, None]
        columns = [
            self.norm[degree] * spherical_bessel(degree, self.roots[degree] * scaled)
            for degree in range(self.n_spherical)
        ]
        return torch.stack(columns, dim=1)


class TorsionBasis(_RadialBessel):
    """``(d, theta, phi) -> j_l(z_ln d / r_C) Y_lm(theta, phi)``, shape (E, L^2 K)."""

    @property
    def n_features(self) -> int:
        return self.n_spherical**2 * self.n_radial

    def forward(self, distance, theta, phi):
        radial = self.radial(distance)  # (E, L, K)
        repeats = torch.arange(self.n_spherical, device=distance.device) * 2 + 1
        radial = radial.repeat_interleave(repeats, dim=1)  # (E, L^2, K)
        angular = real_spherical_harmonics(self.n_spherical, theta, phi)  # (E, L^2)
        return (radial * angular[:, :, None]).reshape(distance.shape[0], self.n_features)


class AngleBasis(_RadialBessel):
    """``(d, tau) -> j_l(z_ln d / r_C) Y_l0(tau)``, shape (E, L K)."""

    @property
    def n_features(self) -> int:
        return self.n_spherical * self.n_radial

    def forward(self, distance, tau):
        radial = self.radial(distance)  # (E, L, K)
        angular = real_spherical_harmonics(self.n_spherical, tau)  # (E, L)
        return (radial * angular[:, :, None]).reshape(distance.shape[0], self.n_features)
