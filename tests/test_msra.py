"""MSRA-SR reconstruction: sizes against the paper's tables, exact reparameterisation, masks."""

import copy

import pytest
import torch

from bench import registry
from bench.reparam import reparameterize
from bench.reported import reported_numbers
from reproductions.msra import VARIANTS
from reproductions.msra.model import _window_labels

REPORTED = {(r.table, r.model, r.variant, r.scale, r.metric): r.value for r in reported_numbers() if r.paper == "msra"}
# Rows whose layout the authors re-tuned (‡) or that no reconstruction fits (shared/specs/msra_v2.md §4).
KNOWN_GAPS = {
    "wo-shared-attn": "paper +146K needs ~12K per converted layer; q/k projections + one bias table give +102K",
    "window-8": "‡: the authors re-tuned depth/width for window 8 and do not say how",
}


def deployed_params(name: str, scale: int, **options) -> int:
    model = registry.make(name, scale=scale, **options)
    reparameterize(model)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_light_params_match_table_1(scale):
    ours = deployed_params("msra-light", scale)
    published = REPORTED[("Table 1", "msra-light", "", str(scale), "params")]
    assert abs(ours - published) / published < 0.02


@pytest.mark.parametrize("variant", sorted(set(VARIANTS) - set(KNOWN_GAPS)))
def test_table_4_params(variant):
    card = registry.get(f"msra-light.{variant}")
    model = registry.make(card.name, scale=2)
    if card.variant.form != "as-trained":
        reparameterize(model)
    ours = sum(p.numel() for p in model.parameters())
    published = REPORTED[("Table 4", "msra-light", variant, "2", "params")]
    assert abs(ours - published) / published < 0.02


def test_every_variant_runs():
    """Each Table 4 row's options on a shallower msra-light (its builder takes the depths): two groups of two
    layers, so computing and sharing layers, plain and shifted windows, and the group convs all run."""
    x = torch.rand(1, 3, 20, 18)
    for variant in VARIANTS:
        with torch.no_grad():
            assert registry.make(f"msra-light.{variant}", scale=2, depths=(2, 2))(x).shape == (1, 3, 40, 36)


@pytest.mark.parametrize("name, scale", [("msra-light", 3), ("msra-classical", 2)])
def test_reparameterised_model_is_the_same_function(name, scale):
    torch.manual_seed(0)
    model = registry.make(name, scale=scale).eval()
    for module in model.modules():  # non-trivial branch weights, so every branch matters
        if isinstance(module, torch.nn.Conv2d) and module.groups > 1:
            torch.nn.init.normal_(module.weight, std=0.2)
    x = torch.rand(1, 3, 33, 20)
    deployed = copy.deepcopy(model)
    assert reparameterize(deployed) == len(model.groups) * 4
    with torch.no_grad():
        before, after = model(x), deployed(x)
    assert (before - after).abs().max().item() < 1e-4


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_shifted_regions_are_whole_key_blocks(scale):
    """With shift 8, every s x s block a CSA key averages lies inside one region, so masks are exact."""
    labels = torch.from_numpy(_window_labels(64, 48, 16, 8))
    blocks = labels.view(-1, 16 // scale, scale, 16 // scale, scale).permute(0, 1, 3, 2, 4).flatten(3)
    assert (blocks == blocks[..., :1]).all()
