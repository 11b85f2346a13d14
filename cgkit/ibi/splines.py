"""Cubic splines of many tabulated potentials evaluated in one vectorised NumPy pass.

Every table lives on a regular grid, so the segment of a coordinate is found by a floor
division instead of a search; the cubic coefficients of all tables of one kind are stacked
into one (T, S, 4) array (padded to the longest table). Values and derivatives come out
together, which is what the force field needs at each MD step.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

TWO_PI = 2.0 * np.pi


def spline_knots(grid: np.ndarray, values: np.ndarray, periodic: bool):
    """Knots and knot values of a table; periodic tables get a closing knot at grid[0] + 2 pi."""
    if periodic:
        return np.append(grid, grid[0] + TWO_PI), np.append(values, values[0])
    return np.asarray(grid, float), np.asarray(values, float)


def cubic_coefficients(grid: np.ndarray, values: np.ndarray, periodic: bool) -> np.ndarray:
    """Coefficients (S, 4) of the natural (or periodic) cubic spline through a table.

    Segment s holds ``c0 t^3 + c1 t^2 + c2 t + c3`` with ``t = x - knot_s``.
    """
    knots, knot_values = spline_knots(grid, values, periodic)
    spline = CubicSpline(knots, knot_values, bc_type="periodic" if periodic else "natural")
    return spline.c.T.copy()


class StackedSplines:
    """Splines of several tables of one kind, evaluated for many (table, x) pairs at once.

    Parameters
    ----------
    grids : list of ndarray, each (G_t,)
        Regular bin centres, Å or rad.
    values : list of ndarray, each (G_t,)
        Potential at the bin centres, eV.
    periodic : bool
        True for dihedrals (period 2 pi); otherwise the spline is continued linearly with
        its end slopes outside the table.
    """

    def __init__(self, grids, values, periodic: bool):
        self.periodic = bool(periodic)
        coefficients = [
            cubic_coefficients(g, v, self.periodic) for g, v in zip(grids, values, strict=True)
        ]
        n_tables = len(coefficients)
        n_segments = np.array([len(c) for c in coefficients])
        self.coefficients = np.zeros((n_tables, int(n_segments.max(initial=1)), 4))
        for t, c in enumerate(coefficients):
            self.coefficients[t, : len(c)] = c
        self.n_segments = n_segments
        self.origin = np.array([g[0] for g in grids], float)
        self.step = np.array([g[1] - g[0] for g in grids], float)
        self.end = self.origin + self.step * n_segments
        last = np.array([c[-1] for c in coefficients]).reshape(n_tables, 4)
        h = self.step
        self.slope_lo = np.array([c[0, 2] for c in coefficients], float)
        self.slope_hi = (3 * last[:, 0] * h + 2 * last[:, 1]) * h + last[:, 2]

    def __call__(self, table: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Potential and its derivative for coordinates ``x`` of tables ``table``.

        Parameters
        ----------
        table : ndarray of int, shape (K,)
            Index of the table of each coordinate.
        x : ndarray, shape (K,)
            Coordinate values, Å or rad.

        Returns
        -------
        energy : ndarray, shape (K,), eV
        derivative : ndarray, shape (K,), eV/Å or eV/rad
        """
        origin = self.origin[table]
        step = self.step[table]
        if self.periodic:
            inside = origin + np.remainder(x - origin, TWO_PI)
        else:
            inside = np.clip(x, origin, self.end[table])
        segment = np.floor((inside - origin) / step).astype(np.intp)
        segment = np.clip(segment, 0, self.n_segments[table] - 1)
        t = inside - (origin + segment * step)
        c = self.coefficients[table, segment]
        energy = ((c[:, 0] * t + c[:, 1]) * t + c[:, 2]) * t + c[:, 3]
        derivative = (3 * c[:, 0] * t + 2 * c[:, 1]) * t + c[:, 2]
        if not self.periodic:
            below = x < inside
            above = x > inside
            slope = np.where(below, self.slope_lo[table], np.where(above, self.slope_hi[table], 0))
            energy = energy + slope * (x - inside)
            derivative = np.where(below | above, slope, derivative)
        return energy, derivative
