"""MESR: only the reported numbers so far (``reported.csv``); the models land with issue 9."""

PAPER_TITLES = {"mesr": "MESR: multistage enhancement network for image SR (IEEE Access 2022, seed 002)"}
