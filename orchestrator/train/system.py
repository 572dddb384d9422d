"""What an epoch cost the machine: process memory, and GPU load and memory where there is one.

Logged with the epoch's other metrics (one batch), so a slow or crashing trial can be matched to
memory growth or an idle GPU without a separate monitor.
"""

from __future__ import annotations

import psutil
import torch

from ..tracking.names import SYSTEM_METRICS

RSS, GPU_UTIL, GPU_MEM = SYSTEM_METRICS


def system_metrics(device: torch.device) -> dict[str, float]:
    """RSS of this process (MB); on CUDA also the GPU's utilisation (%, when NVML is installed)
    and the peak memory torch allocated since the last call (MB)."""
    found = {RSS: psutil.Process().memory_info().rss / 2**20}
    if device.type != "cuda":
        return found
    found[GPU_MEM] = torch.cuda.max_memory_allocated(device) / 2**20
    torch.cuda.reset_peak_memory_stats(device)
    # NVML missing, or not answering: pynvml's NVMLError is no RuntimeError (a query a MIG slice
    # does not support, a lost GPU). The metric is optional; the epoch is not.
    try:
        found[GPU_UTIL] = float(torch.cuda.utilization(device))
    except Exception:
        pass
    return found
