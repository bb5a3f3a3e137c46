"""The official MSIT checkpoints (Jinchen2028/MSIT ``train.py``) in our keys.

``train.py`` saves ``{"model": {"name": "amsit", "args": {...}, "sd": state_dict}, "optimizer": ...,
"epoch": ..., "state": ...}``; bench unwraps ``["model"]["sd"]`` and hands that state_dict here. The official
module tree (``models/msit.py`` class ``amsit``, ``test_mod.py`` ``amsno``/``MsC``/``RiM``/``LEM``, CLIT's
``posenc``, ``models/mlp.py``) against ours (``reproductions.msit.model``):

    encoder.*                          encoder.*         (LIIF's EDSR-baseline / RDN: the same names)
    conv_ch.*                          conv_ch.*
    amsno.{v,s,proj}.*                 msno.{v,s,proj}.*
    amsno.lem.{mask,mix_margin}        msno.fem.{mask,mix_margin}
    amsno.Ms_conv_<i>.*   (i = 1..t)   msno.msc.<i-1>.*
    amsno.sim0 / bn / sim1             msno.sim.0 / sim.1 / sim.3
    multi_conv_qs.0.proj0.*            q_proj.proj0.*
    multi_conv_qs.0.local_conv_<i>.*   q_proj.convs.<i-1>.*
    multi_conv_qs.0.proj1 / bn / proj2 q_proj.mix.0 / mix.1 / mix.3
    conv_vs.0.*                        v_proj.*
    pb_encoder.proj.*                  position_bias.proj.*
    imnets.0.layers.<j>.*              mlp.<j>.*

A RiM conv's ``weight`` (its frozen basis, a buffer), ``convmap.weight``, ``linear.weight`` and ``bias`` keep
their names under the renamed module, as do stage A's plain conv ``weight``/``bias``: the same renaming
serves both stages.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["remap_official"]

# Entries the two state_dicts might not share, decided from the official code:
# - amsno.act / proj_drop and MsC.act: GELU and Dropout, no state in either model.
# - posenc's b_vals / a_vals are plain attributes (not saved); our ``frequencies`` is a non-persistent buffer.
# - the RiM ``weight`` buffer is persistent (register_buffer's default) and ours is too: it loads, never drops.
# - LEM's mask and mix_margin are Parameters in both (frozen); BatchNorm's num_batches_tracked is in both.
# - EDSR's MeanShift sub_mean/add_mean are built (unused) in both, so their 4 tensors load as well.
_RULES = [(re.compile(pattern), replacement) for pattern, replacement in (
    (r"^amsno\.lem\.", "msno.fem."),
    (r"^amsno\.Ms_conv_(\d+)\.", lambda m: f"msno.msc.{int(m.group(1)) - 1}."),
    (r"^amsno\.sim0\.", "msno.sim.0."),
    (r"^amsno\.bn\.", "msno.sim.1."),  # the BatchNorm between sim0 and sim1 [src test_mod.amsno]
    (r"^amsno\.sim1\.", "msno.sim.3."),  # sim.2 is the GELU
    (r"^amsno\.(v|s|proj)\.", r"msno.\1."),
    (r"^multi_conv_qs\.0\.local_conv_(\d+)\.", lambda m: f"q_proj.convs.{int(m.group(1)) - 1}."),
    (r"^multi_conv_qs\.0\.proj0\.", "q_proj.proj0."),
    (r"^multi_conv_qs\.0\.proj1\.", "q_proj.mix.0."),
    (r"^multi_conv_qs\.0\.bn\.", "q_proj.mix.1."),
    (r"^multi_conv_qs\.0\.proj2\.", "q_proj.mix.3."),  # mix.2 is the GELU
    (r"^conv_vs\.0\.", "v_proj."),
    (r"^pb_encoder\.proj\.", "position_bias.proj."),
    (r"^imnets\.0\.layers\.", "mlp."),
)]


def remap_official(state: dict[str, Any]) -> dict[str, Any]:
    """An official ``amsit`` state_dict (stage A or B, EDSR-baseline or RDN encoder) -> ours. Also takes the
    ``{"name", "args", "sd"}`` entry itself. Keys no rule matches (the encoder's, ``conv_ch``, ours) pass
    through unchanged, so a stray key reaches the strict load and is reported there."""
    state = state.get("sd", state)
    remapped: dict[str, Any] = {}
    for key, value in state.items():
        for pattern, replacement in _RULES:
            new, hits = pattern.subn(replacement, key, count=1)
            if hits:
                key = new
                break
        remapped[key] = value
    return remapped
