from . import channel_attention  # noqa: F401  (registers se, eca)
from .create_attn import create_attn, list_attn, register_attn

__all__ = ["create_attn", "list_attn", "register_attn"]
