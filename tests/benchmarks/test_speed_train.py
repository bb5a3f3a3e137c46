"""Training throughput (iterations per second) of the smoke budgets on this machine (`nox -s bench`).

One iteration = sample a batch of patches, forward, L1 loss, backward, Adam step: what `bench train`
does per step, without validation or checkpoints."""

import pytest
import torch
import torch.nn.functional as F

from bench import registry
from bench.data.training import PatchSampler, load_training_images


@pytest.mark.parametrize("name, batch, patch", [
    ("swinir-light", 2, 32),  # the smoke budget of issue 5
    ("msra-light", 2, 32),  # the smoke budget of reproduce-msra
    ("imdn", 16, 48),
])
def test_training_iterations_per_second(benchmark, name, batch, patch):
    torch.manual_seed(0)
    images = load_training_images(["samples-train"], 2)
    sampler = PatchSampler(images, 2, patch, augment=True)
    generator = torch.Generator().manual_seed(0)
    model = registry.make(name, scale=2).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)

    def step():
        lr, hr = sampler.batch(generator, batch, 0, 1)
        loss = F.l1_loss(model(lr), hr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # allocator warm-up
    benchmark.pedantic(step, rounds=8, iterations=1)
    benchmark.extra_info["it_per_s"] = 1 / benchmark.stats.stats.median
    print(f"{name} x2, batch {batch}, LR patch {patch}: {1 / benchmark.stats.stats.median:.2f} it/s")
