"""SwinIR: our fused, gather-based window attention equals a literal reading of the SwinIR block
(roll, partition, q k^T * scale + bias + region mask, softmax, v, reverse, roll back)."""

import pytest
import torch

from bench import registry
from reproductions.baselines.swinir import TOKENS_PER_CHUNK


def literal_block(block, x, size):
    b, _, c = x.shape
    h, w = size
    ws, shift, attn = block.window, block.shift, block.attn
    heads, n = attn.heads, ws * ws
    y = block.norm1(x).view(b, h, w, c)
    if shift:
        y = torch.roll(y, (-shift, -shift), (1, 2))
    windows = y.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, n, c)
    q, k, v = attn.qkv(windows).reshape(-1, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    scores = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1) + attn.position_bias()[None]
    if shift:
        label = torch.zeros(h, w)
        regions = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
        for i, rows in enumerate(regions):
            for j, cols in enumerate(regions):
                label[rows, cols] = 3 * i + j
        label = label.view(h // ws, ws, w // ws, ws).permute(0, 2, 1, 3).reshape(-1, n)
        mask = (label[:, None, :] != label[:, :, None]).float() * -100.0
        scores = (scores.view(b, -1, heads, n, n) + mask[None, :, None]).view(-1, heads, n, n)
    out = attn.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(-1, n, c))
    out = out.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
    if shift:
        out = torch.roll(out, (shift, shift), (1, 2))
    x = x + out.reshape(b, h * w, c)
    return x + block.mlp(block.norm2(x))


@pytest.mark.parametrize("size", [(16, 24), (8, 8), (40, 56), (96, 136)])  # the last exceeds one token group
def test_blocks_equal_the_literal_definition(size):
    if size == (96, 136):
        assert size[0] * size[1] > TOKENS_PER_CHUNK  # so that more than one token group is exercised
    torch.manual_seed(0)
    model = registry.make("swinir-light", scale=2).eval()
    blocks = model.layers[1].residual_group.blocks[:2]  # shift 0, then shift 4
    x = torch.randn(2, size[0] * size[1], 60)
    with torch.no_grad():
        for block in blocks:
            torch.testing.assert_close(block(x, size), literal_block(block, x, size), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, scale", [("swinir-light", 3), ("swinir-classical", 2)])
def test_padding_and_crop(name, scale):
    model = registry.make(name, scale=scale).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 13, 10)).shape == (1, 3, 13 * scale, 10 * scale)


def test_gradients_flow_through_every_parameter():
    model = registry.make("swinir-light", scale=2)
    model(torch.rand(2, 3, 16, 16)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
