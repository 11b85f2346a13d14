"""Approximate (inducing-point) GP on the latent space and its variance decomposition.

The GP of DKL-ECG is a sparse variational GP with ``n_inducing`` learned inducing
locations ``Z``, a whitened Cholesky variational distribution ``q(u) = N(m, S)``, a
constant mean and a scaled ARD RBF kernel ``k`` on the latent ``z``. Trained with the
predictive log likelihood (Jankowiak et al. 2020), the predictive variance becomes
input dependent. With ``L L^T = K_ZZ + jitter I`` and ``a(z) = L^{-1} k_Z(z)`` it splits as
(Maier & Jackson 2022, eq. 7 and appendix A)::

    var(y | z) = s_K^2(z) + s_S^2(z) + s^2
    s_K^2 = k(z, z) + jitter - |a(z)|^2     (mean fit: what the inducing points cannot explain)
    s_S^2 = a(z)^T S a(z)                   (spread of the inducing distribution)
    s^2   = likelihood noise                (homoscedastic floor)
"""

from __future__ import annotations

import gpytorch
import torch
from torch import nn

from cgkit.ecg.encoder import LatentEncoder

#: Diagonal jitter added to K_ZZ and k(z, z), fixed so every dtype gives the same model.
DEFAULT_JITTER = 1e-4


class LatentGP(gpytorch.models.ApproximateGP):
    """Sparse variational GP on latent vectors.

    Parameters
    ----------
    inducing_points : Tensor, shape (n_inducing, latent_dim)
        Initial inducing locations (learned).
    jitter : float
        Diagonal jitter of the variational strategy.
    """

    def __init__(self, inducing_points: torch.Tensor, jitter: float = DEFAULT_JITTER):
        n_inducing, latent_dim = inducing_points.shape
        distribution = gpytorch.variational.CholeskyVariationalDistribution(n_inducing)
        strategy = gpytorch.variational.VariationalStrategy(
            self,
            inducing_points,
            distribution,
            learn_inducing_locations=True,
            jitter_val=jitter,
        )
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(
            gpytorch.kernels.RBFKernel(ard_num_dims=latent_dim)
        )

    def forward(self, z: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(z), self.covar_module(z))


class DeepKernelGP(nn.Module):
    """Encoder (``g`` + variational encoding) -> latent GP -> Gaussian likelihood.

    Parameters
    ----------
    encoder : LatentEncoder
    gp : LatentGP
    likelihood : gpytorch.likelihoods.GaussianLikelihood
    """

    def __init__(self, encoder: LatentEncoder, gp: LatentGP, likelihood):
        super().__init__()
        self.encoder = encoder
        self.gp = gp
        self.likelihood = likelihood

    def forward(self, features: torch.Tensor):
        """Return ``(f_distribution, z, latent_mean, latent_log_variance)`` for features (B, D)."""
        z, mean, log_variance = self.encoder(features)
        return self.gp(z), z, mean, log_variance


def gp_parameters(gp: LatentGP, likelihood, dtype=torch.float64) -> dict[str, torch.Tensor]:
    """Detached GP parameters in ``dtype``.

    Returns
    -------
    dict
        ``inducing_points`` (M, d), ``lengthscale`` (d,), ``outputscale`` (), ``constant`` (),
        ``noise`` (), ``variational_mean`` (M,) (whitened ``m``), ``variational_chol`` (M, M)
        (lower-triangular root of the whitened ``S``), ``jitter`` ().
    """
    strategy = gp.variational_strategy
    dist = strategy._variational_distribution
    kernel = gp.covar_module
    as_t = dict(dtype=dtype)
    return {
        "inducing_points": strategy.inducing_points.detach().to(**as_t),
        "lengthscale": kernel.base_kernel.lengthscale.detach().reshape(-1).to(**as_t),
        "outputscale": kernel.outputscale.detach().reshape(()).to(**as_t),
        "constant": gp.mean_module.constant.detach().reshape(()).to(**as_t),
        "noise": likelihood.noise.detach().reshape(()).to(**as_t),
        "variational_mean": dist.variational_mean.detach().to(**as_t),
        "variational_chol": torch.tril(dist.chol_variational_covar.detach()).to(**as_t),
        "jitter": torch.tensor(float(strategy.jitter_val), **as_t),
    }


def rbf_cross(z: torch.Tensor, inducing_points, lengthscale, outputscale) -> torch.Tensor:
    """Scaled ARD RBF kernel ``K(z, Z)`` (B, M)."""
    a = z / lengthscale
    b = inducing_points / lengthscale
    sq = (a * a).sum(-1, keepdim=True) - 2.0 * a @ b.T + (b * b).sum(-1)[None, :]
    return outputscale * torch.exp(-0.5 * sq.clamp_min(0.0))


def variance_components(gp: LatentGP, likelihood, z: torch.Tensor) -> dict[str, torch.Tensor]:
    """Predictive mean and the three variance terms at latents ``z``, uncached (float64).

    Parameters
    ----------
    gp : LatentGP
    likelihood : gpytorch.likelihoods.GaussianLikelihood
    z : Tensor, shape (B, d)

    Returns
    -------
    dict of Tensor, shape (B,)
        ``mean``, ``var_K`` (s_K^2), ``var_S`` (s_S^2), ``var_noise`` (s^2), ``var_total``;
        in the standardised target units the GP was trained in.
    """
    p = gp_parameters(gp, likelihood)
    z = z.detach().to(torch.float64)
    zz = p["inducing_points"]
    k_zz = rbf_cross(zz, zz, p["lengthscale"], p["outputscale"])
    chol = torch.linalg.cholesky(k_zz + p["jitter"] * torch.eye(len(zz), dtype=zz.dtype))
    k_xz = rbf_cross(z, zz, p["lengthscale"], p["outputscale"])
    interp = torch.linalg.solve_triangular(chol, k_xz.T, upper=False)  # (M, B)
    var_k = p["outputscale"] + p["jitter"] - (interp * interp).sum(0)
    root = p["variational_chol"].T @ interp  # (M, B)
    var_s = (root * root).sum(0)
    var_noise = p["noise"].expand_as(var_k)
    return {
        "mean": p["constant"] + interp.T @ p["variational_mean"],
        "var_K": var_k,
        "var_S": var_s,
        "var_noise": var_noise,
        "var_total": var_k + var_s + var_noise,
    }
