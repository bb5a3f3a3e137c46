"""Structural reparameterisation: the merged conv computes what the branches computed."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reproductions.layers import MultiBranchConv2d, reparameterize


def randomise_norms(module):
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


@settings(max_examples=40, deadline=None)
@given(
    channels=st.sampled_from([1, 2, 4, 6]),
    groups_kind=st.sampled_from(["full", "depthwise", "two"]),
    kernels=st.lists(st.sampled_from([1, 3, 5, 7]), min_size=1, max_size=4, unique=True),
    identity=st.booleans(),
    batch_norm=st.booleans(),
    bias=st.booleans(),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    seed=st.integers(0, 2**16),
)
def test_merged_conv_equals_branches(channels, groups_kind, kernels, identity, batch_norm, bias, size, seed):
    groups = {"full": 1, "depthwise": channels, "two": 2 if channels % 2 == 0 else 1}[groups_kind]
    torch.manual_seed(seed)
    block = MultiBranchConv2d(channels, channels, tuple(kernels), identity=identity, batch_norm=batch_norm,
                              groups=groups, bias=bias).eval()
    randomise_norms(block)
    x = torch.randn(2, channels, *size)
    before = block(x)
    assert reparameterize(block) == 1
    after = block(x)
    assert block.deployed and len(list(block.children())) == 1
    assert (before - after).abs().max().item() < 1e-5


def test_model_level_reparameterize_counts_and_is_idempotent():
    net = torch.nn.Sequential(MultiBranchConv2d(4, 8, (3, 1)), torch.nn.ReLU(),
                              MultiBranchConv2d(8, 8, (5, 3, 1), identity=True, batch_norm=True)).eval()
    randomise_norms(net)
    x = torch.randn(1, 4, 11, 7)
    deployed = copy.deepcopy(net)
    assert reparameterize(deployed) == 2
    assert reparameterize(deployed) == 0
    torch.testing.assert_close(deployed(x), net(x), rtol=0, atol=1e-5)
    assert sum(p.numel() for p in deployed.parameters()) < sum(p.numel() for p in net.parameters())


def test_plain_model_has_nothing_to_merge():
    assert reparameterize(torch.nn.Conv2d(3, 3, 3)) == 0


def test_invalid_configurations():
    with pytest.raises(ValueError, match="odd"):
        MultiBranchConv2d(4, 4, (2,))
    with pytest.raises(ValueError, match="identity"):
        MultiBranchConv2d(4, 8, (3,), identity=True)
