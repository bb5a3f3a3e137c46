"""Prepared training sets (issue 19): arrays equal to what training computes, resumable, verified, shared through
memory maps; the loader's batches equal the sampler's whatever the number of workers; progress in log files."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from bench import BenchError
from bench.__main__ import main
from bench.data import prepared as prep
from bench.data.benchmarks import load_image, make_lr, mod_crop
from bench.data.training import ArbitraryScaleSampler, PatchSampler, batch_stream, load_training_images, training_images
from bench.progress import Progress


def write_set(root, name, sizes, gray=()):
    folder = root / name / "HR"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(name))
    for i, (h, w) in enumerate(sizes):
        shape = (h, w) if i in gray else (h, w, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{name}-{i:02d}.png")
    return folder


@pytest.fixture
def df2k(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    write_set(tmp_path, "DIV2K-train", [(50, 41), (46, 60), (40, 40)], gray=(1,))
    write_set(tmp_path, "Flickr2K", [(44, 52), (61, 47)])
    return tmp_path


def test_prepared_arrays_are_what_training_would_compute(df2k):
    summaries = prep.prepare("DF2K", 2, df2k, workers=2, progress=False)
    assert [(s["set"], s["images"], s["prepared_now"]) for s in summaries] == [("DIV2K-train", 3, 3),
                                                                                ("Flickr2K", 2, 2)]
    images = training_images(["DF2K"], 2, df2k)
    paths = sorted((df2k / "DIV2K-train" / "HR").iterdir()) + sorted((df2k / "Flickr2K" / "HR").iterdir())
    assert len(images) == len(paths)
    for image, path in zip(images, paths, strict=True):
        assert isinstance(image, prep.PreparedImage) and isinstance(image.hr, np.memmap)
        hr = load_image(path)
        hr = mod_crop(hr.expand(3, *hr.shape[-2:]) if hr.shape[0] == 1 else hr, 2)
        assert np.array_equal(image.hr, hr.numpy()) and np.array_equal(image.lr, make_lr(hr, 2).numpy())
    # a second run has nothing to do
    assert [s["prepared_now"] for s in prep.prepare("DF2K", 2, df2k, progress=False)] == [0, 0]


def test_batches_from_prepared_arrays_equal_those_made_in_process(df2k):
    prep.prepare("DF2K", 2, df2k, workers=1, progress=False)
    from_arrays = PatchSampler(training_images(["DF2K"], 2, df2k), 2, 8)
    in_process = PatchSampler(load_training_images(["DF2K"], 2, df2k), 2, 8)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(4):
        a, b = from_arrays.batch(g1, 6), in_process.batch(g2, 6)
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_arbitrary_scale_sampling_reads_the_prepared_hr(df2k):
    prep.prepare("DIV2K-train", 1, df2k, workers=1, progress=False)
    assert not list((df2k / "DIV2K-train" / "prepared" / "x1").glob("lr"))  # x1 keeps the HR alone
    from_arrays = ArbitraryScaleSampler(training_images(["DIV2K-train"], 1, df2k), 8, 16, 1, 4)
    in_process = ArbitraryScaleSampler(load_training_images(["DIV2K-train"], 1, df2k), 8, 16, 1, 4)
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    for _ in range(3):
        a, b = from_arrays.batch(g1, 4), in_process.batch(g2, 4)
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_an_interrupted_preparation_resumes_where_it_stopped(df2k, monkeypatch, capsys):
    real, calls = prep._prepare_one, []

    def dies_on_the_fifth(path, out, scale):  # the second image of Flickr2K
        calls.append(path.name)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(path, out, scale)

    monkeypatch.setattr(prep, "_prepare_one", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare("DF2K", 2, df2k, workers=1, progress=False)
    flickr = df2k / "Flickr2K"
    assert prep.open_prepared(df2k / "DIV2K-train", 2) is not None and prep.open_prepared(flickr, 2) is None
    # an unprepared set still trains (made in process, with a note saying how to prepare it)
    assert len(training_images(["DF2K"], 2, df2k)) == 5
    assert "Flickr2K is not prepared at x2" in capsys.readouterr().err
    monkeypatch.setattr(prep, "_prepare_one", real)
    assert [s["prepared_now"] for s in prep.prepare("DF2K", 2, df2k, workers=1, progress=False)] == [0, 1]


def test_a_changed_image_is_noticed_and_prepared_again_alone(df2k, capsys):
    prep.prepare("Flickr2K", 2, df2k, workers=1, progress=False)
    path = sorted((df2k / "Flickr2K" / "HR").iterdir())[0]
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(path)
    assert prep.open_prepared(df2k / "Flickr2K", 2) is None
    assert "was prepared from another state" in capsys.readouterr().err
    assert prep.prepare("Flickr2K", 2, df2k, workers=1, progress=False)[0]["prepared_now"] == 1
    assert prep.open_prepared(df2k / "Flickr2K", 2).images[0].hr.shape == (3, 30, 30)


def test_verify_finds_a_damaged_array(df2k):
    prep.prepare("Flickr2K", 2, df2k, workers=1, progress=False)
    assert prep.prepare("Flickr2K", 2, df2k, progress=False, verify=True)[0]["verified"] == 2
    array = sorted((df2k / "Flickr2K" / "prepared" / "x2" / "lr").iterdir())[1]
    data = bytearray(array.read_bytes())
    data[-1] ^= 0xFF
    array.write_bytes(bytes(data))
    with pytest.raises(BenchError, match="does not match its checksum"):
        prep.prepare("Flickr2K", 2, df2k, progress=False, verify=True)


def test_a_set_folder_that_cannot_be_written_prepares_into_the_cache(df2k):
    (df2k / "Flickr2K" / "prepared").write_text("not a folder")  # mkdir fails here as on a read-only mount
    folder = prep.prepare("Flickr2K", 2, df2k, workers=1, progress=False)[0]["folder"]
    assert folder.startswith(str(df2k / "cache" / "prepared" / "Flickr2K-"))
    assert prep.open_prepared(df2k / "Flickr2K", 2).folder == prep.prepared_dirs(df2k / "Flickr2K", 2)[1]


def test_prepare_on_the_command_line(df2k, capsys):
    assert main(["data", "prepare", "DF2K", "--data-root", str(df2k), "--quiet"]) == 2
    assert "needs a set and a scale" in capsys.readouterr().err
    assert main(["data", "prepare", "samples-train", "--scale", "2", "--quiet"]) == 2
    assert "embedded" in capsys.readouterr().err
    assert main(["data", "prepare", "DF2K", "--scale", "2", "--data-root", str(df2k), "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["images"] for s in out["sets"]] == [3, 2] and all(s["bytes"] > 0 for s in out["sets"])


@pytest.mark.parametrize("workers", [0, 2])
def test_the_loader_gives_the_samplers_batches_and_the_state_to_resume_from(df2k, workers):
    sampler = PatchSampler(load_training_images(["DF2K"], 2, df2k), 2, 8)
    reference = torch.Generator().manual_seed(9)
    expected = [sampler.batch(reference, 4, rank=1, world=2) for _ in range(6)]
    stream = batch_stream(sampler, torch.Generator().manual_seed(9), 4, rank=1, world=2, workers=workers)
    got = [next(stream) for _ in range(3)]
    assert all(lr.dtype == hr.dtype == torch.uint8 for (lr, hr), _ in got)
    for ((lr, hr), _), (want_lr, want_hr) in zip(got, expected, strict=False):
        assert torch.equal(lr.float() / 255, want_lr) and torch.equal(hr.float() / 255, want_hr)
    # however far the loader read ahead, the state that came with batch 3 resumes at batch 4
    resumed = torch.Generator()
    resumed.set_state(got[-1][1])
    again = batch_stream(sampler, resumed, 4, rank=1, world=2, workers=workers)
    for want_lr, _ in expected[3:]:
        (lr, _), _ = next(again)
        assert torch.equal(lr.float() / 255, want_lr)


def test_progress_in_a_log_file_is_plain_lines():
    log = io.StringIO()
    with Progress(4, "prepare X x2", unit="img", every=0, stream=log) as bar:
        for _ in range(4):
            bar.update(1, loss="0.1")
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("prepare X x2: 1/4 (25%)") and "loss 0.1" in lines[0]
    assert lines[-1].startswith("prepare X x2: 4/4 (100%)") and "\r" not in log.getvalue()


def test_training_prepares_an_unprepared_set_once(df2k, capsys):
    import dataclasses

    from test_train import CONFIG, SPEC

    from bench.train import train

    config = dataclasses.replace(CONFIG, iterations=2, train_sets=("DF2K",), val_set="samples", ema_decay=0.0)
    train(SPEC, config, df2k / "first", data_root=df2k, progress=False)
    err = capsys.readouterr().err
    assert "DIV2K-train is not prepared at x2: preparing it now" in err and "Flickr2K is not prepared" in err
    assert prep.open_prepared(df2k / "Flickr2K", 2) is not None
    train(SPEC, config, df2k / "second", data_root=df2k, progress=False)
    assert "not prepared" not in capsys.readouterr().err
