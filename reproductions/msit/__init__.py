"""MSIT: only the reported numbers so far (``reported.csv``); the models land with issue 7."""

PAPER_TITLES = {
    "msit": "MSIT: multi-scale implicit transformer with re-parameterisation for arbitrary-scale SR (seed 004)",
}
