"""Datasets as in-memory uint8 tensors, and the loader that batches and augments them."""

from . import cifar, digits, imagefolder, synthetic, tiny_imagenet  # noqa: F401  (register the datasets)
from .loader import AUGMENT_MODES, InMemoryLoader
from .pipeline import PRESETS, build_augmentation, try_augmentation
from .registry import (
    DatasetInfo,
    dataset_info,
    dataset_options,
    default_root,
    list_datasets,
    load_dataset,
    register_dataset,
    stored_input_size,
)
from .splits import stratified_split
from .tensors import DatasetTensors, LabelSet

__all__ = [
    "AUGMENT_MODES",
    "DatasetInfo",
    "DatasetTensors",
    "InMemoryLoader",
    "LabelSet",
    "PRESETS",
    "build_augmentation",
    "dataset_info",
    "dataset_options",
    "default_root",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "stored_input_size",
    "stratified_split",
    "try_augmentation",
]
