"""MLflow, and only here: ``store`` (where and how to reach it), ``writer`` (the sweep driver's
runs and metrics), ``reader`` (reports, resume, the sweep's decisions) and ``names`` (the tags,
metric and summary names and the ranking rule everyone shares).

Import the submodule you need: this package imports nothing, so the trainer can use ``names``
without loading MLflow.
"""
