"""MSTN: only the reported numbers so far (``reported.csv``); the models land with issue 8."""

PAPER_TITLES = {"mstn": "MSTN: multi-scale multi-stage SR with a Transformer feature-sharing module (seed 000)"}
