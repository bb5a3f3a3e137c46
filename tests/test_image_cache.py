"""The test run's image cache (tests/image_cache.py) gives exactly what it stands in for, and copies of it."""

import torch
from image_cache import LOAD_TRAINING_IMAGES, ImageCache
from PIL import Image

from bench.data import benchmarks


def test_cached_lr_is_make_lr_and_cannot_be_changed_through_a_copy():
    cache = ImageCache()
    torch.manual_seed(0)
    hr = (torch.rand(3, 24, 30) * 255).to(torch.uint8)
    first = cache.make_lr(hr, 2)
    assert torch.equal(first, benchmarks.make_lr(hr, 2)) and first.dtype == torch.uint8
    first.zero_()  # a caller writing into what it got
    again = cache.make_lr(hr.clone(), 2)  # the same content in another tensor
    assert torch.equal(again, benchmarks.make_lr(hr, 2)) and (cache.hits, cache.misses) == (1, 1)
    other = hr.clone()
    other[0, 0, 0] ^= 1  # one level of one pixel: another image
    assert torch.equal(cache.make_lr(other, 2), benchmarks.make_lr(other, 2)) and cache.misses == 2
    # make_lr takes 2.0 as a non-integer scale (MATLAB's imresize to a size): a key of its own
    assert torch.equal(cache.make_lr(hr, 2.0), benchmarks.make_lr(hr, 2.0)) and cache.misses == 3


def test_sample_sets_are_kept_and_folders_read_every_time(tmp_path):
    cache = ImageCache()
    loaded = cache.load_training_images(["samples-train"], 2)
    assert all(torch.equal(a, b) for a, b in zip(loaded, LOAD_TRAINING_IMAGES(["samples-train"], 2),
                                                 strict=True))
    loaded[0].zero_()
    assert cache.load_training_images(["samples-train"], 2)[0].any()
    folder = tmp_path / "DIV2K-train" / "HR"
    folder.mkdir(parents=True)
    Image.fromarray(torch.full((8, 8, 3), 10, dtype=torch.uint8).numpy()).save(folder / "0001.png")
    assert int(cache.load_training_images(["DIV2K-train"], 1, tmp_path)[0][0, 0, 0]) == 10
    Image.fromarray(torch.full((8, 8, 3), 20, dtype=torch.uint8).numpy()).save(folder / "0001.png")
    assert int(cache.load_training_images(["DIV2K-train"], 1, tmp_path)[0][0, 0, 0]) == 20
