"""Cached predictive terms of the latent GP: a prediction is a kernel row times fixed matrices.

After training nothing about the GP changes, so every quantity that does not depend on
the test input is computed once (in float64)::

    a      = L^{-T} m                      mean weights                 (M,)
    B      = L^{-T} (S - I) L^{-1}          total variance update        (M, M)
    L^{-T}, L^{-T} R                        for the separate s_K, s_S terms (S = R R^T)

and a prediction at latents ``z`` needs only ``k = K(z, Z)``::

    mean      = c + k a
    var_f     = k(z, z) + jitter + k B k^T
    var_total = var_f + s^2

which equals gpytorch's ``likelihood(gp(z))`` in eval mode (same jitter, same algebra).
The quadratic form needs float64: float32 is not accurate enough because ``L^{-1}``
amplifies rounding by up to ``outputscale / jitter``. ``B`` is symmetric, so only its
upper block triangle is used: with column blocks ``I`` of ``B`` ::

    k B k^T = sum_I  k[:, I] . (k[:, :I] (2 B[:I, I]) + k[:, I] B[I, I])

which is ``M (M + b) / 2`` instead of ``M^2`` multiply-adds per frame for blocks of ``b``
columns (one GEMM per block, see :func:`triangle_blocks`). The mean weights ride along as
one more column of the last block, whose GEMM sees the whole kernel row. Frames go
through in blocks of about 4 MB of kernel rows: large enough for an efficient GEMM, small
enough to stay in the L3 cache between the kernel, the GEMMs and the row sums.
"""

from __future__ import annotations

import torch

from cgkit.ecg.gp import LatentGP, gp_parameters, rbf_cross


def triangle_blocks(symmetric, last_column, block_size: int = 128):
    """Column blocks of the upper block triangle of a symmetric matrix, for quadratic forms.

    Parameters
    ----------
    symmetric : Tensor (M, M)
        ``A``, symmetric.
    last_column : Tensor (M,)
        Appended as one more column to the last block (a linear term ``k . c``).
    block_size : int
        Columns per block; the blocks split ``M`` into ``ceil(M / block_size)`` near-equal parts.

    Returns
    -------
    list of (lo, hi, factor)
        ``factor`` (hi, hi - lo) is ``[2 A[:lo, lo:hi]; A[lo:hi, lo:hi]]``, so that
        ``k A k^T = sum over blocks of (k[:, :hi] @ factor) . k[:, lo:hi]``; the last block's
        factor has ``last_column`` as its extra column (M, hi - lo + 1).
    """
    n = symmetric.shape[0]
    n_blocks = max(1, -(-n // block_size))
    edges = [round(i * n / n_blocks) for i in range(n_blocks + 1)]
    blocks = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        factor = symmetric[:hi, lo:hi].clone()
        factor[:lo] *= 2.0
        if hi == n:
            factor = torch.cat([factor, last_column[:, None]], dim=1)
        blocks.append((lo, hi, factor.contiguous()))
    return blocks


class PredictiveCache:
    """Precomputed predictive terms of a trained :class:`~cgkit.ecg.gp.LatentGP`.

    Build with :meth:`from_gp`; all tensors are float64 on ``device``.
    """

    def __init__(self, params: dict[str, torch.Tensor]):
        self.params = params
        zz = params["inducing_points"]
        eye = torch.eye(len(zz), dtype=zz.dtype, device=zz.device)
        k_zz = rbf_cross(zz, zz, params["lengthscale"], params["outputscale"])
        chol = torch.linalg.cholesky(k_zz + params["jitter"] * eye)
        chol_inv = torch.linalg.solve_triangular(chol, eye, upper=False)  # L^{-1}
        self.inducing_points = zz
        self.lengthscale = params["lengthscale"]
        self.outputscale = params["outputscale"]
        self.prior_variance = params["outputscale"] + params["jitter"]
        self.constant = params["constant"]
        self.noise = params["noise"]
        #: L^{-T} m, shape (M,)
        self.mean_weights = chol_inv.T @ params["variational_mean"]
        #: L^{-T}, shape (M, M): |k L^{-T}|^2 is the Nystrom term
        self.projection = chol_inv.T.contiguous()
        #: L^{-T} R, shape (M, M): |k L^{-T} R|^2 = s_S^2
        self.inducing_root = (chol_inv.T @ params["variational_chol"]).contiguous()
        s_minus_i = params["variational_chol"] @ params["variational_chol"].T - eye
        update = chol_inv.T @ s_minus_i @ chol_inv
        #: L^{-T} (S - I) L^{-1}, shape (M, M), symmetric
        self.variance_update = (0.5 * (update + update.T)).contiguous()
        # fast path: kernel rows without the outputscale, which is folded in here
        self._scaled_points = (zz / self.lengthscale).contiguous()
        self._scaled_norms = (self._scaled_points**2).sum(-1)
        # upper block triangle of s^2 B, the mean weights s a as the last block's extra
        # column: unit kernel rows times these give the quadratic form and the mean
        self._blocks = triangle_blocks(
            self.outputscale**2 * self.variance_update, self.outputscale * self.mean_weights
        )

    @property
    def multiply_adds_per_frame(self) -> int:
        """float64 multiply-adds of the GEMMs per predicted frame (``~ M (M + b) / 2``)."""
        return sum(factor.numel() for _, _, factor in self._blocks)

    @classmethod
    def from_gp(cls, gp: LatentGP, likelihood, device="cpu") -> PredictiveCache:
        """Cache the predictive terms of ``gp`` and its Gaussian ``likelihood``."""
        params = gp_parameters(gp, likelihood, dtype=torch.float64)
        return cls({k: v.to(device) for k, v in params.items()})

    def kernel_row(self, z: torch.Tensor) -> torch.Tensor:
        """``K(z, Z)`` (B, M) in float64."""
        return self._unit_kernel_row(z).mul_(self.outputscale)

    def _unit_kernel_row(self, z: torch.Tensor) -> torch.Tensor:
        """``K(z, Z) / outputscale`` (B, M), computed in place to spare memory traffic."""
        a = z.to(device=self.inducing_points.device, dtype=torch.float64) / self.lengthscale
        sq = torch.addmm(self._scaled_norms[None, :], a, self._scaled_points.T, alpha=-2.0)
        sq.add_((a * a).sum(-1, keepdim=True)).clamp_min_(0.0)
        return sq.mul_(-0.5).exp_()

    @torch.no_grad()
    def predict(
        self, z: torch.Tensor, batch_size: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictive mean and variance (noise included) of ``y`` at latents ``z`` (B, d).

        Parameters
        ----------
        z : Tensor, shape (B, d)
        batch_size : int or None
            Frames per block; None sizes blocks so that a block of kernel rows takes about
            4 MB (1310 frames at 400 inducing points, 524 at 1000).

        Returns
        -------
        mean, variance : Tensor, shape (B,), float64
        """
        n_inducing = len(self.inducing_points)
        if batch_size is None:
            batch_size = max(64, 2**19 // n_inducing)  # 2^22 bytes of float64
        mean = torch.empty(len(z), dtype=torch.float64, device=self.inducing_points.device)
        variance = torch.empty_like(mean)
        for start in range(0, len(z), batch_size):
            k = self._unit_kernel_row(z[start : start + batch_size])
            stop = start + len(k)
            quad = variance[start:stop].fill_(0.0)
            for lo, hi, factor in self._blocks:
                left = k[:, :hi] @ factor  # (b, hi - lo), plus the mean column in the last
                quad.add_(torch.linalg.vecdot(left[:, : hi - lo], k[:, lo:hi]))
            torch.add(left[:, -1], self.constant, out=mean[start:stop])
            quad.add_(self.prior_variance + self.noise)
        return mean, variance

    @torch.no_grad()
    def predict_components(
        self, z: torch.Tensor, batch_size: int = 8192
    ) -> dict[str, torch.Tensor]:
        """Mean and variance terms ``var_K``, ``var_S``, ``var_noise``, ``var_total`` (B,) each."""
        parts: dict[str, list[torch.Tensor]] = {
            k: [] for k in ("mean", "var_K", "var_S", "var_noise", "var_total")
        }
        for start in range(0, len(z), batch_size):
            k = self.kernel_row(z[start : start + batch_size])
            a = k @ self.projection
            r = k @ self.inducing_root
            var_k = self.prior_variance - (a * a).sum(-1)
            var_s = (r * r).sum(-1)
            var_noise = self.noise.expand_as(var_k)
            parts["mean"].append(self.constant + k @ self.mean_weights)
            parts["var_K"].append(var_k)
            parts["var_S"].append(var_s)
            parts["var_noise"].append(var_noise)
            parts["var_total"].append(var_k + var_s + var_noise)
        return {
            k: torch.cat(v) if v else torch.zeros(0, dtype=torch.float64) for k, v in parts.items()
        }
