"""Sequence-level torch operations of DBM: voxel channels, unrolled generation, energies.

A :class:`SequenceTensors` holds the local environments of B beads whose L atoms are
placed one after the other (thesis eq. 4.13: generated atoms enter the environments of
the following ones). :func:`unroll` runs the generator over a sequence; the energy of
the force-field terms touching a sequence serves both as training prior and to pick the
best inference candidate.
"""

from __future__ import annotations

import numpy as np
import torch

from cgkit.backmap.energy import bond_angles, dihedral_angles, lj_pair_energies
from cgkit.backmap.voxel import density_to_coordinate, gaussian_density


def rotate_about_z(local, angles):
    """Rotate local coordinates (B, K, 3) by ``angles`` (B,) about z: ``x @ Rz^T``."""
    c, s = torch.cos(angles), torch.sin(angles)
    x, y, z = local.unbind(-1)
    return torch.stack([c[:, None] * x + s[:, None] * y, -s[:, None] * x + c[:, None] * y, z], -1)


class SequenceTensors:
    """Torch view of a :class:`~cgkit.backmap.batch.SequenceBatch` with its voxel blobs.

    Parameters
    ----------
    batch : SequenceBatch
    grid : Tensor (R, R, R, 3)
    sigma_sq : float
    angles : Tensor (n_copies * B,) or None   extra rotation about z of all coordinates
    channel_dtype : torch.dtype      dtype of the environment channels (the network input);
                                     coordinates and energies stay float32. bfloat16 halves
                                     the cost of the channel sums for a bfloat16 generator.
    n_copies : int                   evaluate ``n_copies`` copies of every environment
                                     (copy-major: entry ``c * B + b`` is bead ``b`` of copy
                                     ``c``), e.g. inference candidates with their own
                                     ``angles``; the channel memberships are shared, not copied.
    """

    def __init__(self, batch, grid, sigma_sq, angles=None, device="cpu",
                 channel_dtype=torch.float32, n_copies=1):  # fmt: skip
        def t(x, dtype=torch.float32, tile=False):
            out = torch.as_tensor(np.asarray(x), dtype=dtype, device=device)
            return out.repeat(n_copies, *([1] * (out.dim() - 1))) if tile else out

        self.grid, self.sigma_sq = grid, sigma_sq
        self.n_copies, self.channel_dtype = n_copies, channel_dtype
        n_single, self.n_seq = batch.sequence.shape
        self.n_batch = n_copies * n_single
        self.n_env = batch.env_atoms.shape[1]
        self.env_local = t(batch.env_local, tile=True)
        self.seq_local = t(batch.seq_local, tile=True)
        self.bead_local = t(batch.bead_local, tile=True)
        if angles is not None:
            self.env_local = rotate_about_z(self.env_local, angles)
            self.seq_local = rotate_about_z(self.seq_local, angles)
            self.bead_local = rotate_about_z(self.bead_local, angles)
        self.seq_membership = t(batch.seq_membership, channel_dtype)  # (B, L, L, C)
        self.seq_visible = t(batch.seq_visible, channel_dtype)  # (B, L, L)
        self.target_types = t(batch.target_types, torch.long, tile=True)
        # environment channels of every step, (B, L, C, n, V): one product per bead with the
        # blobs of all copies side by side, instead of copying the memberships n times
        env = self._blobs(self.env_local)  # (B, K, n V)
        env_mem = t(batch.env_membership, channel_dtype)  # (B, L, K, C)
        n_ch = env_mem.shape[-1]
        env_mem = env_mem.permute(0, 1, 3, 2).reshape(n_single, -1, self.n_env)
        channels = torch.bmm(env_mem, env).view(n_single, self.n_seq, n_ch, n_copies, -1)
        bead_mem = t(batch.bead_membership, channel_dtype).transpose(1, 2)  # (B, C, Kb)
        beads = torch.bmm(bead_mem, self._blobs(self.bead_local))
        self._env_channels = channels.add_(beads.view(n_single, 1, n_ch, n_copies, -1))
        # force-field terms of each copy: point indices shifted by the copy's flattened offset
        stride = n_single * (self.n_env + self.n_seq)
        self.terms = {
            kind: (
                torch.cat([t(index, torch.long) + c * stride for c in range(n_copies)]),
                t(params).repeat(n_copies, 1),
            )
            for kind, (index, params) in batch.terms.items()
        }

    def _blobs(self, local) -> torch.Tensor:
        """Gaussian blobs (B, K, n * V) of points (n * B, K, 3), copies side by side."""
        n = self.n_copies
        points = local.view(n, -1, *local.shape[1:]).permute(1, 2, 0, 3)  # (B, K, n, 3)
        blobs = gaussian_density(points.contiguous(), self.grid, self.sigma_sq)
        return blobs.to(self.channel_dtype).flatten(2)

    def step_channels(self, step: int, seq_coords) -> torch.Tensor:
        """Channels (n B, C, R, R, R) seen by sequence atom ``step`` given coordinates
        (n B, L, 3) of the sequence atoms (only visible ones contribute)."""
        n, r = self.n_copies, self.grid.shape[0]
        blobs = gaussian_density(seq_coords, self.grid, self.sigma_sq).flatten(2)
        blobs = blobs.to(self.channel_dtype).view(n, -1, self.n_seq, r**3)  # (n, B, L, V)
        mem = self.seq_membership[:, step] * self.seq_visible[:, step, :, None]  # (B, L, C)
        sequence = torch.einsum("bjc,nbjv->nbcv", mem, blobs)
        env = self._env_channels[:, step].permute(2, 0, 1, 3)  # (n, B, C, V)
        # sequence first: the sum takes its (contiguous) layout, so the view below is free
        return (sequence + env).reshape(self.n_batch, -1, r, r, r)

    def atom_density(self, coords) -> torch.Tensor:
        """Density channel (B, 1, R, R, R) of one atom per sequence at coords (B, 3)."""
        return gaussian_density(coords[:, None], self.grid, self.sigma_sq)

    def energy(self, seq_coords, nonbonded_scale: float = 1.0, soft_core: float = 0.5,
               bond_stiffness: float = 1.0):  # fmt: skip
        """Force-field energy (B,) eV of the terms touching the sequence atoms.

        Lennard-Jones uses the soft core ``r^6 -> r^6 + soft_core * sigma^6`` so that
        overlapping atoms (frequent while the generator is untrained) give finite energies
        and gradients during training; ``soft_core=0`` is the plain potential, which
        candidate selection at inference uses so that clashes cost their full energy.
        ``bond_stiffness`` multiplies the force-field bond constants (as in
        :class:`~cgkit.backmap.GeometricBackmapper`).
        """
        points = torch.cat([self.env_local, seq_coords], dim=1)
        width = points.shape[1]
        flat = points.reshape(1, -1, 3)
        total = flat.new_zeros(self.n_batch)

        def add(index, energies):
            total.index_add_(0, index[:, 0] // width, energies[0])

        idx, par = self.terms["bond"]
        if len(idx):
            r = (flat[:, idx[:, 1]] - flat[:, idx[:, 0]]).norm(dim=-1)
            add(idx, 0.5 * bond_stiffness * par[:, 1] * (r - par[:, 0]) ** 2)
        idx, par = self.terms["angle"]
        if len(idx):
            add(idx, 0.5 * par[:, 1] * (bond_angles(flat, idx) - par[:, 0]) ** 2)
        idx, par = self.terms["proper"]
        if len(idx):
            phi = dihedral_angles(flat, idx)
            add(idx, par[:, 1] * (1 + torch.cos(par[:, 2] * phi - par[:, 0])))
        idx, par = self.terms["improper"]
        if len(idx):
            xi = dihedral_angles(flat, idx) - par[:, 0]
            add(idx, 0.5 * par[:, 1] * (torch.remainder(xi + np.pi, 2 * np.pi) - np.pi) ** 2)
        idx, par = self.terms["lj"]
        if len(idx):
            lj = lj_pair_energies(flat, idx, par[:, 0], par[:, 1], soft_core=soft_core)
            add(idx, nonbonded_scale * lj)
        return total


def unroll(
    generator,
    tensors: SequenceTensors,
    n_atom_types: int,
    noise_dim: int,
    gibbs=False,
    noise_generator=None,
):
    """Place the sequence atoms one after the other with the generator.

    ``gibbs``: later sequence atoms are visible at their current positions;
    ``noise_generator``: optional ``torch.Generator`` for the noise draws.

    Returns
    -------
    coords : Tensor (B, L, 3)      generated local coordinates
    inputs : list of Tensor        environment channels seen at each step (B, C, R, R, R)
    """
    current = tensors.seq_local if gibbs else torch.zeros_like(tensors.seq_local)
    placed, inputs = [], []
    for step in range(tensors.n_seq):
        coords = torch.stack(
            placed + [current[:, j] for j in range(len(placed), tensors.n_seq)], dim=1
        )
        channels = tensors.step_channels(step, coords)
        label = torch.nn.functional.one_hot(tensors.target_types[:, step], n_atom_types).float()
        noise = torch.randn(
            tensors.n_batch, noise_dim, device=channels.device, generator=noise_generator
        )
        density = generator(channels, label, noise)
        placed.append(density_to_coordinate(density, tensors.grid))
        inputs.append(channels)
    return torch.stack(placed, dim=1), inputs


def reference_inputs(tensors: SequenceTensors) -> list[torch.Tensor]:
    """Environment channels of each step with the reference sequence coordinates."""
    return [tensors.step_channels(s, tensors.seq_local) for s in range(tensors.n_seq)]
