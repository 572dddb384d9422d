"""orchestrate: sweeps of image-classification studies over Ray Tune, Optuna and MLflow."""

__version__ = "0.1.0"
