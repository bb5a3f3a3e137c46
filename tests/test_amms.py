"""AMMS-Net reconstruction: sizes, the three Mult-Adds counters, the chunked non-local attention (same
function, bounded memory), the Newton-Schulz square root, and the bicubic rows in the paper's report."""

import pytest
import torch
import torch.nn.functional as F

from bench import registry, results
from bench.complexity import fvcore_mult_adds, meta_mult_adds
from bench.measurements import latest
from bench.report import build_cells
from bench.reported import known_differences, reported_numbers
from bench.reproduce import evaluate_models
from reproductions.amms import VARIANTS
from reproductions.amms.memory import peak_activation_bytes
from reproductions.amms.model import NonLocal, SecondOrderAttention, covariance, sqrtm_newton_schulz
from reproductions.amms.recipe import recipe

AMMS_ROWS = [r for r in reported_numbers() if r.paper == "amms"]
GiB = 2**30


def test_every_variant_and_scale_runs():
    x = torch.rand(1, 3, 9, 8)
    with torch.no_grad():
        for variant in VARIANTS:
            assert registry.make(f"amms.{variant}", scale=2)(x).shape == (1, 3, 18, 16)
        for scale in (3, 4):
            assert registry.make("amms", scale=scale)(x).shape == (1, 3, 9 * scale, 8 * scale)


def test_variants_are_the_table_1_rows():
    assert set(VARIANTS) == {r.variant for r in AMMS_ROWS if r.table == "Table 1"}
    for key in known_differences():
        if key[0] == "amms":
            assert any((r.paper, r.model, r.variant, r.scale, r.metric, r.dataset)[:len(key)] == key
                       for r in AMMS_ROWS), key  # a sixth element names one cell's dataset


def _spec_params(scale: int, c: int = 64, k: int = 4, m: int = 1) -> int:
    """The reconstruction's module list, counted by hand."""
    conv = lambda cin, cout, kernel: cin * cout * kernel * kernel + cout  # noqa: E731
    msff = conv(c, c, 1) + conv(c, c, 3) + conv(c, c, 5) + conv(3 * c, c, 1)
    non_local = 3 * conv(c, c // 8, 1) + conv(c // 8, c, 1)
    soca = conv(c, c // 16, 1) + conv(c // 16, c, 1)
    am = non_local + soca + conv(2 * c, c, 1)
    ls_am = m * am + conv(c, c, 3)
    sf_block = 3 * conv(c, c, 1)
    upsampler = conv(c, 9 * c, 3) if scale == 3 else (scale // 2) * conv(c, 4 * c, 3)
    return conv(3, c, 3) + 2 * sf_block + k * (2 * msff + ls_am) + conv(c, c, 3) + upsampler + conv(c, 3, 3)


@pytest.mark.parametrize("scale, k, m, spec_millions", [(2, 4, 1, 1.65), (3, 4, 1, 1.84), (4, 4, 1, 1.80),
                                                        (2, 4, 2, 1.70), (2, 6, 2, 2.44), (2, 10, 2, 3.92)])
def test_params_match_the_spec(scale, k, m, spec_millions):
    """No size is printed in the paper; the spec's independent rewrite measured these (3 digits)."""
    ours = sum(p.numel() for p in registry.make("amms", scale=scale, n_amms=k, n_am=m).parameters())
    assert ours == _spec_params(scale, k=k, m=m)
    assert abs(ours / 1e6 - spec_millions) <= 0.005


@pytest.mark.parametrize("scale, lr, overrides", [(2, (13, 11), {}),
                                                  (3, (12, 10), {"nl_chunk": 100, "ns_iterations": 1, "fusion": "sum"}),
                                                  (4, (9, 10), VARIANTS["multiscale-only"].overrides)])
def test_fvcore_meta_and_analytic_mult_adds_agree(scale, lr, overrides):
    model = registry.make("amms", scale=scale, **overrides).eval()
    fv = fvcore_mult_adds(model, torch.rand(1, 3, *lr))["mult_adds"]
    assert fv == meta_mult_adds(model, (1, 3, *lr)) == model.analytic_mult_adds(*lr)


def _randomise_non_local(model: torch.nn.Module) -> None:
    """W starts at zero (SAN), which would hide the attention: give it weights so every path matters."""
    torch.manual_seed(1)
    for module in model.modules():
        if isinstance(module, NonLocal):
            torch.nn.init.normal_(module.W.weight, std=0.1)


def _reference_non_local(nl: NonLocal, x: torch.Tensor) -> torch.Tensor:
    """SAN's formula, region by region (2 x 2 floor split), each region's whole matrix at once."""
    out = x.clone()
    h, w = x.shape[-2:]
    for rows in (slice(0, h // 2), slice(h // 2, h)):
        for cols in (slice(0, w // 2), slice(w // 2, w)):
            r = x[:, :, rows, cols]
            theta = nl.theta(r).flatten(2).transpose(1, 2)
            attention = F.softmax(theta @ nl.phi(r).flatten(2), dim=-1)
            y = (attention @ nl.g(r).flatten(2).transpose(1, 2)).transpose(1, 2).reshape(r.shape[0], -1, *r.shape[-2:])
            out[:, :, rows, cols] += nl.W(y)
    return out


@pytest.mark.parametrize("size", [(24, 20), (25, 19)])  # equal regions (batched) and unequal ones
def test_chunked_non_local_is_san_s_formula(size):
    torch.manual_seed(0)
    nl = NonLocal(16, 4, chunk=1000)  # 1000 scores at a time: blocks of 1 to 4 query rows
    _randomise_non_local(nl)
    x = torch.randn(2, 16, *size) * 3
    with torch.no_grad():
        reference = _reference_non_local(nl, x)
        assert (reference - x).abs().max() > 0.1  # the attention changes the map
        for chunk in (1000, 0):
            nl.chunk = chunk
            assert (nl(x) - reference).abs().max().item() < 1e-5


def test_chunked_model_equals_the_whole_matrix_model():
    whole = registry.make("amms", scale=2, nl_chunk=0, n_amms=2).eval()  # two blocks: the option reaches each
    _randomise_non_local(whole)
    chunked = registry.make("amms", scale=2, nl_chunk=300, n_amms=2).eval()  # blocks of 7 to 10 query rows
    chunked.load_state_dict(whole.state_dict())
    x = torch.rand(1, 3, 13, 11)
    with torch.no_grad():
        assert (chunked(x) - whole(x)).abs().max().item() < 1e-5


def test_non_local_memory_is_bounded():
    """Whole score matrices grow with the square of the pixels; the default chunked path linearly."""
    peaks = {chunk: [peak_activation_bytes(registry.make("amms", scale=2, **chunk_option), (1, 3, side, side))
                     for side in (96, 192)]
             for chunk, chunk_option in (("whole", {"nl_chunk": 0}), ("chunked", {}))}
    assert peaks["whole"][1] / peaks["whole"][0] > 12  # ~16 for 4x the pixels
    assert peaks["chunked"][1] / peaks["chunked"][0] < 4.5
    # The largest Urban100 image (1280x960 HR) at x2: four 320x240 regions of 76,800 pixels each.
    urban = (1, 3, 480, 640)
    assert peak_activation_bytes(registry.make("amms", scale=2, nl_chunk=0), urban) > 24 * GiB
    assert peak_activation_bytes(registry.make("amms", scale=2), urban) < 2 * GiB


def _exact_sqrtm(sigma: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(sigma)
    return vectors @ torch.diag_embed(values.clamp_min(0).sqrt()) @ vectors.transpose(-1, -2)


def _mpncov_sqrtm(a: torch.Tensor, n: int) -> torch.Tensor:
    """The spec's transcription of MPNCOV's Sqrtm (§0.2), with the identity multiplied in explicitly."""
    eye = torch.eye(a.shape[-1], dtype=a.dtype).expand_as(a)
    norm = a.diagonal(dim1=-2, dim2=-1).sum(-1).view(-1, 1, 1)
    y, z = a / norm, eye
    for _ in range(n - 1):
        t = 0.5 * (3 * eye - z @ y)
        y, z = y @ t, t @ z
    return 0.5 * y @ (3 * eye - z @ y) * norm.sqrt()


def test_newton_schulz_iterations_and_accuracy():
    torch.manual_seed(0)
    sigma = covariance(torch.randn(2, 64, 32, 32, dtype=torch.float64))
    exact = _exact_sqrtm(sigma)
    errors = []
    for n in range(1, 13):
        approx = sqrtm_newton_schulz(sigma, n)
        if n > 1:
            assert (approx - _mpncov_sqrtm(sigma, n)).abs().max().item() < 1e-12
        errors.append(((approx - exact).norm() / exact.norm()).item())
    assert all(later < earlier for earlier, later in zip(errors, errors[1:], strict=False))
    # SAN's 5 iterations are far from converged at C = 64 (trace-normalised eigenvalues ~1/64; 0.24 here)
    assert errors[4] > 0.1
    assert errors[11] < 1e-9
    single = sqrtm_newton_schulz(sigma.float(), 20).double()
    assert ((single - exact).norm() / exact.norm()).item() < 1e-5


def test_second_order_attention_uses_its_iteration_count():
    torch.manual_seed(0)
    soca = SecondOrderAttention(64, iterations=5).eval()
    x = torch.rand(1, 64, 12, 10)
    with torch.no_grad():
        vector = lambda n: sqrtm_newton_schulz(covariance(x), n).mean(dim=1).view(1, 64, 1, 1)  # noqa: E731
        assert (soca(x) - x * soca.conv_du(vector(5))).abs().max().item() < 1e-6
        assert (soca(x) - x * soca.conv_du(vector(30))).abs().max().item() > 1e-5
    assert registry.get("amms").defaults["ns_iterations"] == 5  # SAN's iterN


def test_recipe_is_the_paper_s():
    for scale in (2, 3, 4):
        config = recipe(scale)
        assert config.lr_patch * scale == 192 and config.batch_size == 16
        assert config.milestones == (200_000, 400_000, 600_000, 800_000) and config.iterations == 1_000_000
        assert config.train_sets == ("291",) and config.loss == "l1" and config.learning_rate == 1e-4


@pytest.mark.data
def test_bicubic_rows_of_table_2_get_measured_twins(data_root):
    evaluate_models("bicubic", 2, ["Set5"], protocol="matlab", data_root=data_root)
    rows = [r for r in AMMS_ROWS if r.model == "bicubic" and r.dataset == "Set5" and r.scale == "2"]
    assert {r.source.split(":")[0] for r in rows} == {"baselines/reported.csv"} and len(rows) == 2
    cells = build_cells(rows, latest(results.load_records()))
    assert {c.reported.metric: c.verdict for c in cells} == {"psnr": "match", "ssim": "match"}
