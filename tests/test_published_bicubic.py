"""The published bicubic rows (AMMS-Net's Table 2, read from reported.csv), re-measured end to end."""

import json

import pytest

from bench.__main__ import main
from bench.reported import reported_numbers

ROWS = {}
for row in reported_numbers():
    if row.model == "bicubic" and row.protocol == "matlab":
        ROWS.setdefault((row.dataset, int(row.scale)), {})[row.metric] = row.value
CASES = [pytest.param(key, marks=pytest.mark.slow) if key[0] == "Urban100" else key for key in sorted(ROWS)]


def test_reported_rows_are_all_there():
    assert len(ROWS) == 12 and all(set(v) == {"psnr", "ssim"} for v in ROWS.values())


@pytest.mark.data
@pytest.mark.parametrize("key", CASES, ids=lambda k: f"{k[0]}-x{k[1]}")
def test_bicubic_matches_published(data_root, capsys, key):
    dataset, scale = key
    code = main(["evaluate", "bicubic", "--dataset", dataset, "--scale", str(scale), "--protocol", "matlab",
                 "--data-root", str(data_root), "--json", "--quiet"])
    assert code == 0
    measured = json.loads(capsys.readouterr().out)
    assert abs(measured["psnr"] - ROWS[key]["psnr"]) <= 0.01
    assert abs(measured["ssim"] - ROWS[key]["ssim"]) <= 0.0010
