"""The ``orchestrate`` command: parse, call, print. Errors are one line and an exit code."""

from __future__ import annotations

import os
import sys
from typing import Optional

from . import quick_exit  # first: its exit handler must run after those the imports below register

import click

from .commands import DEBUG_ENV, OneLineUsage, friendly_errors, in_existing_folder, quiet_libraries
from .commands.bench import bench
from .commands.data import data
from .commands.models import models
from .commands.weights import weights

@click.group("orchestrate", cls=OneLineUsage, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks, and MLflow's and Ray's own log lines.")
@click.version_option(package_name="orchestrate", prog_name="orchestrate")
def main(debug: bool) -> None:
    """Sweeps of image-classification studies: Ray Tune + Optuna + MLflow."""
    if debug:
        os.environ[DEBUG_ENV] = "1"
    else:
        quiet_libraries()


@main.command()
@click.argument("spec_path", metavar="SPEC")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--dry-run", is_flag=True, help="Print the expanded trials and exit.")
@click.option("--measure", is_flag=True,
              help="With --dry-run on a GPU: measure trials per GPU (as gpus_per_trial: auto) and project wall time.")
@click.option("--resume", is_flag=True, help="Continue an interrupted sweep of the same spec.")
@click.option("--add-to-study", is_flag=True,
              help="Add runs to a study whose recorded base configuration differs (labelled apart).")
@click.option("--address", default=None, help="Ray cluster address (default: $RAY_ADDRESS, else local).")
@friendly_errors
def sweep(spec_path: str, overrides: tuple[str, ...], dry_run: bool, measure: bool, resume: bool,
          add_to_study: bool, address: Optional[str]) -> None:
    """Validate, expand and run the study in SPEC (a path, or one under search_spaces/)."""
    from .designs import get_design
    from .dry_run import spec_warnings, summary
    from .recipe_lines import recipe_section
    from .spec.reported import check_rows
    from .errors import SpecError
    from .study import load_spec

    if measure and not dry_run:
        raise SpecError("--measure goes with --dry-run: it measures and projects, it runs nothing")
    if measure:
        from .commands.measure import check_cuda

        check_cuda()
    spec = load_spec(spec_path, list(overrides))
    design = get_design(spec.search.kind)
    plans = design.expand(spec)
    check_rows(spec.reported, [plan.label for plan in plans] if plans is not None else None)
    import torch

    from .spec.fused import fused_size, unmeasured

    here = unmeasured(spec, cuda=torch.cuda.is_available(), cluster=bool(address or os.environ.get("RAY_ADDRESS")))
    _, fused_line = fused_size(spec, plans, unmeasured=here)  # refuses a K > 1 that cannot hold
    for warning in spec_warnings(spec):
        click.echo(f"warning: {warning}", err=True)
    if dry_run:
        click.echo("\n".join(design.describe(spec, plans)))
        click.echo("\n".join(recipe_section(plans, spec.trial_config())))  # every row's whole recipe
        if spec.search.scheduler is not None:
            click.echo(spec.search.scheduler.describe())
        click.echo("\n".join(summary(spec, plans)))
        if fused_line:
            click.echo(fused_line)
        if measure:
            from .commands.measure import measure_lines

            click.echo("\n".join(measure_lines(spec, plans)))
        return
    from .retry import patience_from_env
    from .run import checkpoint_retry
    from .tracking import retry as tracking_retry
    from .weights import check_weights

    check_weights(spec, plans, spec_path=spec_path)  # a pretrained row's weights, before Ray or the store
    for limit in (tracking_retry, checkpoint_retry):  # read once the sweep runs: a bad value refused first
        patience_from_env(limit.PATIENCE_ENV, limit.DEFAULT_PATIENCE)
    count = f"{len(plans)} trials" if plans is not None else f"a search of up to {design.trial_count(spec, plans)} trials"
    click.echo(f"study {spec.name}: {count}; checking the store and data, then starting Ray (takes seconds)")
    from .retry import GaveUp
    from .run.cluster import sigterm_as_ctrl_c
    from .run.sweep import run_sweep

    resume_hint = f"orchestrate sweep {spec_path} {' '.join(overrides)} --resume".replace("  ", " ")
    sigterm_as_ctrl_c()  # also before Ray: what the sweep starts first (an MPS daemon, a measurement's workers) unwinds
    try:
        outcome = run_sweep(spec, address=address, echo=click.echo, resume=resume, add_to_study=add_to_study,
                            plans=plans, choose_share=_choose_share, choose_fused=_choose_fused)
    except GaveUp as exc:  # the tracking store stayed away past its limit (ORCHESTRATE_TRACKING_PATIENCE)
        raise type(exc)(f"{exc}; the sweep stopped, its logged epochs are kept; "
                        f"once it is back, continue with: {resume_hint}") from None
    except KeyboardInterrupt:
        click.echo(f"interrupted: running trials stopped and their runs marked KILLED; "
                   f"continue with: {resume_hint}", err=True)
        sys.exit(130)
    tally = outcome.tally
    if outcome.stopped or outcome.interrupted:
        click.echo(f"interrupted: {outcome.interrupted} runs marked KILLED; continue with: {resume_hint}")
        sys.exit(130)
    unstarted = f", {tally.unstarted} not started (time budget)" if tally.unstarted else ""
    click.echo(
        f"study {outcome.study}: {tally.finished} finished, {tally.pruned} pruned, "
        f"{len(tally.failed)} failed{unstarted}, {outcome.skipped} kept from earlier sweeps"
    )
    if outcome.pareto:
        click.echo(f"Pareto front ({' vs '.join(spec.search.metrics)}): {', '.join(outcome.pareto)}")
    for name, reason in tally.failed:
        click.echo(f"  failed {name}: {reason}")
    click.echo(f"leaderboard: orchestrate leaderboard {outcome.study}   ui: orchestrate ui {outcome.study}")
    if tally.failed:
        sys.exit(1)


def _choose_share(configs: list[dict]) -> object:
    """``gpus_per_trial: auto``'s measurement on this machine's first GPU (the bench's packing code)."""
    import torch

    from .bench.auto import auto_share

    return auto_share(configs, device=torch.device("cuda", 0))


def _choose_fused(configs: list[dict]) -> object:
    """``fused_trials: auto``'s measurement on this machine's first GPU (the bench's fused code)."""
    import torch

    from .bench.auto import auto_fused

    return auto_fused(configs, device=torch.device("cuda", 0))


@main.command()
@click.argument("studies", nargs=-1, required=True, metavar="STUDY...")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), callback=in_existing_folder,
              help="Also write the raw table as CSV.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "md", "tex"]), default="text",
              show_default=True, help="What to print: aligned text, raw CSV, Markdown or LaTeX.")
@click.option("--tracking-uri", default=None, help="MLflow store (default: $MLFLOW_TRACKING_URI or ./mlflow.db).")
@friendly_errors
def leaderboard(studies: tuple[str, ...], csv_path: Optional[str], fmt: str, tracking_uri: Optional[str]) -> None:
    """One row per configuration of STUDY (several: one cross-study table), best first."""
    from .report import leaderboard as build
    from .report.formats import display_leaderboard, to_latex, to_markdown
    from .report.leaderboard import load_board_runs
    from .report.reported import caption as reported_caption
    from .report.reported import reported_of

    runs = load_board_runs(studies, uri=tracking_uri)
    click.echo(runs.describe(), err=True)  # stderr, so the table on stdout can be piped
    table = build(studies, uri=tracking_uri, runs=runs)
    if csv_path:
        table.to_csv(csv_path, index=False)
        click.echo(f"wrote {len(table)} configurations to {csv_path}", err=True)
    shown, caption = display_leaderboard(table), table.attrs["basis"].caption
    caption = f"{caption} {reported_caption(reported_of(table))}".strip()  # a report's own numbers, if any
    if fmt == "csv":
        click.echo(table.to_csv(index=False), nl=False)
    elif fmt == "md":
        click.echo(f"{to_markdown(shown)}\n\n{caption}")
    elif fmt == "tex":
        click.echo(to_latex(shown, caption=f"Leaderboard of {', '.join(studies)}. {caption}"), nl=False)
    elif table.empty:
        click.echo(f"{', '.join(studies)}: no trial runs yet")
    else:
        click.echo(f"{shown.to_string(index=False)}\n{caption}")


@main.command()
@click.argument("study")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the files (default: reports/STUDY).")
@click.option("--group-by", "group_by", multiple=True, metavar="KEY",
              help="Summarise configurations by a tag or config option (repeatable), e.g. model.name.")
@click.option("--no-log", is_flag=True, help="Do not attach the report to the study's sweep run.")
@click.option("--min-effect", type=click.FloatRange(min=0, min_open=True), default=None, metavar="POINTS",
              help="Also say how many seeds would detect a difference this large (e.g. 0.5 top-1 points).")
@click.option("--tracking-uri", default=None, help="MLflow store (default: $MLFLOW_TRACKING_URI or ./mlflow.db).")
@friendly_errors
def report(study: str, out_dir: Optional[str], group_by: tuple[str, ...], no_log: bool,
           min_effect: Optional[float], tracking_uri: Optional[str]) -> None:
    """Leaderboard, ablation tables, group summaries and plots of STUDY, logged to its sweep run."""
    from .report.study_report import write_report

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per file read
    result = write_report(study, out_dir or os.path.join("reports", study), uri=tracking_uri,
                          group_by=group_by, log=not no_log, echo=click.echo, min_effect=min_effect)
    click.echo(f"wrote {len(result.files)} files to {result.out}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    if result.logged_to:
        click.echo(f"logged to the sweep run {result.logged_to} under report/")


STARLETTE_WSGI_WARNING = "ignore:starlette.middleware.wsgi is deprecated"


@main.command()
@click.argument("study", required=False)
@click.option("--tracking-uri", default=None, help="MLflow store (default: $MLFLOW_TRACKING_URI or ./mlflow.db).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True)
@friendly_errors
def ui(study: Optional[str], tracking_uri: Optional[str], host: str, port: int) -> None:
    """Open the MLflow UI on the study store; prints the address of STUDY's runs (or of the
    experiment list) in the model-training view."""
    from .tracking.reader import existing_store, ui_path
    from .tracking.store import redact

    uri = existing_store(tracking_uri)  # MLflow's server would create a database at a mistyped path
    click.echo(f"MLflow UI for {redact(uri)} at http://{host}:{port}{ui_path(study, uri=uri)}")
    # Each of the server's workers imports Starlette's deprecated WSGI middleware (MLflow's to
    # change): two warning lines per worker above the server's own. A filter on the message, in
    # the environment the workers inherit, does not import Starlette at every interpreter start.
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), STARLETTE_WSGI_WARNING]))
    os.execvp(sys.executable, [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                               "--host", host, "--port", str(port)])


main.add_command(data)
main.add_command(models)
main.add_command(bench)
main.add_command(weights)


def entry() -> None:
    """The ``orchestrate`` console script: the command, then a quick exit (:mod:`.quick_exit`)."""
    quick_exit.run(main)


if __name__ == "__main__":  # `python -m orchestrator.cli`, as the console script runs it
    entry()
