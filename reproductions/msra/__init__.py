"""MSRA-SR (ICCV 2023): image SR Transformer with multi-scale shared representation acquisition.

So far only the paper's reported numbers (``reported.csv``, Tables 1-4); the models, recipe and
``nox -s reproduce-msra`` land with issue 4.
"""
