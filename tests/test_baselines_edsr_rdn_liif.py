"""EDSR-baseline, RDN and LIIF: parameter counts against the official code, shapes, LIIF's query interface."""

from functools import cache

import pytest
import torch

from bench import registry
from bench.checkpoints import load_weights
from reproductions.baselines.liif import liif_edsr_baseline, make_coord

MEAN_SHIFT = 24  # EDSR's two frozen 1x1 convs (3x3 weights + 3 biases each)


@cache
def build(name: str, scale: int, **options) -> torch.nn.Module:
    """Each model once per session: RDN alone is ~22M parameters to initialise."""
    return registry.make(name, scale=scale, **options)


@pytest.fixture(scope="module", autouse=True)
def _release_models():
    yield
    build.cache_clear()


def num_params(model: torch.nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# The official EDSR-baseline numbers count trainable parameters only (the frozen mean shift is left out).
@pytest.mark.parametrize("scale, official", [(2, 1_369_859), (3, 1_554_499), (4, 1_517_571)])
def test_edsr_baseline_parameters(scale, official):
    model = build("edsr-baseline", scale)
    assert num_params(model, trainable_only=True) == official
    assert num_params(model) == official + MEAN_SHIFT


# x2 is the official code's count (22.1M in the paper); x3 and x4 follow from the upsampler's convs
# (64->576 at x3; two 64->256 at x4).
@pytest.mark.parametrize("scale, expected", [(2, 22_123_395), (3, 22_308_035), (4, 22_271_107)])
def test_rdn_parameters(scale, expected):
    assert num_params(build("rdn", scale)) == expected


# LIIF's utils.compute_num_params sums every parameter, the encoder's unused mean shift included.
@pytest.mark.parametrize("name, official", [("liif-edsr-baseline", 1_567_323), ("liif-rdn", 22_320_835)])
def test_liif_parameters(name, official):
    assert num_params(build(name, 2)) == official


LR = torch.rand(1, 3, 6, 5)


@pytest.mark.parametrize("name", ["edsr-baseline", "rdn"])
def test_encoders_return_features_at_lr_size(name):
    encoder = build(name, 2, no_upsampling=True)
    assert encoder.out_dim == 64
    with torch.no_grad():
        assert encoder(LR).shape == (1, 64, 6, 5)


@pytest.mark.parametrize("name", ["edsr-baseline", "rdn", "liif-edsr-baseline"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shapes(name, scale):
    with torch.no_grad():
        assert build(name, scale)(LR).shape == (1, 3, 6 * scale, 5 * scale)


def test_liif_rdn_output_shape():
    with torch.no_grad():
        assert build("liif-rdn", 2)(LR).shape == (1, 3, 12, 10)


def test_liif_query_at_hr_pixel_centres_equals_forward_at_non_integer_scale():
    model = liif_edsr_baseline(scale=2.5)
    model.chunk = 37  # several chunks, the last one partial
    lr = torch.rand(2, 3, 6, 4)
    h, w = 15, 10
    coord = make_coord((h, w)).view(1, -1, 2).expand(2, -1, -1)
    cell = torch.ones_like(coord) * torch.tensor([2 / h, 2 / w])
    with torch.no_grad():
        image = model(lr)
        queried = model.query(lr, coord, cell)
    assert image.shape == (2, 3, h, w)
    torch.testing.assert_close(image, queried.transpose(1, 2).reshape(2, 3, h, w))


def test_make_coord_is_pixel_centres():
    coord = make_coord((2, 4))
    assert coord.shape == (2, 4, 2)
    assert coord[:, 0, 0].tolist() == [-0.5, 0.5]
    assert coord[0, :, 1].tolist() == [-0.75, -0.25, 0.25, 0.75]


def test_module_names_follow_the_releases():
    """So the authors' state_dicts load without renaming."""
    assert {"sub_mean.weight", "head.0.weight", "body.15.body.2.weight", "body.16.weight", "tail.0.2.weight",
            "tail.1.weight"} <= set(build("edsr-baseline", 4).state_dict())
    assert {"SFENet1.weight", "RDBs.15.convs.7.conv.0.weight", "RDBs.0.LFF.weight", "GFF.1.weight",
            "UPNet.4.weight"} <= set(build("rdn", 4).state_dict())
    liif = build("liif-edsr-baseline", 2).state_dict()
    assert liif["imnet.layers.0.weight"].shape == (256, 9 * 64 + 2 + 2)
    assert "encoder.add_mean.bias" in liif and "imnet.layers.8.bias" in liif


def test_liif_release_checkpoint_layout_loads(tmp_path):
    source = build("liif-edsr-baseline", 2)
    path = tmp_path / "edsr-baseline-liif.pth"
    torch.save({"model": {"name": "liif", "args": {}, "sd": source.state_dict()}, "epoch": 1000}, path)
    target = load_weights(registry.make("liif-edsr-baseline", scale=2), path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)
