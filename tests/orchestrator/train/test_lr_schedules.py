"""Each LR schedule's curve against its textbook definition, stepped as the trainer steps it."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from orchestrator.train.recipe import LrScheduleSpec
from orchestrator.train.lr_schedules import LR_SCHEDULES, build_schedule

BASE = 0.1
EPOCHS, STEPS = 12, 5  # steps per epoch, for the per-batch schedules


def optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE, momentum=0.9)


def curve(name: str, count: int, **options) -> list[float]:
    """The LR in force for each of ``count`` scheduler steps."""
    opt = optimizer()
    schedule = build_schedule(name, opt, epochs=EPOCHS, steps_per_epoch=STEPS, **options)
    lrs = []
    for _ in range(count):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # as in training (the parameter has no gradient, so nothing moves)
        schedule.step_batch() if schedule.interval == "step" else schedule.step_epoch({})
    return lrs


def onecycle(t: int, total: int, peak: float, div: float = 25.0, final_div: float = 1e4, pct: float = 0.3) -> float:
    """Smith & Topin's one-cycle with cosine annealing, as PyTorch defines its phase boundaries."""
    start, end, rise = peak / div, peak / div / final_div, pct * total - 1
    if t <= rise:
        return peak + (start - peak) / 2 * (math.cos(math.pi * t / rise) + 1)
    return end + (peak - end) / 2 * (math.cos(math.pi * (t - rise) / (total - 1 - rise)) + 1)


def triangular2(t: int, low: float, high: float, half: int) -> float:
    """Smith 2017: a triangle between ``low`` and ``high`` whose amplitude halves every cycle."""
    cycle = math.floor(1 + t / (2 * half))
    x = abs(t / half - 2 * cycle + 1)
    return low + (high - low) * max(0.0, 1 - x) / 2 ** (cycle - 1)


EXPECTED = {
    "cosine": (dict(min_lr=0.001), EPOCHS,
               lambda t: 0.001 + (BASE - 0.001) * (1 + math.cos(math.pi * t / EPOCHS)) / 2),
    "step": (dict(step_size=5, gamma=0.5), EPOCHS, lambda t: BASE * 0.5 ** (t // 5)),
    "multistep": (dict(), EPOCHS, lambda t: BASE * 0.1 ** ((t >= EPOCHS // 2) + (t >= EPOCHS * 3 // 4))),
    "exponential": (dict(gamma=0.9), EPOCHS, lambda t: BASE * 0.9 ** t),
    "constant": (dict(), EPOCHS, lambda t: BASE),
    "onecycle": (dict(max_lr=0.01), EPOCHS * STEPS, lambda t: onecycle(t, EPOCHS * STEPS, 0.01)),
    "cyclic": (dict(max_lr=0.5, step_size_up_epochs=2, mode="triangular2"), EPOCHS * STEPS,
               lambda t: triangular2(t, BASE, 0.5, 2 * STEPS)),
}


def test_every_scheduler_has_a_definition_here() -> None:
    assert set(EXPECTED) | {"plateau"} == set(LR_SCHEDULES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_learning_rate_curve_follows_the_definition(name: str) -> None:
    options, count, definition = EXPECTED[name]
    assert curve(name, count, **options) == pytest.approx([definition(t) for t in range(count)], rel=1e-6)


def test_one_cycle_starts_near_zero_peaks_at_max_and_ends_near_zero() -> None:
    lrs = curve("onecycle", EPOCHS * STEPS, max_lr=0.01)
    assert lrs[0] == pytest.approx(0.0004) and max(lrs) == pytest.approx(0.01)
    assert lrs.index(max(lrs)) == round(0.3 * EPOCHS * STEPS) - 1 and lrs[-1] < 1e-6


def test_per_batch_schedules_count_batches_and_per_epoch_ones_epochs() -> None:
    assert build_schedule("onecycle", optimizer(), epochs=2, steps_per_epoch=3).interval == "step"
    assert build_schedule("cosine", optimizer(), epochs=2, steps_per_epoch=3).interval == "epoch"
    stepped = curve("cosine", EPOCHS * STEPS, interval="step")
    assert stepped == pytest.approx([BASE * (1 + math.cos(math.pi * t / (EPOCHS * STEPS))) / 2
                                     for t in range(EPOCHS * STEPS)])


def test_warmup_ramps_linearly_then_hands_over_in_batches_when_stepped_per_batch() -> None:
    lrs = curve("cosine", 4 * STEPS, warmup_epochs=2, interval="step")
    warm = 2 * STEPS
    assert lrs[:warm] == pytest.approx([BASE * (0.01 + 0.99 * t / warm) for t in range(warm)])
    main = EPOCHS * STEPS - warm
    assert lrs[warm:] == pytest.approx([BASE * (1 + math.cos(math.pi * t / main)) / 2 for t in range(2 * STEPS)])


def test_plateau_divides_the_rate_once_the_metric_stops_improving() -> None:
    opt = optimizer()
    schedule = build_schedule("plateau", opt, epochs=10, steps_per_epoch=4, metric="val/top1", patience=2)
    lrs = []
    for accuracy in (10, 20, 20, 20, 20, 30, 30, 30, 30):
        opt.step()
        schedule.step_batch()  # per-batch calls leave a per-epoch schedule alone
        schedule.step_epoch({"val/top1": accuracy})
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001])


def test_plateau_on_a_loss_minimises_it() -> None:
    opt = optimizer()
    schedule = build_schedule("plateau", opt, epochs=5, steps_per_epoch=1, metric="val/loss", patience=0)
    schedule.step_epoch({"val/loss": 1.0})
    schedule.step_epoch({"val/loss": 0.5})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    schedule.step_epoch({"val/loss": 0.9})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


@pytest.mark.parametrize("spec, message", [
    ({"name": "cosinus"}, "unknown scheduler 'cosinus'; did you mean cosine"),
    ({"name": "onecycle", "warmup_epochs": 2}, "does not take a separate warm-up"),
    ({"name": "plateau", "interval": "step"}, "steps per epoch"),
    ({"name": "plateau", "metric": "val/acc"}, "unknown metric 'val/acc'"),
    ({"name": "step", "step": 3}, "has no option 'step'"),
])
def test_bad_scheduler_specs_are_refused(spec: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LrScheduleSpec(**spec)


def stepped(schedule, opt, count: int) -> list[float]:
    lrs = []
    for _ in range(count):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step_batch() if schedule.interval == "step" else schedule.step_epoch({})
    return lrs


RESCALED = {  # options given in LRs scale with the base, as a recipe written at that base would set them
    "cosine": ({}, {}), "step": (dict(step_size=3, gamma=0.5),) * 2, "multistep": ({}, {}),
    "exponential": (dict(gamma=0.9),) * 2, "constant": ({}, {}),
    "onecycle": (dict(max_lr=0.01), dict(max_lr=0.02)),
    "cyclic": (dict(max_lr=0.5, step_size_up_epochs=2), dict(max_lr=1.0, step_size_up_epochs=2)),
    "cosine+warmup": (dict(warmup_epochs=4), dict(warmup_epochs=4)),
}


@pytest.mark.parametrize("name", sorted(RESCALED))
@pytest.mark.parametrize("switch", [2, 7])
def test_rescaling_mid_run_continues_the_curve_of_the_new_base(name: str, switch: int) -> None:
    """PBT's explore step: after ``scale_learning_rate`` the schedule goes on exactly as if the
    recipe had started at the new base, at the same position."""
    from orchestrator.train.lr_schedules import scale_learning_rate

    scheduler = name.split("+")[0]
    options, doubled_options = RESCALED[name]
    moved_opt = optimizer()
    moved = build_schedule(scheduler, moved_opt, epochs=EPOCHS, steps_per_epoch=STEPS, **options)
    per_epoch = STEPS if moved.interval == "step" else 1
    count, rest = switch * per_epoch, (EPOCHS - switch) * per_epoch
    stepped(moved, moved_opt, count)
    scale_learning_rate(moved_opt, moved.scheduler, 2.0)

    doubled_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2 * BASE, momentum=0.9)
    doubled = build_schedule(scheduler, doubled_opt, epochs=EPOCHS, steps_per_epoch=STEPS, **doubled_options)
    stepped(doubled, doubled_opt, count)
    assert stepped(moved, moved_opt, rest) == pytest.approx(stepped(doubled, doubled_opt, rest), rel=1e-9)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_with_a_cut_past_the_run_is_torchs_cyclic(mode: str) -> None:
    """The cut/restart curve (a LambdaLR) is the same triangle as torch's CyclicLR until changed."""
    options = dict(max_lr=0.5, step_size_up_epochs=2, mode=mode, gamma=0.99)
    assert curve("cyclic", EPOCHS * STEPS, cut_epochs=[EPOCHS + 1], **options) == pytest.approx(
        curve("cyclic", EPOCHS * STEPS, **options), rel=1e-9)


def test_cyclic_cut_multiplies_both_bounds_from_its_epoch() -> None:
    """Seed 004's DenseNet, first reading: the LR x0.1 from epoch 6 (of 12), the triangle going on."""
    lrs = curve("cyclic", EPOCHS * STEPS, max_lr=0.5, step_size_up_epochs=2, cut_epochs=[6], cut_factor=0.1)
    cut = 6 * STEPS
    expected = [triangular2(t, BASE, 0.5, 2 * STEPS) * (0.1 if t >= cut else 1.0) for t in range(EPOCHS * STEPS)]
    assert lrs == pytest.approx(expected, rel=1e-9)


def test_cyclic_restart_starts_the_cycle_over_at_full_amplitude() -> None:
    """Seed 004's DenseNet, second reading: a second run of the schedule from epoch 6 on."""
    lrs = curve("cyclic", EPOCHS * STEPS, max_lr=0.5, step_size_up_epochs=2, restart_epochs=[6])
    start = 6 * STEPS
    expected = [triangular2(t if t < start else t - start, BASE, 0.5, 2 * STEPS) for t in range(EPOCHS * STEPS)]
    assert lrs == pytest.approx(expected, rel=1e-9)
    assert max(lrs[start:]) == pytest.approx(0.5)  # triangular2 had halved it to 0.125 by then


def test_cyclic_with_a_cut_resumes_from_its_state_where_it_stopped() -> None:
    """A trial killed mid-run reloads the schedule's state: the curve goes on as if never stopped."""
    options = dict(epochs=EPOCHS, steps_per_epoch=STEPS, max_lr=0.5, step_size_up_epochs=2, cut_epochs=[6],
                   restart_epochs=[9])
    whole = curve("cyclic", EPOCHS * STEPS, **{k: v for k, v in options.items() if k not in ("epochs", "steps_per_epoch")})
    first_opt = optimizer()
    first = build_schedule("cyclic", first_opt, **options)
    for _ in range(7 * STEPS):
        first_opt.step()
        first.step_batch()
    state = (first_opt.state_dict(), first.scheduler.state_dict())
    resumed_opt = optimizer()
    resumed = build_schedule("cyclic", resumed_opt, **options)
    resumed_opt.load_state_dict(state[0])
    resumed.scheduler.load_state_dict(state[1])
    rest = []
    for _ in range(7 * STEPS, EPOCHS * STEPS):
        rest.append(resumed_opt.param_groups[0]["lr"])
        resumed_opt.step()
        resumed.step_batch()
    assert rest == pytest.approx(whole[7 * STEPS:], rel=1e-9)
