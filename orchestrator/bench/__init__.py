"""The ``orchestrate bench ...`` measurements: ours beside a baseline, in one run, with the ratio."""
