"""The shared PyTorch trainer: explicit loop, recipes by name. No Ray, no MLflow."""

from .loop import NonFiniteLossError, evaluate, train_one_epoch
from .trainer import Trainer

__all__ = ["NonFiniteLossError", "Trainer", "evaluate", "train_one_epoch"]
