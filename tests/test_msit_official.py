"""MSIT's official checkpoints (Jinchen2028/MSIT) load into msit-edsr / msit-rdn.

The official state_dict is rebuilt here from a table of (official key, our key, shape) written from the
official module tree, not from our model: ``models/msit.py`` (``amsit``: encoder, conv_ch, amsno, conv_vs,
multi_conv_qs, pb_encoder, imnets), ``test_mod.py`` (``amsno``, ``MsC``, ``RiM``, ``LEM``), CLIT's
``positionencoder.py`` (``posenc``: only ``proj`` is state) and LIIF's ``edsr.py`` / ``rdn.py`` (copied
unchanged into CLIT and MSIT), with the official configs' sizes: base_dim 256, MsC_heads 16, MsSA_q 4,
head 8, r 3, MLP [256] * 4. It is saved the way ``train.py`` saves, loaded through ``load_weights``, and
every tensor must land at the table's key.
"""

from collections import OrderedDict

import pytest
import torch

from bench import BenchError, registry
from bench.checkpoints import load_weights, read_state_dict
from reproductions.msit.remap import remap_official

C, T, N, HEADS, AREA, HIDDEN, FEATS = 256, 16, 4, 8, 49, 256, 64  # base_dim, MsC_heads, MsSA_q, head, 7x7, MLP, G0


def _encoder_rows(encoder: str) -> list[tuple[str, tuple[int, ...]]]:
    if encoder == "edsr-baseline":  # EDSR(args) with 16 ResBlocks, no_upsampling: no tail
        rows = [(f"{shift}.{p}", shape) for shift in ("sub_mean", "add_mean")
                for p, shape in (("weight", (3, 3, 1, 1)), ("bias", (3,)))]
        rows += [("head.0.weight", (FEATS, 3, 3, 3)), ("head.0.bias", (FEATS,))]
        for block in range(16):
            for conv in (0, 2):  # conv, ReLU, conv
                rows += [(f"body.{block}.body.{conv}.weight", (FEATS, FEATS, 3, 3)),
                         (f"body.{block}.body.{conv}.bias", (FEATS,))]
        return rows + [("body.16.weight", (FEATS, FEATS, 3, 3)), ("body.16.bias", (FEATS,))]
    # RDN config B: 16 RDBs of 8 RDB_Convs, growth 64; no_upsampling: no UPNet
    rows = [("SFENet1.weight", (FEATS, 3, 3, 3)), ("SFENet1.bias", (FEATS,)),
            ("SFENet2.weight", (FEATS, FEATS, 3, 3)), ("SFENet2.bias", (FEATS,))]
    for block in range(16):
        for conv in range(8):
            rows += [(f"RDBs.{block}.convs.{conv}.conv.0.weight", (64, FEATS + 64 * conv, 3, 3)),
                     (f"RDBs.{block}.convs.{conv}.conv.0.bias", (64,))]
        rows += [(f"RDBs.{block}.LFF.weight", (FEATS, FEATS + 8 * 64, 1, 1)), (f"RDBs.{block}.LFF.bias", (FEATS,))]
    return rows + [("GFF.0.weight", (FEATS, 16 * FEATS, 1, 1)), ("GFF.0.bias", (FEATS,)),
                   ("GFF.1.weight", (FEATS, FEATS, 3, 3)), ("GFF.1.bias", (FEATS,))]


def _rim(official: str, ours: str, channels: int, kernel: int) -> list[tuple[str, str, tuple[int, ...]]]:
    """test_mod.RiM(channels, channels, kernel, groups=1, map_k=3): the basis buffer, convmap and linear
    grouped per 2-D kernel (channels * channels of them), the bias."""
    kernels = channels * channels
    return [(f"{official}.{name}", f"{ours}.{name}", shape) for name, shape in (
        ("weight", (channels, channels, kernel, kernel)), ("convmap.weight", (kernels, 1, 3, 3)),
        ("linear.weight", (kernels, 1, 1, 1)), ("bias", (channels,)))]


def _conv(official: str, ours: str, shape: tuple[int, ...], bias: bool = True) -> list[tuple[str, str, tuple]]:
    return [(f"{official}.weight", f"{ours}.weight", shape)] + (
        [(f"{official}.bias", f"{ours}.bias", shape[:1])] if bias else [])


def _bn(official: str, ours: str, channels: int) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(f"{official}.{name}", f"{ours}.{name}", (channels,))
            for name in ("weight", "bias", "running_mean", "running_var")] + [
        (f"{official}.num_batches_tracked", f"{ours}.num_batches_tracked", ())]


def official_layout(encoder: str) -> list[tuple[str, str, tuple[int, ...]]]:
    """(official key, our key, shape) for every tensor of the official stage-B (RIM) ``amsit``."""
    rows = [(f"encoder.{key}", f"encoder.{key}", shape) for key, shape in _encoder_rows(encoder)]
    rows += _conv("conv_ch", "conv_ch", (C, FEATS, 1, 1))
    # amsno: lem (LEM), v and s (no bias), Ms_conv_1..16 (RiM, kernels 3..33), sim0, bn, sim1, proj
    rows += [("amsno.lem.mix_margin", "msno.fem.mix_margin", ()), ("amsno.lem.mask", "msno.fem.mask", (C, 1, 3, 3))]
    rows += _conv("amsno.v", "msno.v", (C, C, 1, 1), bias=False) + _conv("amsno.s", "msno.s", (C, C, 1, 1), bias=False)
    for i in range(T):
        rows += _rim(f"amsno.Ms_conv_{i + 1}", f"msno.msc.{i}", C // T, 3 + 2 * i)
    rows += _conv("amsno.sim0", "msno.sim.0", (2 * C, C // T, 1, 1))  # groups = MsC_heads
    rows += _bn("amsno.bn", "msno.sim.1", 2 * C) + _conv("amsno.sim1", "msno.sim.3", (C, 2 * C, 1, 1))
    rows += _conv("amsno.proj", "msno.proj", (C, C, 1, 1))
    # multi_conv_qs.0 (MsC): proj0, local_conv_1..4 (RiM, kernels 3..9), proj1 (groups = C / MsSA_q), bn, proj2
    rows += _conv("multi_conv_qs.0.proj0", "q_proj.proj0", (C, C, 1, 1))
    for i in range(N):
        rows += _rim(f"multi_conv_qs.0.local_conv_{i + 1}", f"q_proj.convs.{i}", C // N, 3 + 2 * i)
    rows += _conv("multi_conv_qs.0.proj1", "q_proj.mix.0", (2 * C, C // (C // N), 1, 1))
    rows += _bn("multi_conv_qs.0.bn", "q_proj.mix.1", 2 * C) + _conv("multi_conv_qs.0.proj2", "q_proj.mix.3",
                                                                      (C, 2 * C, 1, 1))
    rows += _rim("conv_vs.0", "v_proj", C, 3)
    rows += [("pb_encoder.proj.weight", "position_bias.proj.weight", (HEADS, 64)),  # enc_dims 64 -> head
             ("pb_encoder.proj.bias", "position_bias.proj.bias", (HEADS,))]
    widths = [C * AREA + 2, HIDDEN, HIDDEN, HIDDEN, HIDDEN, 3]  # + rel_cell
    for j in range(5):  # Linear, GELU, ...: the Linears at 0, 2, 4, 6, 8
        rows += _conv(f"imnets.0.layers.{2 * j}", f"mlp.{2 * j}", (widths[j + 1], widths[j]))
    return rows


def _random_state(rows) -> OrderedDict:
    generator = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for official, _, shape in rows:
        if official.endswith("num_batches_tracked"):
            state[official] = torch.tensor(1000 + len(state))
        elif official.endswith("running_var"):
            state[official] = torch.rand(shape, generator=generator) + 0.5
        else:  # scaled by the fan-in, so that the model's output stays finite
            fan_in = torch.Size(shape[1:]).numel() if len(shape) > 1 else 100
            state[official] = torch.randn(shape, generator=generator) / fan_in ** 0.5
    return state


def _save_official(path, encoder: str, state: OrderedDict) -> None:
    """The layout of train.py's ``epoch-*.pth``: the model spec (the config's ``model`` entry) with ``sd``,
    the optimizer's likewise, the epoch and the RNG state."""
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.Adam([param], lr=1e-5)
    param.sum().backward()
    optimizer.step()
    args = {"base_dim": C, "head": HEADS, "r": 3, "imnet_num": 1, "conv_num": 1, "is_cell": True,
            "local_attn": True, "use_lem": True, "MsC_heads": T, "MsSA_q": N,
            "encoder_spec": {"name": encoder, "args": {"no_upsampling": True}},
            "pb_spec": {"name": "posenc", "args": {"posenc_type": "sinusoid", "posenc_scale": 10,
                                                   "hidden_dims": 64, "enc_dims": 64, "gamma": 1}},
            "imnet_spec": {"name": "mlp", "args": {"out_dim": 3, "hidden_list": [HIDDEN] * 4, "act": "gelu"}}}
    torch.save({"model": {"name": "amsit", "args": args, "sd": state},
                "optimizer": {"name": "adam", "args": {"lr": 1e-5}, "sd": optimizer.state_dict()},
                "epoch": 1050, "state": torch.get_rng_state()}, path)


@pytest.mark.parametrize("name, encoder", [("msit-edsr", "edsr-baseline"), ("msit-rdn", "rdn")])
def test_official_checkpoint_loads_every_tensor_in_place(tmp_path, name, encoder):
    rows = official_layout(encoder)
    model = registry.make(name, scale=2)
    assert len({official for official, _, _ in rows}) == len(rows)
    assert sorted(ours for _, ours, _ in rows) == sorted(model.state_dict())  # the table covers ours exactly
    assert {official: ours for official, ours, _ in rows} == dict(zip(
        (official for official, _, _ in rows), remap_official({official: None for official, _, _ in rows}),
        strict=True))

    state = _random_state(rows)
    path = tmp_path / "epoch-best.pth"
    _save_official(path, encoder, state)
    assert list(read_state_dict(path)) == list(state)  # bench unwraps ["model"]["sd"]
    model = load_weights(model, path)
    loaded = model.state_dict()
    for official, ours, _ in rows:
        assert torch.equal(loaded[ours], state[official]), f"{official} did not arrive at {ours}"

    model.eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 16, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize("corrupt, message", [
    (lambda state: state.pop("amsno.Ms_conv_7.convmap.weight"), "missing keys"),
    (lambda state: state.__setitem__("amsno.Ms_conv_17.bias", torch.zeros(16)), "unexpected keys"),
    (lambda state: state.__setitem__("conv_vs.0.weight", torch.zeros(256, 256, 1, 1)), "other shapes"),
])
def test_incomplete_official_checkpoint_is_refused(tmp_path, corrupt, message):
    rows = official_layout("edsr-baseline")
    state = _random_state(rows)
    corrupt(state)
    path = tmp_path / "epoch-last.pth"
    _save_official(path, "edsr-baseline", state)
    with pytest.raises(BenchError, match=message):
        load_weights(registry.make("msit-edsr", scale=2), path)
