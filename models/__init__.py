"""Model zoo: a registry of image classifiers by name. Imports torch and timm only."""

from . import resnet_cifar  # noqa: F401  (registers the CIFAR ResNets)
from ._registry import (
    UnknownModelError,
    create_model,
    is_model,
    list_models,
    model_options,
    register_model,
)

__all__ = [
    "UnknownModelError",
    "create_model",
    "is_model",
    "list_models",
    "model_options",
    "register_model",
]
