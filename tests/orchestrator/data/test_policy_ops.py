"""RandAugment and AutoAugment as batched tensor ops: each op equals torchvision's applied image by
image, pixel for pixel (per-image magnitudes included); the ops drawn follow torchvision's per-image
distribution; images of one batch draw independently; on CUDA the same as on CPU."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chi2_contingency, chisquare
from torchvision.transforms import InterpolationMode
from torchvision.transforms import RandAugment as TorchRandAugment
from torchvision.transforms import autoaugment as tv_autoaugment

from orchestrator.data.autoaug import AutoAugment, RandAugment
from orchestrator.data.policy_ops import OPS, apply_ops

SIZE = (32, 32)
SPACE = TorchRandAugment()._augmentation_space(31, SIZE)


def images(n: int = 6, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    batch = torch.randint(0, 256, (n, 3, *SIZE), generator=generator, dtype=torch.uint8)
    batch[1] = 7  # one value: equalize and autocontrast leave it
    batch[2] = torch.randint(0, 2, (3, *SIZE), generator=generator, dtype=torch.uint8) * 200  # two values
    return batch


def per_image(batch: torch.Tensor, names: list[str], op: torch.Tensor, magnitude: torch.Tensor,
              interpolation: str = "nearest") -> torch.Tensor:
    """torchvision's ``_apply_op``, one image at a time: the reference."""
    mode = InterpolationMode(interpolation)
    return torch.stack([batch[k] if op[k] < 0 else tv_autoaugment._apply_op(
        batch[k:k + 1], names[op[k]], float(magnitude[k]), interpolation=mode, fill=None)[0]
        for k in range(len(batch))])


CASES = [(name, (float(m[b]) if m.ndim else 0.0) * sign) for name, (m, signed) in SPACE.items()
         for b in (9, 30) for sign in ((1, -1) if signed else (1,)) if m.ndim or b == 9]


GEOMETRIC = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")


@pytest.mark.parametrize(("name", "magnitude", "interpolation"), [
    *((name, m, "nearest") for name, m in CASES), ("Invert", 0.0, "nearest"),
    *((name, float(SPACE[name][0][9]), "bilinear") for name in GEOMETRIC)])
def test_every_image_given_op_x_at_m_equals_op_x_per_image(name: str, magnitude: float, interpolation: str) -> None:
    batch = images()
    ours = OPS[name](batch, torch.full((len(batch),), magnitude, dtype=torch.float64), interpolation)
    assert torch.equal(ours, per_image(batch, [name], torch.zeros(len(batch), dtype=torch.long),
                                       torch.full((len(batch),), magnitude), interpolation))


def test_mixed_ops_and_per_image_magnitudes_equal_per_image_application() -> None:
    batch, names = images(40), list(SPACE) + ["Invert"]
    generator = torch.Generator().manual_seed(1)
    op = torch.randint(-1, len(names), (40,), generator=generator)
    magnitude = torch.rand(40, generator=generator, dtype=torch.float64) * 0.6 - 0.3  # any value, per image
    magnitude = torch.where(torch.isin(op, torch.tensor([3, 4, 5])), magnitude * 40, magnitude)  # px, degrees
    magnitude = torch.where(op == names.index("Posterize"), torch.randint(1, 9, (40,), generator=generator).double(), magnitude)
    magnitude = torch.where(op == names.index("Solarize"), magnitude.abs() * 800, magnitude)
    assert torch.equal(apply_ops(batch, op, magnitude, names, "nearest"), per_image(batch, names, op, magnitude))


def test_one_channel_images_get_what_torchvision_gives_them() -> None:
    """A grey dataset (``in_chans: 1``): torchvision's saturation leaves it, its contrast blends
    with the image's own mean; every op is drawn by some image."""
    batch, names = images(30)[:, :1].contiguous(), list(SPACE) + ["Invert"]
    op = torch.arange(30) % len(names)
    magnitude = torch.tensor([float(SPACE[name][0][9]) if name in SPACE and SPACE[name][0].ndim else 0.0
                              for name in names], dtype=torch.float64)[op]
    assert torch.equal(apply_ops(batch, op, magnitude, names, "nearest"), per_image(batch, names, op, magnitude))


@pytest.mark.parametrize("policy", [RandAugment(), RandAugment(num_ops=3, magnitude=15, interpolation="bilinear"),
                                    AutoAugment("cifar10"), AutoAugment("imagenet")])
def test_fixed_seed_batch_equals_its_draws_applied_per_image(policy) -> None:
    batch = images(24, seed=3)
    plan = policy.draw(len(batch), SIZE, torch.Generator().manual_seed(5), batch.device)
    names = policy.names(SIZE) if isinstance(policy, RandAugment) else policy.op_names
    expected = batch
    for op, magnitude in plan:
        expected = per_image(expected, names, op, magnitude, policy.policy.interpolation.value)
    assert torch.equal(policy.apply(batch, plan), expected)
    floats = batch.float() / 255  # what the loader hands over, through __call__ with the same seed
    assert torch.equal(policy(floats, torch.Generator().manual_seed(5)), expected.float() / 255)


def test_op_frequencies_match_torchvision_per_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's RandAugment image by image (its ops recorded) against our draws: the same
    distribution over (op, sign), uniform over the ops, each op at torchvision's magnitude."""
    names, n = list(SPACE), 2400
    seen: list[tuple[str, bool]] = []
    strengths: set[tuple[str, float]] = set()

    def record(img, op_name, magnitude, interpolation, fill):  # the draw is what is compared
        seen.append((op_name, magnitude < 0))
        strengths.add((op_name, abs(magnitude)))
        return img

    monkeypatch.setattr(tv_autoaugment, "_apply_op", record)
    torch.manual_seed(0)
    reference, tiny = TorchRandAugment(), torch.zeros(3, 4, 4, dtype=torch.uint8)
    for _ in range(n // 2):
        reference(tiny)
    plan = RandAugment().draw(n // 2, (4, 4), torch.Generator().manual_seed(0), torch.device("cpu"))
    op = torch.cat([slot[0] for slot in plan])
    negative = torch.cat([slot[1] < 0 for slot in plan])
    keys = [f"{name}{'-' if neg else ''}" for name in names for neg in (False, True)]
    theirs = torch.tensor([seen.count((k.rstrip("-"), k.endswith("-"))) for k in keys])
    ours = torch.tensor([int(((op == names.index(k.rstrip("-"))) & (negative == k.endswith("-"))).sum()) for k in keys])
    table = torch.stack([theirs, ours])[:, (theirs + ours) > 0]
    assert chi2_contingency(table.numpy()).pvalue > 1e-3
    assert chisquare(torch.bincount(op, minlength=len(names)).numpy()).pvalue > 1e-3
    magnitude = torch.cat([slot[1] for slot in plan]).abs()
    assert {(names[int(k)], float(m)) for k, m in zip(op, magnitude)} == strengths


def test_autoaugment_applies_what_torchvision_applies_per_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's AutoAugment image by image against one batch of our draws: the same
    distribution over the (op, signed magnitude) applied, each sub-policy's steps at their
    probabilities."""
    n, seen = 3000, []

    def record(img, op_name, magnitude, interpolation, fill):
        seen.append((op_name, round(magnitude, 4)))
        return img

    monkeypatch.setattr(tv_autoaugment, "_apply_op", record)
    torch.manual_seed(0)
    policy, tiny = AutoAugment("cifar10"), torch.zeros(3, 4, 4, dtype=torch.uint8)
    for _ in range(n):
        policy.policy(tiny)
    plan = policy.draw(n, (4, 4), torch.Generator().manual_seed(0), torch.device("cpu"))
    ours = [(policy.op_names[int(k)], round(float(m), 4)) for op, magnitude in plan
            for k, m in zip(op, magnitude) if k >= 0]
    keys = sorted(set(seen) | set(ours))
    table = torch.tensor([[seen.count(key) for key in keys], [ours.count(key) for key in keys]])
    assert abs(len(ours) - len(seen)) < 0.05 * n  # as many ops applied
    assert chi2_contingency(table.numpy()).pvalue > 1e-3


def test_images_of_one_batch_draw_their_own_ops() -> None:
    """One seed stream, one batch: images get different ops (not one op for the whole batch, as
    kornia's and torchvision's batched transforms do), and the pairs differ across seeds."""
    same = 0
    for seed in range(50):
        plan = RandAugment().draw(64, SIZE, torch.Generator().manual_seed(seed), torch.device("cpu"))
        first = plan[0][0]
        assert len(torch.unique(first)) >= 8
        signs = torch.sign(plan[0][1])
        assert {-1.0, 1.0} <= set(signs.tolist())  # each image its own sign too
        same += int(all(bool(op[0] == op[1]) for op, _ in plan))
    assert same <= 5  # both slots equal for two given images: 1/196 by chance
    plan = RandAugment().draw(64, SIZE, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert any(bool(op[0] != op[1]) for op, _ in plan)


@pytest.mark.gpu
@pytest.mark.parametrize("policy", [RandAugment(), AutoAugment("cifar10")])
def test_cuda_applies_the_same_ops_as_cpu(policy) -> None:
    batch = images(64, seed=4)
    plan = policy.draw(len(batch), SIZE, torch.Generator().manual_seed(2), batch.device)
    on_cuda = policy.apply(batch.cuda(), [(op.cuda(), m.cuda()) for op, m in plan]).cpu()
    assert (on_cuda != policy.apply(batch, plan)).float().mean() < 1e-3  # float kernels may round apart


def test_colorjitter_batch_equals_each_image_in_its_own_order() -> None:
    """ColorJitter grouped by adjustment per slot: each image still gets its four factors in its
    own random order, as torchvision's per-image ColorJitter does."""
    from orchestrator.data.augment import uniform
    from orchestrator.data.color import ADJUSTMENTS, ColorJitter

    jitter, batch = ColorJitter(0.4, 0.4, 0.4, 0.1), images(24).float() / 255
    generator = torch.Generator().manual_seed(7)
    names = list(jitter.ranges)
    factors = [uniform(24, *jitter.ranges[name], generator, batch.device) for name in names]
    order = torch.rand(24, len(names), generator=generator).argsort(dim=1)
    assert len({tuple(row) for row in order.tolist()}) > 5  # orders differ between images
    expected = []
    for k in range(24):
        image = batch[k:k + 1]
        for op in order[k].tolist():
            image = ADJUSTMENTS[names[op]](image, factors[op][k:k + 1])
        expected.append(image)
    torch.testing.assert_close(jitter(batch, torch.Generator().manual_seed(7)), torch.cat(expected), rtol=0, atol=1e-6)
