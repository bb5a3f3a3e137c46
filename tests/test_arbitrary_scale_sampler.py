"""The arbitrary-scale (LIIF/MSIT-style) training sampler: what each query means, the LR, the scales, DDP slices."""

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench import BenchError
from bench.data.imresize import imresize
from bench.data.training import ArbitraryScaleSampler, QueryBatch, load_training_images, pixel_centres

P, Q, LOW, HIGH = 8, 40, 1.5, 4.0  # LR patch, queries, scale range: HR crops of 12..32 px


def images(seed: int = 0) -> list[torch.Tensor]:
    """Smooth random images plus a little noise, so that neighbouring pixels rarely share a value;
    one grayscale, one too small for the largest crop (32 px)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for channels, height, width in ((3, 40, 56), (1, 36, 36), (3, 48, 33), (3, 31, 80)):
        coarse = torch.rand(1, channels, 5, 6, generator=gen) * 215
        smooth = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)[0]
        noise = torch.rand(channels, height, width, generator=gen) * 40
        out.append((smooth + noise).round().clamp(0, 255).to(torch.uint8))
    return out


def sampler(per: str = "sample", augment: bool = True, queries: int = Q) -> ArbitraryScaleSampler:
    return ArbitraryScaleSampler(images(), lr_patch=P, queries=queries, min_scale=LOW, max_scale=HIGH, per=per,
                                 augment=augment)


def gen(seed: int = 3) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pixel_index(coord: torch.Tensor, size: int) -> torch.Tensor:
    """Invert ``-1 + (2 i + 1) / size``; the result must be a whole number: a pixel centre."""
    exact = ((coord.double() + 1) * size - 1) / 2
    index = exact.round()
    assert (exact - index).abs().max() < 1e-4, "a coordinate is not at a pixel centre"
    return index.long()


def test_shapes_dtypes_and_ranges():
    out = sampler().batch(gen(), 6)
    assert isinstance(out, QueryBatch)
    lr, coord, cell, rgb, scale = out  # documented order
    assert lr.shape == (6, 3, P, P) and coord.shape == (6, Q, 2) and cell.shape == (6, Q, 2)
    assert rgb.shape == (6, Q, 3) and scale.shape == (6,)
    assert all(t.dtype == torch.float32 for t in (lr, coord, cell, rgb)) and scale.dtype == torch.float64
    assert 0 <= lr.min() and lr.max() <= 1 and 0 <= rgb.min() and rgb.max() <= 1
    assert torch.equal(torch.round(lr * 255) / 255, lr) and torch.equal(torch.round(rgb * 255) / 255, rgb)  # 8-bit
    assert coord.abs().max() < 1
    assert (cell > 0).all() and (cell <= 2 / round(P * LOW)).all()


def test_each_query_is_the_hr_crop_pixel_at_its_coordinate():
    s = sampler()
    draws = s.draw(gen(), 8)
    out = s.build(draws)
    for i, draw in enumerate(draws):
        hr = s.crop(draw).float() / 255
        size = draw.size
        assert hr.shape == (3, size, size)
        assert torch.equal(out.cell[i], torch.full((Q, 2), 2 / size))
        rows, cols = pixel_index(out.coord[i, :, 0], size), pixel_index(out.coord[i, :, 1], size)
        assert rows.min() >= 0 and rows.max() < size and cols.min() >= 0 and cols.max() < size
        assert len(set((rows * size + cols).tolist())) == Q  # without replacement
        assert torch.equal(out.rgb[i], hr[:, rows, cols].t())


def test_coordinates_follow_liifs_make_coord():
    from reproductions.baselines.liif import make_coord

    for h, w in ((1, 1), (7, 12), (48, 33), (384, 200)):
        grid = torch.stack(torch.meshgrid(pixel_centres(h), pixel_centres(w), indexing="ij"), dim=-1)
        torch.testing.assert_close(grid, make_coord((h, w)), rtol=0, atol=1e-6)


def test_the_crop_is_a_dihedral_turn_of_the_drawn_window():
    def turns(window):  # the 8 symmetries of a square, built from transposes and flips
        found = []
        for t in (window, window.transpose(-2, -1)):
            found += [t, t.flip(-1), t.flip(-2), t.flip(-2, -1)]
        return found

    for augment in (False, True):
        s = sampler(augment=augment)
        seen = set()
        for draw in s.draw(gen(), 64):
            source = s.images[draw.image]
            window = source[:, draw.top: draw.top + draw.size, draw.left: draw.left + draw.size]
            assert window.shape == (3, draw.size, draw.size)  # inside the image
            crop = s.crop(draw)
            matches = [k for k, t in enumerate(turns(window)) if torch.equal(crop, t)]
            assert matches, "the crop is not a turn of its window"
            if not augment:
                assert 0 in matches and draw.dihedral == 0
            seen.add(draw.dihedral)
        assert seen == (set(range(8)) if augment else {0})


def test_lr_is_matlab_bicubic_of_the_hr_crop():
    s = sampler()
    draws = s.draw(gen(), 8)
    lr = s.build(draws).lr
    for i, draw in enumerate(draws):
        expected = imresize(s.crop(draw).float() / 255, P / draw.size, uint8_passes=True)
        assert expected.shape == (3, P, P)
        assert torch.equal(torch.round(lr[i] * 255), torch.round(expected * 255))
    assert len({d.size for d in draws}) > 1  # several crop sizes were exercised


def test_scale_one_is_a_plain_crop():
    s = ArbitraryScaleSampler(images(), lr_patch=P, queries=P * P, min_scale=1, max_scale=1)
    draws = s.draw(gen(), 4)
    out = s.build(draws)
    for i, draw in enumerate(draws):
        assert draw.size == P
        assert torch.equal(out.lr[i], s.crop(draw).float() / 255)


def test_scales_per_sample_are_independent_and_per_batch_shared():
    draws = sampler("sample").draw(gen(), 32)
    scales = torch.tensor([d.scale for d in draws])
    assert LOW <= scales.min() and scales.max() <= HIGH
    assert len(set(scales.tolist())) == 32
    assert scales.max() - scales.min() > (HIGH - LOW) / 2  # spread over the range, not stuck at one end
    assert all(d.size == round(P * d.scale) for d in draws)

    s = sampler("batch")
    g = gen()
    firsts = []
    for _ in range(6):
        out = s.batch(g, 8)
        assert (out.scale == out.scale[0]).all() and LOW <= out.scale[0] <= HIGH
        assert (out.cell == 2 / round(P * out.scale[0].item())).all()
        firsts.append(out.scale[0].item())
    assert len(set(firsts)) == 6  # a new scale every batch


@pytest.mark.parametrize("per", ["sample", "batch"])
def test_two_ranks_together_are_one_process(per):
    s = sampler(per)
    g_one = gen()
    whole = [s.batch(g_one, 6) for _ in range(2)]
    parts = []
    for rank in (0, 1):
        g = gen()
        parts.append([s.batch(g, 6, rank=rank, world=2) for _ in range(2)])
        assert torch.equal(g.get_state(), g_one.get_state())  # every rank's generator moves as one process's
    for step in range(2):
        for field in QueryBatch._fields:
            joined = torch.cat([getattr(parts[0][step], field), getattr(parts[1][step], field)])
            assert torch.equal(joined, getattr(whole[step], field)), (step, field)
    with pytest.raises(BenchError, match="does not split"):
        s.batch(gen(), 5, rank=0, world=2)


def test_same_seed_same_batch_other_seed_other_batch():
    a, b, c = sampler().batch(gen(7), 4), sampler().batch(gen(7), 4), sampler().batch(gen(8), 4)
    for field in QueryBatch._fields:
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.scale, c.scale) and not torch.equal(a.coord, c.coord)


def test_images_too_small_for_the_largest_crop_are_left_out():
    s = sampler()
    assert len(s.images) == 3 and s.skipped == 1  # the 31 px high image cannot hold a 32 px crop
    assert all(img.shape[0] == 3 for img in s.images)  # grayscale expanded to RGB
    with pytest.raises(BenchError, match="at least 32 px on each side"):
        ArbitraryScaleSampler([img[:, :31, :31] for img in images()], lr_patch=P, queries=Q, max_scale=HIGH)


def test_bad_arguments_are_refused():
    with pytest.raises(BenchError, match="per must be"):
        sampler(per="image")
    with pytest.raises(BenchError, match="queries"):
        sampler(queries=round(P * LOW) ** 2 + 1)  # more than the smallest crop has
    with pytest.raises(BenchError, match="min_scale <= max_scale"):
        ArbitraryScaleSampler(images(), lr_patch=P, queries=Q, min_scale=3, max_scale=2)
    with pytest.raises(BenchError, match="no training images"):
        ArbitraryScaleSampler([], lr_patch=P, queries=Q)


def test_the_batch_feeds_liif():
    from torch import nn

    from reproductions.baselines.liif import LIIF

    encoder = nn.Conv2d(3, 4, 3, padding=1)
    encoder.out_dim = 4
    model = LIIF(encoder, scale=2.0, hidden=(8,))
    lr, coord, cell, rgb, _ = sampler().batch(gen(), 2)
    with torch.no_grad():
        assert model.query(lr, coord, cell).shape == rgb.shape


def test_df2k_is_div2k_train_and_flickr2k(tmp_path):
    def save(name: str, index: int, size: tuple[int, int], root=tmp_path):
        folder = root / name / "HR"
        folder.mkdir(parents=True, exist_ok=True)
        value = torch.full((*size, 3), index, dtype=torch.uint8).numpy()
        Image.fromarray(value).save(folder / f"{index:04d}.png")

    save("DIV2K-train", 1, (10, 12))
    save("DIV2K-train", 2, (11, 12))
    save("Flickr2K", 3, (9, 9))
    loaded = load_training_images(["DF2K"], data_root=tmp_path)
    assert [int(img[0, 0, 0]) for img in loaded] == [1, 2, 3]
    assert [tuple(img.shape) for img in loaded] == [(3, 10, 12), (3, 11, 12), (3, 9, 9)]
    again = load_training_images(["df2k", "DIV2K-train", "flickr2k"], data_root=tmp_path)  # each set once
    assert all(torch.equal(x, y) for x, y in zip(loaded, again, strict=True))
    assert [tuple(img.shape) for img in load_training_images(["DIV2K-train"], 2, tmp_path)] == [(3, 10, 12)] * 2
    save("DIV2K-train", 4, (8, 8), root=tmp_path / "no-flickr")
    with pytest.raises(BenchError, match="Flickr2K not found"):
        load_training_images(["DF2K"], data_root=tmp_path / "no-flickr")


def test_291_is_t91_bitmaps_and_bsd200_jpegs(tmp_path):
    for name, index, suffix in (("T91", 5, ".bmp"), ("BSD200", 6, ".jpg")):
        folder = tmp_path / name / "HR"
        folder.mkdir(parents=True)
        Image.fromarray(torch.full((8, 8, 3), index * 10, dtype=torch.uint8).numpy()).save(folder / f"im{suffix}")
    loaded = load_training_images(["291"], data_root=tmp_path)
    assert [int(img[0, 0, 0]) for img in loaded] == [50, 60]  # flat images survive JPEG exactly
