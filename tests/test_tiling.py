"""Tiled inference (bench.tiling): SwinIR's tile grid; ``crop`` is exact when the receptive field fits in half the
overlap, and by how much it and SwinIR's ``average`` miss otherwise."""

import pytest
import torch
from torch import nn

from bench import BenchError, registry
from bench.tiling import Tiled, tile_starts


class Local(nn.Module):
    """Three 3x3 convs then pixel shuffle x2: each output pixel sees LR pixels within 3 of it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 12, 3, padding=1), nn.PixelShuffle(2))

    def forward(self, x):
        return self.body(x)


RADIUS = 3


def test_tile_grid_is_swinirs():
    """main_test_swinir.py: range(0, h - tile, tile - overlap) and a last tile at h - tile."""
    assert tile_starts(100, 48, 32) == [0, 16, 32, 48, 52]
    assert tile_starts(100, 64, 0) == [0, 36]
    assert tile_starts(40, 64, 32) == [0]


@pytest.mark.parametrize("size", [(37, 53), (64, 41)])
def test_crop_is_exact_when_the_receptive_field_fits_in_half_the_overlap(size):
    model, lr = Local().eval(), torch.rand(1, 3, *size)
    with torch.no_grad():
        whole = model(lr)
        tiled = Tiled(model, tile=16, overlap=2 * RADIUS)(lr)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max() <= 1e-5


def test_error_when_the_overlap_is_too_small_and_for_swinirs_average():
    model, lr = Local().eval(), torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        whole = model(lr)
        short = Tiled(model, tile=16, overlap=2 * RADIUS - 2)(lr)
        average = Tiled(model, tile=16, overlap=2 * RADIUS, stitch="average")(lr)
    assert (short - whole).abs().max() > 1e-3
    assert (average - whole).abs().max() > 1e-3  # averaging mixes in the pixels each tile's edge padding touched
    # LR rows and columns 0-9 lie in the first tile alone (the next starts at 10), 6 or more from its inner edges
    assert (average - whole)[..., :20, :20].abs().max() <= 1e-5


def test_registered_model_and_errors():
    """A registered convolutional model (FSRCNN on Y, a 9x9 deconvolution) tiled with a wide overlap is its untiled
    self; bad settings are refused with the reason."""
    model = registry.make("fsrcnn", scale=2).eval()
    lr = torch.rand(1, 1, 50, 70)
    with torch.no_grad():
        assert (Tiled(model, tile=32, overlap=24)(lr) - model(lr)).abs().max() <= 1e-5
    with pytest.raises(BenchError, match="overlap smaller than the tile"):
        Tiled(model, tile=16, overlap=16)
    with pytest.raises(BenchError, match="multiple of the model's window"):
        Tiled(registry.make("swinir-light", scale=2), tile=20, overlap=8)
    with pytest.raises(BenchError, match="unknown tile stitch"):
        Tiled(model, tile=16, overlap=4, stitch="blend")


def test_evaluate_cli_tiles_and_records_it(capsys):
    """Bicubic upsampling (4 taps: radius 2) in 24-pixel tiles with 8 overlapping scores as the whole image does,
    and the stored result says it was tiled."""
    import json

    from bench.__main__ import main

    def run(*extra):
        assert main(["evaluate", "bicubic", "--scale", "2", "--json", "--no-save", "--quiet", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    whole, tiled = run(), run("--tile", "24", "--tile-overlap", "8")
    assert whole["tile"] is None and tiled["tile"] == {"size": 24, "overlap": 8, "stitch": "crop"}
    assert abs(tiled["psnr"] - whole["psnr"]) <= 1e-6

