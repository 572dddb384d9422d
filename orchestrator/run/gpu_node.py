"""A Ray node whose trials share its GPUs under MPS: ``python -m orchestrator.run.gpu_node ray start ...``.

The compose GPU worker runs its ``ray start`` through this. An MPS control daemon starts first,
with its own folders under ``$ORCHESTRATE_MPS_DIR`` (default ``/tmp/orchestrate-mps``); its pipe
folder is exported to ``ray start``, so every trial Ray runs on the node packs under it; the
daemon is stopped when the node stops. A sweep joining the cluster starts no daemon itself (it
does only on its own local Ray). Where MPS cannot start, the node runs as before and says why
in one line, as a local sweep does (:func:`orchestrator.run.gpu_sharing.gpu_sharing`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

from .gpu_sharing import cuda_available, gpu_sharing

MPS_DIR_ENV = "ORCHESTRATE_MPS_DIR"
DEFAULT_MPS_DIR = "/tmp/orchestrate-mps"
PACKED = 0.5  # any share below 1: this node offers its GPUs to trials that ask for a share


def run_node(command: list[str]) -> int:
    """Run ``command`` (the node's ``ray start ... --block``) under an MPS daemon; its exit code."""
    workdir = Path(os.environ.get(MPS_DIR_ENV) or DEFAULT_MPS_DIR)
    workdir.mkdir(parents=True, exist_ok=True)
    with gpu_sharing("mps", gpus_per_trial=PACKED, cuda=cuda_available(), workdir=workdir) as sharing:
        if sharing.message:
            print(f"gpu node: {sharing.message}", flush=True)
        node = subprocess.Popen(command)
        # docker stop sends SIGTERM here: pass it on, so Ray leaves first and the daemon stops after.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, frame: node.send_signal(received))
        return node.wait()


def main(argv: Optional[list[str]] = None) -> int:
    command = sys.argv[1:] if argv is None else argv
    if not command:
        print("usage: python -m orchestrator.run.gpu_node COMMAND [ARG]...  (the node's ray start)", file=sys.stderr)
        return 2
    return run_node(command)


if __name__ == "__main__":
    sys.exit(main())
