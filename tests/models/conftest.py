from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def single_thread() -> Iterator[None]:
    # Batches of two images are far too small to share across threads; on a busy machine the
    # threads only spin-wait for each other (ten times slower than one thread here).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
