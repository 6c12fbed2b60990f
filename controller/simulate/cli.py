"""``edgecloud simulate``: compare autoscaling policies on an arrival trace."""

from __future__ import annotations

import time

import click
import numpy as np
from pydantic import ValidationError

from edgecloud.config import AutoscalerSettings, WorkerSettings
from edgecloud.context import Context, pass_context

from . import build
from . import simulate as run_policy
from .billing import DEFAULT_HOURLY_PRICE
from .lambda_ import LambdaModel, measure_cold_start, simulate_lambda
from .policies import BUILT_INS, COMPARED_BY_DEFAULT, VARIANTS
from .report import print_table, summarise, to_json, write_json
from .traces import NAMED, SpecError, load_trace, sample

BOOT_DRAWS = 65536  # the k-th launch of every policy boots in the same draw


def _override(model, **changes):
    changes = {k: v for k, v in changes.items() if v is not None}
    try:
        return type(model).model_validate({**model.model_dump(), **changes})
    except ValidationError as err:
        raise click.BadParameter("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in err.errors())) from None


@click.command("simulate")
@click.option(
    "--trace",
    "trace_spec",
    required=True,
    help="CSV of submit times, or seed (the seed project's 9 clips), burst:N, poisson:RATE:DURATION, "
    "diurnal:PEAK:HOURS.",
)
@click.option(
    "--boot",
    default=None,
    help="Boot time, s: 60, normal:MEAN:SD, uniform:A:B, lognormal:MEAN:SIGMA, "
    "exp:MEAN [autoscaler.boot_time_s]; its mean becomes the policy's first guess.",
)
@click.option("--process", default=None, help="Processing time per clip, s (same forms) [autoscaler.process_time_s].")
@click.option(
    "--policies",
    default=",".join(COMPARED_BY_DEFAULT),
    show_default=True,
    help=f"Comma-separated: {', '.join([*BUILT_INS, *VARIANTS])}, lambda (seed-classifycloud:QOS:FACTOR, "
    "aws-target-tracking:BACKLOG_PER_INSTANCE, keda:POLLING_S:COOLDOWN_S).",
)
@click.option(
    "--warm-boot",
    type=click.FloatRange(min=0),
    default=None,
    help="Boot time, s, of an instance from a warm pool (stopped instances, WarmPoolSize): each policy "
    "runs again as 'NAME+warm' with every launch booting that fast, beside its cold run.",
)
@click.option(
    "--price",
    type=click.FloatRange(min=0),
    default=DEFAULT_HOURLY_PRICE,
    show_default=True,
    help="USD per instance-hour (c6i.large on-demand).",
)
@click.option(
    "--cold-start",
    type=click.FloatRange(min=0),
    default=None,
    help="lambda: seconds of a cold start [measured here: the handler's import and model load].",
)
@click.option(
    "--memory", type=click.IntRange(128, 10240), default=None, help="lambda: function memory, MB [function.memory_mb]."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (traces, draws, dispatch).")
@click.option("--interval", type=float, default=None, help="Seconds between scaling decisions [autoscaler.interval].")
@click.option("--min-workers", type=int, default=None, help="[autoscaler.min_workers]")
@click.option("--max-workers", type=int, default=None, help="[autoscaler.max_workers]")
@click.option("--target-latency", type=float, default=None, help="[autoscaler.target_latency_s]")
@click.option("--idle-timeout", type=float, default=None, help="Worker idle retirement, s [worker.idle_timeout].")
@click.option(
    "--tail",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    help="Seconds simulated after the last clip finishes (workers still up are billed).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the results as JSON here.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Draw queue depth, workers and latency over time to this PNG.",
)
@pass_context
def simulate(
    obj: Context,
    trace_spec,
    boot,
    process,
    policies,
    warm_boot,
    price,
    cold_start,
    memory,
    seed,
    interval,
    min_workers,
    max_workers,
    target_latency,
    idle_timeout,
    tail,
    json_path,
    plot_path,
):
    """Run each policy (the real one is `default`) on the same trace, boot and
    processing times; print latency, instance-seconds, cost and launches."""
    started = time.perf_counter()
    settings = obj.settings
    scaler: AutoscalerSettings = _override(
        settings.autoscaler,
        interval=interval,
        min_workers=min_workers,
        max_workers=max_workers,
        target_latency_s=target_latency,
    )
    worker: WorkerSettings = _override(settings.worker, idle_timeout=idle_timeout)
    if scaler.max_workers < 1:
        raise click.BadParameter("max_workers must be >= 1 to simulate anything", param_hint="--max-workers")
    measured_with = NAMED.get(trace_spec, (None, {}))[1]  # a named trace's own times, unless given
    boot = boot or measured_with.get("boot") or f"{scaler.boot_time_s:g}"
    process = process or measured_with.get("process") or f"{scaler.process_time_s:g}"
    try:
        arrivals = load_trace(trace_spec, np.random.default_rng(seed))
        process_s = np.maximum(sample(process, arrivals.size, np.random.default_rng(seed + 1)), 1e-3)
        boot_s = sample(boot, BOOT_DRAWS, np.random.default_rng(seed + 2))
    except SpecError as err:
        raise click.BadParameter(str(err)) from None
    if not arrivals.size:
        raise click.BadParameter(f"{trace_spec!r} has no clips", param_hint="--trace")
    # The policy starts from the means, as an operator would configure them.
    scaler = _override(scaler, boot_time_s=float(boot_s.mean()), process_time_s=float(process_s.mean()))
    specs = [spec.strip() for spec in policies.split(",") if spec.strip()]
    if not specs:
        raise click.BadParameter("name at least one policy", param_hint="--policies")
    runs = [(scaler, boot_s, "")]
    if warm_boot is not None:  # the same launches, booting from a warm pool; the policies know it
        runs.append((_override(scaler, boot_time_s=warm_boot), np.full(1, warm_boot), "+warm"))
    chosen, outcomes = [], []
    for spec in specs:
        if spec == "lambda":
            continue
        for run_scaler, run_boot_s, suffix in runs:
            try:
                policy = build(spec, run_scaler, worker)
            except ValueError as err:
                raise click.BadParameter(str(err), param_hint="--policies") from None
            policy.name += suffix
            chosen.append(policy)
            outcomes.append(run_policy(policy, arrivals, process_s, run_boot_s, run_scaler, seed=seed + 3, tail_s=tail))
    notes = [f"{p.name}: {p.notes}" for p in chosen if not p.name.endswith("+warm")]
    if "lambda" in specs:
        model, note = lambda_model(settings, scaler, cold_start, memory)
        outcomes.append(simulate_lambda(model, arrivals, process_s))
        notes.append(note)
    summaries = {o.policy: summarise(o, price) for o in outcomes}
    wall_s = time.perf_counter() - started
    warm = f" (warm pool {warm_boot:g} s)" if warm_boot is not None else ""
    title = (
        f"{trace_spec}: {arrivals.size:,} clips, boot {boot} s{warm}, process {process} s, "
        f"max {scaler.max_workers} workers, ${price:g}/h"
    )
    print_table(summaries, title, notes=notes + [f"simulated in {wall_s:.2f} s"])
    if json_path:
        write_json(
            json_path,
            to_json(
                summaries,
                int(arrivals.size),
                wall_s,
                trace=trace_spec,
                boot=boot,
                process=process,
                price_per_hour=price,
                seed=seed,
                warm_boot=warm_boot,
            ),
        )
    if plot_path:
        from .plot import plot

        click.echo(f"chart: {plot(outcomes, plot_path, title)}")


def lambda_model(settings, scaler: AutoscalerSettings, cold_start, memory) -> tuple[LambdaModel, str]:
    """The lambda policy's function and the note under the table saying where its numbers come from."""
    how = "given"
    if cold_start is None:
        cold_start, how = measure_cold_start(settings.detector.name), "measured: handler import + model load"
    model = LambdaModel(
        cold_start_s=cold_start, memory_mb=memory or settings.function.memory_mb, max_concurrency=scaler.max_workers
    )
    return model, (
        f"lambda: {model.memory_mb} MB, cold start {cold_start:.2f} s ({how}), concurrency "
        f"5 + 300/min up to {model.max_concurrency}; instance-s = billed function seconds, "
        f"launches = cold starts"
    )
