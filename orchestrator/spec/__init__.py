"""What a study is, apart from how it runs: its sections (resources, tracking, the search
options every design shares), its trial plans, and reading it from YAML with overrides.

The trial config (data, model, train) is the trainer's own schema (``train/config.py``); each
design, trial scheduler and sampler declares its options in its own module, and
``orchestrator.study`` joins them into the spec a user writes.
"""
