"""Cached predictive terms equal gpytorch's prediction; variance components sum to the total."""

import copy

import gpytorch
import torch

from cgkit.ecg.fast_predict import PredictiveCache, triangle_blocks
from cgkit.ecg.gp import LatentGP, variance_components

torch.set_num_threads(1)


def _random_gp(n_inducing=40, dim=3, seed=0):
    torch.manual_seed(seed)
    gp = LatentGP(torch.randn(n_inducing, dim))
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    dist = gp.variational_strategy._variational_distribution
    with torch.no_grad():
        gp.variational_strategy.variational_params_initialized.fill_(1)  # keep these values
        dist.variational_mean.copy_(torch.randn(n_inducing))
        chol = torch.tril(0.3 * torch.randn(n_inducing, n_inducing), -1)
        chol += torch.diag(0.2 + torch.rand(n_inducing))
        dist.chol_variational_covar.copy_(chol)
        gp.covar_module.base_kernel.lengthscale = torch.tensor([[0.8, 1.3, 0.6]])
        gp.covar_module.outputscale = 1.7
        gp.mean_module.constant.fill_(-0.4)
        likelihood.noise = 0.05
    return gp.eval(), likelihood.eval()


def test_cache_equals_gpytorch_prediction_in_float64():
    gp, likelihood = _random_gp()
    z = 1.5 * torch.randn(300, 3, dtype=torch.float64)
    gp64, lik64 = copy.deepcopy(gp).double(), copy.deepcopy(likelihood).double()
    with torch.no_grad():
        ref = lik64(gp64(z))
    mean, variance = PredictiveCache.from_gp(gp, likelihood).predict(z)
    torch.testing.assert_close(mean, ref.mean, rtol=1e-5, atol=1e-6)  # |mean| ~ 1
    torch.testing.assert_close(variance, ref.variance, rtol=1e-5, atol=0.0)
    # heteroscedastic: the predictive variance varies with z
    assert float(variance.max() / variance.min()) > 2.0


def test_cache_matches_gpytorch_float32_model_closely():
    gp, likelihood = _random_gp(seed=1)
    z = torch.randn(200, 3)
    with torch.no_grad():
        ref = likelihood(gp(z))
    mean, variance = PredictiveCache.from_gp(gp, likelihood).predict(z)
    torch.testing.assert_close(mean.float(), ref.mean, rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(variance.float(), ref.variance, rtol=1e-3, atol=1e-4)


def test_variance_components_sum_to_total_and_agree_with_uncached():
    gp, likelihood = _random_gp(seed=2)
    z = torch.randn(150, 3, dtype=torch.float64)
    cache = PredictiveCache.from_gp(gp, likelihood)
    parts = cache.predict_components(z)
    _, variance = cache.predict(z)
    total = parts["var_K"] + parts["var_S"] + parts["var_noise"]
    torch.testing.assert_close(total, parts["var_total"])
    torch.testing.assert_close(parts["var_total"], variance, rtol=1e-8, atol=1e-10)
    direct = variance_components(gp, likelihood, z)
    for key in ("mean", "var_K", "var_S", "var_noise"):
        torch.testing.assert_close(parts[key], direct[key], rtol=1e-7, atol=1e-9)
    # s_K^2 is a Nystrom residual: non-negative and at most the prior variance
    assert float(parts["var_K"].min()) > -1e-9
    assert float(parts["var_K"].max()) <= 1.7 + 1e-4 + 1e-9
    # far from the inducing points everything reverts to the prior
    far = cache.predict_components(torch.full((1, 3), 50.0, dtype=torch.float64))
    torch.testing.assert_close(far["var_K"], torch.tensor([1.7 + 1e-4], dtype=torch.float64))
    torch.testing.assert_close(far["mean"], torch.tensor([-0.4], dtype=torch.float64))


def test_cache_blocks_give_the_same_numbers_and_empty_input_is_empty():
    gp, likelihood = _random_gp(seed=3)
    cache = PredictiveCache.from_gp(gp, likelihood)
    z = torch.randn(101, 3, dtype=torch.float64)
    whole = cache.predict(z, batch_size=1000)
    for block in (None, 7, 64):  # uneven last block included
        parts = cache.predict(z, batch_size=block)
        torch.testing.assert_close(parts[0], whole[0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(parts[1], whole[1], rtol=1e-12, atol=1e-12)
    mean, variance = cache.predict(z[:0])
    assert mean.shape == variance.shape == (0,)


def test_triangle_blocks_give_the_full_quadratic_form_and_linear_term():
    generator = torch.Generator().manual_seed(4)
    a = torch.randn(301, 301, dtype=torch.float64, generator=generator)
    symmetric = a + a.T
    column = torch.randn(301, dtype=torch.float64, generator=generator)
    k = torch.rand(50, 301, dtype=torch.float64, generator=generator)
    expected_quad = torch.einsum("bi,ij,bj->b", k, symmetric, k)
    for block_size in (1, 64, 100, 128, 301, 1000):  # uneven splits and a single block
        blocks = triangle_blocks(symmetric, column, block_size)
        assert blocks[0][0] == 0 and blocks[-1][1] == 301
        assert all(
            hi == next_lo
            for (_, hi, _), (next_lo, _, _) in zip(blocks[:-1], blocks[1:], strict=True)
        )
        quad = sum(
            torch.linalg.vecdot((k[:, :hi] @ f)[:, : hi - lo], k[:, lo:hi]) for lo, hi, f in blocks
        )
        torch.testing.assert_close(quad, expected_quad, rtol=1e-12, atol=1e-10)
        torch.testing.assert_close((k @ blocks[-1][2])[:, -1], k @ column, rtol=1e-12, atol=1e-12)
    # about half the multiply-adds of the full product once there are several blocks
    n_mult = sum(f.numel() for _, _, f in triangle_blocks(symmetric, column, 64))
    assert n_mult < 0.62 * 301 * 302


def test_cache_with_several_blocks_equals_gpytorch():
    gp, likelihood = _random_gp(n_inducing=300, seed=5)
    cache = PredictiveCache.from_gp(gp, likelihood)
    assert len(cache._blocks) == 3
    assert cache.multiply_adds_per_frame < 0.7 * 300**2
    z = 1.5 * torch.randn(200, 3, dtype=torch.float64)
    gp64, lik64 = copy.deepcopy(gp).double(), copy.deepcopy(likelihood).double()
    with torch.no_grad():
        ref = lik64(gp64(z))
    mean, variance = cache.predict(z)
    torch.testing.assert_close(mean, ref.mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(variance, ref.variance, rtol=1e-5, atol=0.0)
