"""Counting conventions on small inputs (full-size counts run in `nox -s bench` / reproduce sessions),
and the published SwinIR numbers through SwinIR's own analytic convention."""

import copy
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from bench import BenchError, registry
from bench.complexity import complexity, count_params, fvcore_mult_adds, lr_size, meta_mult_adds
from bench.reparam import reparameterize
from bench.reported import reported_numbers
from reproductions.baselines.imdn import IMDN

REPORTED = {(r.model, r.scale, r.metric): r.value for r in reported_numbers() if r.metric in ("params", "mult_adds")}


def test_lr_size_conventions():
    assert lr_size((1024, 720), 3) == (240, 341)
    assert lr_size((1280, 720), 3) == (240, 426)
    # SwinIR's main block: one whole extra window even when the size already divides
    assert lr_size((1024, 720), 2, "swinir", 8) == (368, 520)
    assert lr_size((1024, 720), 4, "swinir", 8) == (184, 264)
    assert lr_size((1024, 720), 4, "swinir-16", 8) == (192, 272)  # a stated window overrides the model's
    with pytest.raises(BenchError, match="window"):
        lr_size((1024, 720), 4, "swinir", None)
    # the same rule at a stated window, for a model without one (MSRA-SR's count of RCAN)
    assert lr_size((1024, 720), 4, "swinir-16", None) == lr_size((1024, 720), 4, "swinir", 16) == (192, 272)
    with pytest.raises(BenchError, match="unknown lr_pad"):
        lr_size((1024, 720), 4, "swinir-x", 8)


def test_a_y_only_network_is_counted_on_one_plane(tmp_path, monkeypatch):
    """SRCNN runs on Y (a channel-agnostic card): its papers' count is one plane, not RGB's three folded through."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    n1, n2 = 8, 4
    result = complexity(registry.make("srcnn", scale=2, n1=n1, n2=n2), scale=2, hr=(32, 32), cross_check=False)
    per_hr_pixel = 9 * 9 * n1 + 5 * 5 * n1 * n2 + 5 * 5 * n2  # three 'same' convs on the upsampled plane
    assert result["input_planes"] == 1 and result["mult_adds"] == 32 * 32 * per_hr_pixel


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 5, padding=2, groups=8)
        self.c = nn.Linear(8, 4)

    def forward(self, x):
        return self.c(self.b(self.a(x)).mean(dim=(2, 3)))


def test_conv_and_linear_macs_by_hand():
    x = torch.rand(1, 3, 10, 12)
    expected = 3 * 8 * 9 * 120 + 8 * 25 * 120 + 8 * 4
    counted = fvcore_mult_adds(ConvNet(), x)
    assert counted["mult_adds"] == expected
    assert meta_mult_adds(ConvNet(), (1, 3, 10, 12)) == expected
    assert "aten::mean" in counted["skipped_ops"]


class Attention(nn.Module):
    def forward(self, x):
        q, k, v = x[..., :10, :4], x[..., :12, 4:8], x[..., :12, :5]
        return F.scaled_dot_product_attention(q, k, v.contiguous()[..., :4]).sum() + v.sum()


def test_sdpa_matmuls_are_counted():
    x = torch.rand(2, 3, 12, 8)
    counted = fvcore_mult_adds(Attention(), x)
    assert counted["by_operator"]["scaled_dot_product_attention"] == 2 * 3 * 10 * 12 * (4 + 4)


def test_params_with_and_without_position_bias_tables():
    for scale in (2, 3, 4):
        counts = count_params(registry.make("swinir-light", scale=scale))
        tables = 4 * 6 * (2 * 8 - 1) ** 2 * 6
        assert counts["params"] - counts["params_leaf_modules"] == tables
        assert abs(counts["params_leaf_modules"] - REPORTED[("swinir-light", str(scale), "params")]) < 1000
    classical = count_params(registry.make("swinir-classical", scale=4))["params"]
    assert abs(classical - REPORTED[("swinir-classical", "4", "params")]) < 0.05e6  # printed as 11.9M


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_swinir_light_published_mult_adds_under_swinir_convention(scale):
    model = registry.make("swinir-light", scale=scale)
    lr_h, lr_w = lr_size((1024, 720), scale, "swinir", model.window)
    ours = model.analytic_mult_adds(lr_h, lr_w)
    published = REPORTED[("swinir-light", str(scale), "mult_adds")]
    assert abs(ours - published) / published < 0.02
    assert abs(ours - published) < 0.05e9  # in fact equal to the printed precision


# ---- every registered model, on a reduced configuration of its own code ------------------------------------
#
# fvcore's cost is per traced operator, whatever the input size: on a 2-core CPU the full-size MESR (720
# convolutions) took 10 s quiet and 50 s busy, MSRA-classical, SwinIR-classical and MSIT-RDN a few seconds
# each (tens busy). The counting conventions do not depend on depth or width, so each model is checked on a
# reduced configuration of the same code (timm's habit); the full-size counts run in `nox -s bench`
# (tests/benchmarks/test_full_size_counts.py) and in the reproduction sessions.
# `test_reduced_configurations_run_the_full_models_operators` proves that each reduction still runs every
# operator and module type its full-size model runs.

HR = (48, 32)  # HR width x height: an LR of 24 x 16 at x2
SCALE = 2


def _swinir(full: nn.Module, scale: float) -> nn.Module:
    from reproductions.baselines.swinir import SwinIR

    # two blocks per group: the plain and the shifted (masked) window attention
    return SwinIR(scale, 12, (2, 2), (2, 2), window=full.window, mlp_ratio=full.mlp_ratio,
                  upsampler=full.reconstruction.kind)


def _rdn(scale: float = 2, no_upsampling: bool = False) -> nn.Module:
    from reproductions.baselines.rdn import RDN

    return RDN(scale, channels=16, num_blocks=2, num_layers=2, growth=8, no_upsampling=no_upsampling)


def _edsr(scale: float = 2, **options) -> nn.Module:
    from reproductions.baselines.edsr import EDSR

    return EDSR(scale, num_blocks=2, channels=16, **options)


def _liif(full: nn.Module, encoder: nn.Module, scale: float) -> nn.Module:
    from reproductions.baselines.liif import LIIF

    return LIIF(encoder, scale, hidden=(16, 16), local_ensemble=full.local_ensemble, feat_unfold=full.feat_unfold,
                cell_decode=full.cell_decode)


def _metasr(full: nn.Module, encoder: nn.Module, scale: float) -> nn.Module:
    from reproductions.baselines.metasr import MetaSR

    return MetaSR(encoder, scale, hidden=16)


def _lte(full: nn.Module, encoder: nn.Module, scale: float) -> nn.Module:
    from reproductions.baselines.lte import LTE

    return LTE(encoder, scale, hidden_dim=16, mlp_hidden=(16, 16), scale_max=full.scale_max)


def _ultrasr(full: nn.Module, encoder: nn.Module, scale: float) -> nn.Module:
    from reproductions.baselines.ultrasr import ResidualMLP, UltraSR

    return UltraSR(encoder, scale, bands=2, residual=isinstance(full.imnet, ResidualMLP), hidden=(16, 16))


def _clit(full: nn.Module, encoder: nn.Module, scale: float) -> nn.Module:
    from reproductions.baselines.clit import CLIT

    # all three branches (a x2 forward runs the first only, as the full model's does)
    return CLIT(encoder, scale, dim=16, heads=2, radius=1, branches=len(full.imnets), hidden=(16, 16),
                scale_base=full.scale_base)


def _msit(name: str, encoder: nn.Module, scale: float) -> nn.Module:
    from reproductions.msit.model import MSIT

    # the registered options as they are (RIM convs, 16 MSC groups of kernels 3 to 33, 4 Q matrices, FEM, SIM,
    # MSNO, multi-scale attention); only the widths shrink (FEM needs a multiple of 8, MSC of 16)
    return MSIT(encoder, scale, dim=32, heads=4, hidden=(16, 16), **registry.get(name).defaults)


# The registered options the size comes from, where a model has them; else the model class itself with fewer
# blocks and channels. MSRA-SR's config takes the sizes on top of its light or classical base: 2 x 2 layers,
# so that besides the two computing layers (plain and shifted window) two layers
# share their score maps (through F), as every later layer of the full model does.
MSRA_SMALL = dict(embed_dim=24, depths=(2, 2), ssa_dim=12, ssa_heads=2, ga_hidden=8)
REDUCED: dict[str, Callable[[nn.Module, float], nn.Module]] = {
    "amms": lambda full, s: registry.make("amms", scale=s, n_amms=2, sf_depth=2),
    # one group of a dense and a sparse block; C=32 keeps the position-bias MLP non-empty (C // 16 = 2)
    "art-s": lambda full, s: registry.make("art-s", scale=s, embed_dim=32, depths=(2,), heads=(2,), intervals=(8,)),
    "carn": lambda full, s: registry.make("carn", scale=s, channels=16),
    "carn-m": lambda full, s: registry.make("carn-m", scale=s, channels=16),  # group 4 still divides 16
    "clit-edsr-baseline": lambda full, s: _clit(full, _edsr(no_upsampling=True, mean_shift=False), s),
    "clit-rdn": lambda full, s: _clit(full, _rdn(no_upsampling=True), s),
    "edsr": lambda full, s: registry.make("edsr", scale=s, num_blocks=2, channels=16),
    "edsr-baseline": lambda full, s: _edsr(s),
    "fsrcnn": lambda full, s: registry.make("fsrcnn", scale=s, d=8, s=4, m=2),
    "imdn": lambda full, s: IMDN(s, nf=16, num_blocks=2),
    "lapar-a": lambda full, s: registry.make("lapar-a", scale=s, nf=8, blocks=1, n_weight=8),
    "lapsrn": lambda full, s: registry.make("lapsrn", scale=s, depth=2, features=8),
    "latticenet": lambda full, s: registry.make("latticenet", scale=s, channels=16, diff=4, reduction=4, blocks=2),
    "liif-edsr-baseline": lambda full, s: _liif(full, _edsr(no_upsampling=True, mean_shift=False), s),
    "liif-rdn": lambda full, s: _liif(full, _rdn(no_upsampling=True), s),
    "lte-edsr-baseline": lambda full, s: _lte(full, _edsr(no_upsampling=True, mean_shift=False), s),
    "lte-rdn": lambda full, s: _lte(full, _rdn(no_upsampling=True), s),
    "mesr": lambda full, s: registry.make("mesr", scale=s, width=8, blocks=2, units=2),
    "metasr-edsr-baseline": lambda full, s: _metasr(full, _edsr(no_upsampling=True, mean_shift=False), s),
    "metasr-rdn": lambda full, s: _metasr(full, _rdn(no_upsampling=True), s),
    "msit-edsr": lambda full, s: _msit("msit-edsr", _edsr(no_upsampling=True, mean_shift=False), s),
    "msit-rdn": lambda full, s: _msit("msit-rdn", _rdn(no_upsampling=True), s),
    "msra-classical": lambda full, s: registry.make("msra-classical", scale=s, **MSRA_SMALL),
    "msra-light": lambda full, s: registry.make("msra-light", scale=s, **MSRA_SMALL),
    "msrn": lambda full, s: registry.make("msrn", scale=s, num_blocks=2, channels=8),
    "mstn": lambda full, s: registry.make("mstn", scale=s, width=16, growth=8, dense_layers=2, blocks=2, stages=2,
                                          heads=2),
    "rcan": lambda full, s: registry.make("rcan", scale=s, num_groups=2, num_blocks=2, channels=16, reduction=4),
    "rdn": lambda full, s: _rdn(s),
    "srcnn": lambda full, s: registry.make("srcnn", scale=s, n1=8, n2=4),
    "srmdnf": lambda full, s: registry.make("srmdnf", scale=s, channels=16, num_layers=4),
    "swinir-classical": lambda full, s: _swinir(full, s),
    "swinir-light": lambda full, s: _swinir(full, s),
    "ultrasr-edsr-baseline": lambda full, s: _ultrasr(full, _edsr(no_upsampling=True, mean_shift=False), s),
    "ultrasr-rdn": lambda full, s: _ultrasr(full, _rdn(no_upsampling=True), s),
    "vdsr": lambda full, s: registry.make("vdsr", scale=s, depth=4, features=8),
}
# Names with a "." (a paper's ablation rows, registered as variants of its model) are left out, as they were
# before they were registered. tests/benchmarks/test_full_size_counts.py runs this check on the full sizes.
# Models the tests register themselves (paper "test") are left out too.
MODELS = [c.name for c in registry.list_models() if c.name != "bicubic" and "." not in c.name and c.paper != "test"]


def reduced(name: str, scale: float = SCALE) -> nn.Module:
    """The reduced configuration of registered model ``name``; its spec names it as such."""
    with torch.device("meta"):  # only read for its configuration: nothing allocated, nothing initialised
        full = registry.make(name, scale=scale)
    torch.manual_seed(0)
    model = REDUCED[name](full, scale)
    model.spec = {"name": f"{name} (reduced)", "args": {"scale": scale}}
    return model


class _Operators(TorchDispatchMode):
    """The aten operators a forward pass dispatches."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.seen.add(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def _footprint(model: nn.Module, scale: float) -> tuple[set[str], set[str]]:
    """(aten operators, module classes) of the deployed form's forward pass at the test's LR, on the meta device.
    Classes by name: weight norm gives every parametrized module a class of its own."""
    model = copy.deepcopy(model).to("meta").eval()
    reparameterize(model)
    x = torch.empty(1, 3, *lr_size(HR, scale), device="meta")
    with torch.no_grad():
        model(x)  # fills the per-size caches (masks, indices) that a model may share with another of its kind
        with _Operators() as operators:
            model(x)
    return operators.seen, {f"{type(m).__module__}.{type(m).__qualname__}" for m in model.modules()}


def test_every_registered_model_has_a_reduced_configuration():
    assert sorted(REDUCED) == sorted(MODELS), "add the new model's reduced configuration to REDUCED"


@pytest.mark.parametrize("name", MODELS)
def test_reduced_configurations_run_the_full_models_operators(name):
    with torch.device("meta"):
        full = registry.make(name, scale=SCALE)
    small = reduced(name)
    assert type(small) is type(full)
    full_operators, full_modules = _footprint(full, SCALE)
    small_operators, small_modules = _footprint(small, SCALE)
    assert small_operators == full_operators
    assert small_modules == full_modules
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in full.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_every_model_counts_consistently_on_a_small_input(name, tmp_path, monkeypatch):
    """fvcore (conv+linear+matmul part) equals FlopCounterMode/2 on the meta device."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    model = reduced(name)
    first = complexity(model, SCALE, hr=HR)
    assert first["params"] > 0 and first["mult_adds"] > 0
    assert first["cross_check"]["relative_difference"] < 1e-3
    again = complexity(model, SCALE, hr=HR)
    assert "cached" in again and again["mult_adds"] == first["mult_adds"]
    assert "cached" not in complexity(model, SCALE, hr=(48, 40))


def test_a_changed_registered_default_is_counted_again(tmp_path, monkeypatch):
    """The cache key holds the resolved config: a default edited in a paper's config (issue 21 item 2: depths of
    msra-light) is a new count, never the old one "(from cache)"."""
    import dataclasses

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    card = registry.get("msra-light")
    before = complexity(registry.make("msra-light", scale=2), 2, hr=(32, 32), cross_check=False)

    @dataclasses.dataclass(frozen=True)
    class Shallower(card.config):
        depths: tuple[int, ...] = registry.option((1, 1), "test: an edited default")

    monkeypatch.setitem(registry._MODELS, "msra-light", dataclasses.replace(card, config=Shallower))
    after = complexity(registry.make("msra-light", scale=2), 2, hr=(32, 32), cross_check=False)
    assert "cached" not in after and after["params"] < before["params"]


def test_each_counter_has_its_own_cache_entry(tmp_path, monkeypatch):
    """A meta-device count cached first is not returned when fvcore's count is asked for (and back)."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    model = registry.make("amms", scale=2, n_amms=1, sf_depth=1)
    meta = complexity(model, 2, hr=(24, 24), cross_check=False, counter="meta")
    fv = complexity(model, 2, hr=(24, 24), cross_check=False, counter="fvcore")
    assert "cached" not in fv and "by_operator" in fv and "by_operator" not in meta
    assert "cached" in complexity(model, 2, hr=(24, 24), cross_check=False, counter="meta")
