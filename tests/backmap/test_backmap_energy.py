"""Torch force-field energy: finite-difference forces, hand calculations, periodic images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cgkit.backmap.energy import (
    EnergyTerms,
    ForceFieldEnergy,
    dihedral_angles,
    lj_pairs,
    minimum_image,
    pair_shifts,
)

CELL = np.array([[9.0, 0.0, 0.0], [2.5, 8.0, 0.0], [1.0, -1.5, 9.5]])


def _wrapped(positions):
    frac = positions @ np.linalg.inv(CELL)
    return (frac % 1.0) @ CELL


def test_forces_match_finite_differences_in_triclinic_box(chain_system, rng):
    topology, ff, _cgmap, positions = chain_system
    energy = ForceFieldEnergy.from_topology(topology, ff, cutoff=4.0, dtype=torch.float64)
    distorted = positions + rng.normal(scale=0.08, size=positions.shape) + [7.5, 6.0, 8.8]
    wrapped = _wrapped(distorted)  # the chain crosses the cell faces
    assert np.abs(wrapped - distorted).max() > 1.0
    pairs = energy.pairs(wrapped, CELL)
    assert len(pairs) > 0
    x = torch.tensor(wrapped, dtype=torch.float64, requires_grad=True)
    e = energy(x, cell=CELL, pairs=pairs)
    (grad,) = torch.autograd.grad(e.sum(), x)
    # wrapping must not change the energy: same value from the unwrapped chain
    e_unwrapped = energy(torch.tensor(distorted), cell=CELL, pairs=pairs)
    assert float(e.detach()) == pytest.approx(float(e_unwrapped), rel=1e-10)
    h = 1e-5
    for atom in (0, 3, 7, 12, 19):
        for d in range(3):
            plus, minus = wrapped.copy(), wrapped.copy()
            plus[atom, d] += h
            minus[atom, d] -= h
            fd = (
                float(energy(torch.tensor(plus), cell=CELL, pairs=pairs))
                - float(energy(torch.tensor(minus), cell=CELL, pairs=pairs))
            ) / (2 * h)
            assert float(grad[atom, d]) == pytest.approx(fd, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("soft_core", [0.0, 0.3])
def test_verlet_shifts_with_analytic_gradient_equal_the_minimum_image(chain_system, rng,
                                                                     soft_core):  # fmt: skip
    """The fixed-image pair path (analytic backward) gives the minimum-image energies
    and gradients, also after atoms have moved and on a second backward pass."""
    topology, ff, _cgmap, positions = chain_system
    energy = ForceFieldEnergy.from_topology(topology, ff, cutoff=3.8, dtype=torch.float64)
    start = _wrapped(positions + rng.normal(scale=0.08, size=positions.shape) + [7.5, 6.0, 8.8])
    pairs = energy.pairs(start, CELL)
    shifts = torch.as_tensor(pair_shifts(start, pairs, CELL))
    moved = start + rng.normal(scale=0.1, size=start.shape)  # within a Verlet skin
    results = []
    for kwargs in ({"cell": CELL}, {"cell": CELL, "shifts": shifts}):
        x = torch.tensor(moved[None].repeat(2, 0), requires_grad=True)  # batch of 2
        e = energy(x, pairs=pairs, soft_core=soft_core, **kwargs)
        (grad,) = torch.autograd.grad((e * torch.tensor([1.0, 2.0])).sum(), x)
        results.append((e.detach(), grad))
    (e_mic, g_mic), (e_shift, g_shift) = results
    assert torch.allclose(e_shift, e_mic, rtol=1e-12, atol=1e-12)
    assert torch.allclose(g_shift, g_mic, rtol=1e-10, atol=1e-12)
    assert float(g_mic.abs().max()) > 0.1
    # the analytic backward is first-order only: a Hessian request fails loudly
    x = torch.tensor(moved, requires_grad=True)
    with pytest.raises(RuntimeError, match="first-order"):
        torch.autograd.grad(energy(x, pairs=pairs, shifts=shifts).sum(), x, create_graph=True)


def test_bonded_terms_agree_with_hand_calculation(chain_system):
    topology, ff, _cgmap, positions = chain_system
    terms = EnergyTerms.from_topology(topology, ff, dtype=torch.float64)
    comp = ForceFieldEnergy(terms, topology.excluded_pairs()).components(
        torch.tensor(positions), pairs=torch.zeros((0, 2), dtype=torch.long)
    )
    kj = 96.48533212331  # kJ/mol per eV
    expected_bond = 0.0
    for i, j in topology.bonds:
        types = tuple(topology.atom_types[a] for a in (i, j))
        b0, kb = (0.153, 1000.0) if types == ("C", "C") else (0.110, 1000.0)  # nm, kJ/mol/nm2
        r = np.linalg.norm(positions[i] - positions[j]) / 10.0
        expected_bond += 0.5 * kb * (r - b0) ** 2 / kj
    assert float(comp["bond"]) == pytest.approx(expected_bond, rel=1e-6)
    # angles: numpy arccos with the ff.txt table
    table = {("H", "C", "H"): (109.45, 306.4), ("C", "C", "H"): (109.45, 448.9),
             ("H", "C", "C"): (109.45, 448.9), ("C", "C", "C"): (111.0, 530.3)}  # fmt: skip
    expected_angle = 0.0
    for i, j, k in topology.angles:
        a, b = positions[i] - positions[j], positions[k] - positions[j]
        theta = np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        th0, kth = table[tuple(topology.atom_types[x] for x in (i, j, k))]
        expected_angle += 0.5 * kth * (theta - np.deg2rad(th0)) ** 2 / kj
    assert float(comp["angle"]) == pytest.approx(expected_angle, rel=1e-6)
    # planar all-trans zigzag: C-C-C-C dihedrals are 180 deg, so k (1 + cos(3 pi)) = 0
    assert float(comp["proper"]) == pytest.approx(0.0, abs=1e-10)
    # the improper C1-C2-C3-H is the dihedral of an H out of the carbon plane
    idx = terms.impropers
    xi = float(dihedral_angles(torch.tensor(positions)[None], idx)[0, 0])
    assert float(comp["improper"]) == pytest.approx(0.5 * 167.4 / kj * xi**2, rel=1e-6)


def test_dihedral_convention_and_minimum_image():
    square = torch.tensor([[[1.0, 0, 0], [0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0.5]]])
    for z, expected in ((0.0, 0.0), (1.0, np.pi / 2)):
        p = square.clone()
        p[0, 3] = torch.tensor([1.0, 1.0, 0.0]) if z == 0 else torch.tensor([0.0, 1.0, 1.0])
        phi = float(dihedral_angles(p, torch.tensor([[0, 1, 2, 3]]))[0, 0])
        assert abs(phi) == pytest.approx(expected, abs=1e-6)
    cell = torch.tensor(CELL)
    small = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    assert torch.allclose(minimum_image(small + cell[0] - 2 * cell[2], cell), small)


def test_pair_list_matches_brute_force(rng):
    positions = rng.uniform(0, 1, size=(60, 3)) @ CELL
    pairs = lj_pairs(positions, np.array([[0, 1]]), 3.0, CELL)
    diff = positions[None] - positions[:, None]
    frac = diff @ np.linalg.inv(CELL)
    best = np.full(diff.shape[:2], np.inf)
    for shift in np.array(np.meshgrid(*[[-1, 0, 1]] * 3)).reshape(3, -1).T:
        best = np.minimum(best, np.linalg.norm((frac + shift) @ CELL, axis=-1))
    i, j = np.nonzero(np.triu(best < 3.0, k=1))
    expected = {(a, b) for a, b in zip(i.tolist(), j.tolist(), strict=True)} - {(0, 1)}
    assert {tuple(p) for p in pairs.tolist()} == expected


@pytest.mark.parametrize("cutoff", [3.5, 4.5, 8.5])
@pytest.mark.parametrize("pbc", [(True, True, True), (True, False, True)])
def test_pair_list_of_unwrapped_atoms_matches_brute_force(rng, pbc, cutoff):
    """Atoms outside the cell (unwrapped trajectories), non-periodic directions, and
    cutoffs above half the cell width (4.5 Å > 3.95 Å) and above a whole width (8.5 Å >
    7.9 Å): every pair whose nearest image is in range, listed once."""
    periodic = np.array(pbc)
    positions = rng.uniform(0, 1, size=(80, 3)) @ CELL
    positions += rng.integers(-2, 3, size=(80, 3)) * periodic @ CELL  # other images
    excluded = np.array([[5, 2], [7, 9], [0, 1]])
    pairs = lj_pairs(positions, excluded, cutoff, CELL, pbc)
    frac = (positions[None] - positions[:, None]) @ np.linalg.inv(CELL)
    frac[..., periodic] -= np.round(frac[..., periodic])  # nearest image per direction
    best = np.full(frac.shape[:2], np.inf)
    ranges = [(-1, 0, 1) if p else (0,) for p in pbc]
    for shift in np.array(np.meshgrid(*ranges)).reshape(3, -1).T:
        best = np.minimum(best, np.linalg.norm((frac + shift) @ CELL, axis=-1))
    i, j = np.nonzero(np.triu(best < cutoff, k=1))
    expected = {(a, b) for a, b in zip(i.tolist(), j.tolist(), strict=True)}
    assert sorted(map(tuple, pairs.tolist())) == sorted(expected - {(2, 5), (7, 9), (0, 1)})
    assert len(expected) > 50


def test_sps_reference_energy_finite_and_bonds_by_hand(sps_dir):
    from ase.io import read

    from cgkit.backmap.forcefield import read_forcefield, read_itp

    ff = read_forcefield(sps_dir / "forcefield" / "ff.txt")
    topology = read_itp(sps_dir / "aa_top" / "PS1.itp").replicate(36)
    atoms = read(sps_dir / "reference_snapshots" / "sPS_t568_1" / "aa" / "100.gro")
    energy = ForceFieldEnergy.from_topology(topology, ff, cutoff=9.0, dtype=torch.float64)
    comp = energy.components(torch.tensor(atoms.positions), cell=atoms.cell.array)
    assert all(np.isfinite(float(v)) for v in comp.values())
    assert float(comp["lj"]) < 0  # an equilibrated melt is bound
    # bond energy of chain 0 by hand with ASE minimum-image distances
    bonds = topology.bonds[topology.molecule_index[topology.bonds[:, 0]] == 0]
    r = np.array([atoms.get_distance(i, j, mic=True) for i, j in bonds])
    b0 = np.array([ff.bond((topology.atom_types[i], topology.atom_types[j])).params[0]
                   for i, j in bonds])  # fmt: skip
    kb = ff.bond(("C", "C")).params[1]
    chain_energy = ForceFieldEnergy.from_topology(
        read_itp(sps_dir / "aa_top" / "PS1.itp"), ff, dtype=torch.float64
    ).components(torch.tensor(atoms.positions[:162]), cell=atoms.cell.array)
    assert float(chain_energy["bond"]) == pytest.approx(float((0.5 * kb * (r - b0) ** 2).sum()))
    # thermal: mean angle energy per term near k_B T / 2 at 568 K (within a factor of 2)
    per_angle = float(comp["angle"]) / len(topology.angles)
    assert 0.5 * 0.0245 < per_angle < 2 * 0.0245


def test_soft_core_lj_is_finite_at_overlap_and_plain_far_away():
    from cgkit.backmap.energy import lj_pair_energies

    sigma, eps, alpha = torch.tensor([3.2]), torch.tensor([0.004]), 0.5
    pairs = torch.tensor([[0, 1]])

    def energy(r, soft_core):
        pos = torch.tensor([[[0.0, 0.0, 0.0], [r, 0.0, 0.0]]], dtype=torch.float64)
        return float(lj_pair_energies(pos, pairs, sigma, eps, soft_core=soft_core)[0, 0])

    # overlap: 4 eps (1/alpha^2 - 1/alpha), where the plain potential diverges
    assert energy(0.0, alpha) == pytest.approx(4 * 0.004 * (1 / alpha**2 - 1 / alpha))
    assert energy(0.3, 0.0) > 1e6
    # minimum of the plain potential at 2^(1/6) sigma with depth -eps; far away both agree
    assert energy(2 ** (1 / 6) * 3.2, 0.0) == pytest.approx(-0.004)
    assert energy(8.0, alpha) == pytest.approx(energy(8.0, 0.0), rel=1e-2)
    # soft_core = 0 is the plain potential of ForceFieldEnergy
    assert energy(3.0, 0.0) == pytest.approx(4 * 0.004 * ((3.2 / 3.0) ** 12 - (3.2 / 3.0) ** 6))
