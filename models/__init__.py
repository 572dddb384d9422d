"""Model zoo: a registry of image classifiers by name. Imports torch and timm only."""

from . import (  # noqa: F401  (each import registers its family's models)
    attention_resnet,
    autoencoder,
    cbam_resnet,
    convnext,
    densenet,
    hornet,
    inception_resnet,
    mixer,
    res2net,
    resnet,
    resnet_cifar,
    resnext,
    sknet,
    timm_backed,
    tiny_imagenet,
    van,
    vit,
)
from ._helpers import PretrainedWeightsUnavailable, pretrained_normalization
from ._weights import WEIGHTS_ENV, stored_file, weight_name, weights_dir
from ._registry import (
    UnknownModelError,
    create_model,
    default_input_size,
    input_size,
    is_model,
    list_models,
    model_options,
    needed_weights,
    register_model,
)

__all__ = [
    "PretrainedWeightsUnavailable",
    "UnknownModelError",
    "WEIGHTS_ENV",
    "create_model",
    "default_input_size",
    "input_size",
    "is_model",
    "list_models",
    "model_options",
    "needed_weights",
    "pretrained_normalization",
    "register_model",
    "stored_file",
    "weight_name",
    "weights_dir",
]
