"""Stratified, seeded splits of a label vector: validation hold-outs and labelled fractions.

scikit-learn's ``train_test_split(stratify=...)`` rounds per-class counts globally, so a class can
end up with no member in a small fraction; here every class keeps at least one image on each side
(when it has two), which a 10%-labelled semi-supervised run on 200 classes needs.
"""

from __future__ import annotations

import torch


def stratified_split(labels: torch.Tensor, fraction: float, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint ``(selected, rest)`` indices: ``fraction`` of each class selected, seeded.

    Each class contributes ``round(fraction * n)`` images, at least one and, when it has two or
    more, at most ``n - 1``. Both index tensors are sorted, so the split does not depend on order.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    generator = torch.Generator().manual_seed(seed)
    selected, rest = [], []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        count = max(1, round(fraction * len(members)))
        if fraction < 1 and len(members) > 1:
            count = min(count, len(members) - 1)
        selected.append(members[:count])
        rest.append(members[count:])
    return torch.cat(selected).sort().values, torch.cat(rest).sort().values
