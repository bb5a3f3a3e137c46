"""AMMS: only the reported numbers so far (``reported.csv``); the models land with issue 10."""

PAPER_TITLES = {
    "amms": "AMMS: SR with non-local + second-order attention and multi-scale feature fusion (arXiv 2004.03939)",
}
