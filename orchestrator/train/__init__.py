"""The shared PyTorch trainer: explicit loop, recipes by name. No Ray, no MLflow."""

from .loop import DeviceMemoryError, NonFiniteLossError, evaluate, train_one_epoch
from .metrics import EPOCH_METRICS
from .report import FinalReport
from .trainer import Trainer

__all__ = ["DeviceMemoryError", "EPOCH_METRICS", "FinalReport", "NonFiniteLossError", "Trainer", "evaluate", "train_one_epoch"]
