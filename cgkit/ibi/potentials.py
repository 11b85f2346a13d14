"""Tabulated CG potentials: Boltzmann inversion, IBI updates, smooth spline evaluation.

A :class:`TabulatedPotential` is one table U(x) on a regular grid shared by one or more
interaction tuples of the same kind. Evaluation uses a cubic spline (periodic for
dihedrals, see :mod:`cgkit.ibi.splines`) with analytic derivatives; outside the table
(bonds, pairs, angles) the spline is continued linearly with its end slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from cgkit.ibi.coordinates import TUPLE_SIZE, internal_coordinates, jacobian
from cgkit.ibi.splines import StackedSplines, spline_knots


@dataclass
class TabulatedPotential:
    """One tabulated interaction.

    Parameters
    ----------
    kind : {"bond", "angle", "dihedral", "pair"}
    tuples : ndarray of int, shape (K, 2|3|4)
        Bead indices of every tuple that uses this table.
    grid : ndarray, shape (G,)
        Regular bin centres of the coordinate, Å or rad. For dihedrals the grid spans
        (-pi, pi) and the knot spacing must divide 2 pi.
    values : ndarray, shape (G,)
        Potential energy at the grid points, eV.
    name : str
        Label used in reports and files.
    """

    kind: str
    tuples: np.ndarray
    grid: np.ndarray
    values: np.ndarray
    name: str = ""

    def __post_init__(self):
        if self.kind not in TUPLE_SIZE:
            raise ValueError(f"potential {self.name!r}: unknown interaction kind {self.kind!r}")
        self.tuples = np.asarray(self.tuples, dtype=int).reshape(-1, TUPLE_SIZE[self.kind])
        self.grid = np.asarray(self.grid, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        if self.grid.shape != self.values.shape or self.grid.ndim != 1 or len(self.grid) < 4:
            raise ValueError(
                f"potential {self.name!r}: grid and values must be 1-D of equal length >= 4"
            )
        steps = np.diff(self.grid)
        if steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
            raise ValueError(f"potential {self.name!r}: grid must be regular and increasing")
        if self.kind == "dihedral" and not np.isclose(steps[0] * len(self.grid), 2 * np.pi):
            raise ValueError(f"potential {self.name!r}: a dihedral grid must span 2 pi")
        if not np.all(np.isfinite(self.values)):
            raise ValueError(f"potential {self.name!r} has non-finite values")

    # ----------------------------------------------------------------- spline
    def spline(self) -> CubicSpline:
        """SciPy cubic spline of the table (periodic for dihedrals, natural otherwise)."""
        knots, values = spline_knots(self.grid, self.values, self.kind == "dihedral")
        return CubicSpline(
            knots, values, bc_type="periodic" if self.kind == "dihedral" else "natural"
        )

    def evaluate(self, coordinate) -> tuple[np.ndarray, np.ndarray]:
        """U(x) in eV and dU/dx for coordinate values of any shape (Å or rad).

        Outside the table (not for dihedrals) the spline continues linearly.
        """
        x = np.asarray(coordinate, float)
        splines = StackedSplines([self.grid], [self.values], self.kind == "dihedral")
        energy, derivative = splines(np.zeros(x.size, dtype=np.intp), x.ravel())
        return energy.reshape(x.shape), derivative.reshape(x.shape)

    def total_energy(self, bead_positions) -> np.ndarray:
        """Sum of U over all tuples, per frame; input (M, 3) or (F, M, 3) Å, output eV."""
        values = internal_coordinates(np.asarray(bead_positions, float), self.kind, self.tuples)
        return self.evaluate(values)[0].sum(-1)

    # ----------------------------------------------------------------- io
    def to_dict(self) -> dict:
        """JSON-serialisable table."""
        return {
            "name": self.name,
            "kind": self.kind,
            "tuples": self.tuples.tolist(),
            "grid": self.grid.tolist(),
            "values": self.values.tolist(),
            "units": {"grid": "rad" if self.kind in ("angle", "dihedral") else "Å", "values": "eV"},
        }

    @classmethod
    def from_dict(cls, data: dict) -> TabulatedPotential:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kind=data["kind"],
            tuples=np.asarray(data["tuples"], dtype=int),
            grid=np.asarray(data["grid"], float),
            values=np.asarray(data["values"], float),
            name=data.get("name", ""),
        )


def histogram_density(values: np.ndarray, grid: np.ndarray, kind: str) -> np.ndarray:
    """Normalised probability density of ``values`` on the bins centred at ``grid``.

    Returns
    -------
    ndarray, shape (G,)
        p(x) with sum(p) * dx = 1 (per unit Å or rad; not divided by the Jacobian).
    """
    values = np.asarray(values, float).ravel()
    dx = grid[1] - grid[0]
    edges = np.append(grid - dx / 2, grid[-1] + dx / 2)
    if kind == "dihedral":
        values = np.remainder(values - edges[0], 2 * np.pi) + edges[0]
    counts, _ = np.histogram(values, bins=edges)
    total = counts.sum()
    if total == 0:
        raise ValueError("no samples fall on the grid")
    return counts / (total * dx)


def boltzmann_inversion(
    density: np.ndarray,
    grid: np.ndarray,
    kind: str,
    kT: float,
    smoothing: int = 2,
    min_density: float = 1e-3,
) -> np.ndarray:
    """U(x) = -kT ln(p(x) / J(x)), shifted to min 0, eV.

    Bins whose density is below ``min_density`` times the peak are treated as unsampled
    (their few counts would give a jagged, stiff table that destabilises MD) and filled by
    :func:`extrapolate`; the table is then smoothed with ``smoothing`` passes of the
    three-point running mean (which shifts a parabola by a constant only).
    """
    density = np.asarray(density, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        potential = -kT * np.log(density / np.maximum(jacobian(kind, grid), 1e-300))
    potential[~np.isfinite(potential) | (density < min_density * density.max())] = np.nan
    potential = extrapolate(potential, grid, kind, kT)
    potential = smooth(potential, smoothing, periodic=kind == "dihedral")
    return potential - potential.min()


def extrapolate(potential: np.ndarray, grid: np.ndarray, kind: str, kT: float) -> np.ndarray:
    """Fill unsampled (NaN) bins so the potential pushes back into the sampled region.

    Edges of bonds/angles/pairs get a quadratic wall fitted to the nearest sampled points
    (curvature at least that of a kT-wide harmonic well, so it always rises outward);
    interior gaps and dihedral gaps are bridged by linear interpolation raised by 2 kT.
    """
    potential = np.array(potential, float)
    sampled = np.isfinite(potential)
    if sampled.sum() < 3:
        raise ValueError(f"{kind} potential: fewer than 3 sampled bins; extend the sampling")
    first, last = np.flatnonzero(sampled)[[0, -1]]
    dx = grid[1] - grid[0]
    if kind == "dihedral":
        period = 2 * np.pi
        xs = grid[sampled]
        ys = potential[sampled]
        gaps = ~sampled
        potential[gaps] = np.interp(grid[gaps], xs, ys, period=period) + 2 * kT
        return potential - potential.min()
    # interior gaps: interpolate, raised by 2 kT
    interior = ~sampled & (np.arange(len(grid)) > first) & (np.arange(len(grid)) < last)
    if interior.any():
        potential[interior] = np.interp(grid[interior], grid[sampled], potential[sampled]) + 2 * kT
    span = max(grid[last] - grid[first], 3 * dx)
    min_curvature = 2 * kT / (0.25 * span) ** 2
    for edge, direction in ((first, -1), (last, +1)):
        neighbours = np.arange(edge, edge - direction * 5, -direction)
        neighbours = neighbours[(neighbours >= first) & (neighbours <= last)]
        slope = 0.0
        if len(neighbours) >= 2:
            slope = np.polyfit(grid[neighbours] - grid[edge], potential[neighbours], 1)[0]
        outward_slope = max(direction * slope, 0.0)
        outside = np.arange(len(grid))
        outside = outside[outside < first] if direction < 0 else outside[outside > last]
        distance = np.abs(grid[outside] - grid[edge])
        potential[outside] = (
            potential[edge] + outward_slope * distance + 0.5 * min_curvature * distance**2
        )
    return potential - potential.min()


def smooth(values: np.ndarray, passes: int = 1, periodic: bool = False) -> np.ndarray:
    """Three-point running mean (1/4, 1/2, 1/4), ``passes`` times; ends kept for open grids."""
    values = np.array(values, float)
    for _ in range(passes):
        if periodic:
            values = 0.25 * np.roll(values, 1) + 0.5 * values + 0.25 * np.roll(values, -1)
        else:
            inner = 0.25 * values[:-2] + 0.5 * values[1:-1] + 0.25 * values[2:]
            values = np.concatenate([values[:1], inner, values[-1:]])
    return values


def ibi_update(
    potential: np.ndarray,
    density: np.ndarray,
    target: np.ndarray,
    grid: np.ndarray,
    kind: str,
    kT: float,
    alpha: float = 1.0,
    smoothing: int = 1,
    min_density: float = 1e-3,
) -> np.ndarray:
    """One IBI step U_{i+1} = U_i + alpha kT ln(P_i / P_target).

    The update is computed where both distributions exceed ``min_density`` times the
    target's peak and carried outward unchanged from the nearest such bin (periodically
    for dihedrals), so walls move with the region they bound and the table stays
    continuous; then it is smoothed. A potential whose CG distribution already equals the
    target is a fixed point.

    Parameters
    ----------
    potential, density, target, grid : ndarray, shape (G,)
        Current table (eV), current CG density, target density, bin centres.
    alpha : float
        Update scaling (1 = plain IBI; <1 damps).
    smoothing : int
        Passes of the three-point running mean over the update.
    """
    floor = min_density * np.max(target)
    both = (density > floor) & (target > floor)
    if not both.any():
        return np.array(potential, float)
    sampled = alpha * kT * np.log(density[both] / target[both])
    periodic = kind == "dihedral"
    update = np.interp(grid, grid[both], sampled, period=2 * np.pi if periodic else None)
    update = smooth(update, smoothing, periodic=periodic)
    new = potential + update
    return new - new.min()
