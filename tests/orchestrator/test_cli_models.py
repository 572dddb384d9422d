"""`orchestrate models` profiles each model at its own input size unless told otherwise."""

from __future__ import annotations

from click.testing import CliRunner

from orchestrator.cli import main


def rows(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in output.splitlines()[1:] if line.strip()}


def test_each_model_at_its_own_input_size() -> None:
    result = CliRunner().invoke(main, ["models", "resnet_tin"])
    assert result.exit_code == 0, result.output
    assert rows(result.output)["resnet_tin"][-1] == "64"
    result = CliRunner().invoke(main, ["models", "resnet20", "--num-classes", "10"])
    params, _, size = rows(result.output)["resnet20"]
    assert (params, size) == ("0.270", "32")


def test_input_size_option_overrides() -> None:
    result = CliRunner().invoke(main, ["models", "resnet_tin", "--input-size", "32"])
    assert rows(result.output)["resnet_tin"][-1] == "32"


def test_a_pattern_matches_substrings_case_insensitively() -> None:
    result = CliRunner().invoke(main, ["models", "ECA_RESNET2"])
    assert result.exit_code == 0, result.output
    assert {"eca_resnet20"} <= set(rows(result.output)) and "resnet20" not in rows(result.output)


def test_a_glob_still_matches_whole_names() -> None:
    result = CliRunner().invoke(main, ["models", "eca_resnet2?"])
    assert set(rows(result.output)) == {"eca_resnet20"}


def test_no_match_is_said_not_an_empty_table() -> None:
    result = CliRunner().invoke(main, ["models", "no-such-thing"])
    assert result.exit_code == 0
    assert result.output.startswith("no registered model name contains 'no-such-thing'")


def test_a_model_that_cannot_run_at_the_size_says_so_and_the_others_are_still_listed() -> None:
    """Mixer-B/16 takes 224 px only: its forward raised, and the command ended in a traceback."""
    result = CliRunner().invoke(main, ["models", "mlp_mixer", "--input-size", "32"])
    assert result.exit_code == 0, result.output
    listed = rows(result.output)
    assert listed["mlp_mixer_b16"][:3] == ["59.188", "-", "32"]
    assert " ".join(listed["mlp_mixer_b16"][3:]).startswith("cannot run at 32 px: Input height (32) doesn't match")
    assert listed["mlp_mixer_tiny"][-1] == "32"


def test_counts_outside_their_range_are_one_line_and_exit_2() -> None:
    """A negative class count ended in torch's traceback, exit 1."""
    for option, value in (("--num-classes", "-3"), ("--input-size", "4"), ("--input-size", "4096")):
        result = CliRunner().invoke(main, ["models", "resnet20", option, value])
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: Invalid value for '{option}'") and result.output.count("\n") == 1
