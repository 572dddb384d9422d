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
