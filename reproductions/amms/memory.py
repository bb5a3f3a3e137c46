"""How much memory an inference pass needs, without the memory or the arithmetic.

``peak_activation_bytes`` runs the model on the ``meta`` device (shapes only) and follows every tensor
an operator allocates until it is freed: the peak of the bytes alive at once is what an allocator must
hold for activations (weights and allocator slack come on top). It answers "does a full Urban100
image fit in 24 GB" in a second on any machine, for the chunked non-local path and for the full
score matrix alike.
"""

from __future__ import annotations

import copy
import weakref

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["peak_activation_bytes"]


class _LiveBytes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live = self.peak = 0

    def _free(self, size: int) -> None:
        self.live -= size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        returns = func._schema.returns
        if len(returns) == 1:  # one tensor, or one list of tensors (split, unbind ...)
            pairs = [(returns[0], tensor) for tensor in (out if isinstance(out, (tuple, list)) else (out,))]
        else:
            pairs = list(zip(returns, out, strict=True))
        for returned, tensor in pairs:
            # views and in-place results (an alias in the schema) share memory already counted
            if isinstance(tensor, torch.Tensor) and returned.alias_info is None:
                size = tensor.untyped_storage().nbytes()
                self.live += size
                self.peak = max(self.peak, self.live)
                weakref.finalize(tensor, self._free, size)
        return out


def peak_activation_bytes(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Peak bytes of tensors alive at once during ``model(x)`` for an input of ``shape``, in inference mode
    (the input itself and the weights not included)."""
    meta_model = copy.deepcopy(model).to("meta").eval()
    x = torch.empty(shape, device="meta")
    with torch.inference_mode(), _LiveBytes() as counter:
        meta_model(x)
    return counter.peak
