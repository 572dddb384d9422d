"""Datasets as in-memory uint8 tensors, and the loader that batches and augments them."""

from . import cifar, digits, synthetic  # noqa: F401  (register the datasets)
from .augment import AUGMENTATIONS
from .loader import InMemoryLoader
from .registry import dataset_options, default_root, list_datasets, load_dataset, register_dataset
from .tensors import DatasetTensors

__all__ = [
    "AUGMENTATIONS",
    "DatasetTensors",
    "InMemoryLoader",
    "dataset_options",
    "default_root",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
