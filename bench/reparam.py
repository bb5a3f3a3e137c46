"""The structural reparameterisation protocol, as the harness sees it.

A module with a ``reparameterize()`` method can switch itself, in place, from its training-time
form to a deploy-time form computing the same function, and marks itself ``deployed``. The blocks
that implement it live with the models (``reproductions.layers``); the harness only calls them.
"""

from torch import nn

__all__ = ["reparameterize"]


def reparameterize(model: nn.Module) -> int:
    """Merge every reparameterisable module of ``model`` in place; returns how many were merged."""
    merged = 0
    for module in list(model.modules()):
        if callable(getattr(module, "reparameterize", None)) and not getattr(module, "deployed", False):
            module.reparameterize()
            merged += 1
    return merged
