"""One package per paper (models, recipes, reported numbers) plus the baselines they compare against.

Each package registers its models with ``bench.registry`` when imported; ``bench`` finds them
through the ``bench.reproductions`` entry points in ``pyproject.toml``.
"""
