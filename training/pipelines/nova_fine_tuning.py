"""Follow Bedrock fine-tuning jobs and compare hyperparameters by validation loss.

    python training/pipelines/nova_fine_tuning.py --monitor-job multilingual-product-inference-v1 \\
        --aws-profile ml-sandbox --region us-east-1 [--interval 60] [--timeout SECONDS]

`--monitor-job` polls GetModelCustomizationJob until the job is Completed, Failed or Stopped,
printing a status line whenever the job's stage changes (validation, data processing, training),
then prints the loss curves' final values, read from the files Bedrock writes under the job's
output folder (step_wise_training_metrics.csv, validation_metrics.csv). Exit status: 0 Completed,
1 Failed or Stopped, 3 still running at --timeout, 2 a bad option or an unknown job.

`NovaHyperparameterSearch(training_data_s3=..., aws_profile=..., region=...).run_experiments([...])`
submits one job per experiment (an experiment with a value Nova does not allow is marked rejected,
not fatal), waits for them, reads each job's final validation loss, and returns the best
configuration (lowest validation loss) with every result.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from training.pipelines.bedrock_nova import (JOB_TERMINAL, TRAINING_METRICS, VALIDATION_METRICS, NovaSettingError,
                                             map_hyperparameters, split_s3_uri)

DEFAULT_INTERVAL = 60.0


class JobNotFound(LookupError):
    """No fine-tuning job by that name or ARN."""


def _client(service: str, client, profile, region):
    if client is not None:
        return client
    from inference import aws

    return aws.client(service, profile, region)


def describe_job(bedrock, job: str) -> dict[str, Any]:
    """GetModelCustomizationJob; JobNotFound when Bedrock has no such job."""
    from botocore.exceptions import ClientError

    try:
        description = bedrock.get_model_customization_job(jobIdentifier=job)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ResourceNotFoundException", "ValidationException"):
            raise JobNotFound(f"no fine-tuning job {job!r}: {exc.response['Error'].get('Message', '')}") from None
        raise
    description.pop("ResponseMetadata", None)
    return description


def status_line(description: dict[str, Any], waited: float) -> str:
    """One line: the job's status, each stage's status, and how long it has been watched."""
    details = description.get("statusDetails") or {}
    stages = [(label, (details.get(key) or {}).get("status")) for label, key in
              (("validation", "validationDetails"), ("data processing", "dataProcessingDetails"),
               ("training", "trainingDetails"))]
    shown = " | ".join(f"{label}: {status}" for label, status in stages if status)
    parts = [f"{description.get('jobName')}: {description.get('status')}", shown, f"watched {waited:.0f} s"]
    return " | ".join(p for p in parts if p)


def _stage_key(description: dict[str, Any]) -> tuple:
    details = description.get("statusDetails") or {}
    return (description.get("status"), *((details.get(k) or {}).get("status") for k in
                                          ("validationDetails", "dataProcessingDetails", "trainingDetails")))


def monitor_job(job: str, client=None, s3=None, profile: str | None = None, region: str | None = None,
                interval: float = DEFAULT_INTERVAL, timeout: float | None = None,
                log: Callable[[str], None] = print, status: Callable[[str], None] | None = None,
                sleep: Callable[[float], Any] = time.sleep, clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Poll until the job ends (or `timeout` seconds pass); returns its status, model and metrics.

    `log` gets a line whenever the status or a stage changes; `status` (a live status line) gets
    every poll."""
    bedrock = _client("bedrock", client, profile, region)
    started = clock()
    last = None
    while True:
        description = describe_job(bedrock, job)
        waited = clock() - started
        line = status_line(description, waited)
        if status:
            status(line)
        if _stage_key(description) != last:
            log(line)
            last = _stage_key(description)
        if description.get("status") in JOB_TERMINAL:
            break
        if timeout is not None and waited + interval > timeout:
            return _result(description, waited, None, timed_out=True)
        sleep(interval)
    metrics = read_job_metrics(description, _client("s3", s3, profile, region))
    return _result(description, clock() - started, metrics)


def _result(description: dict[str, Any], waited: float, metrics: dict[str, Any] | None,
            timed_out: bool = False) -> dict[str, Any]:
    status = description.get("status")
    return {"job_name": description.get("jobName"), "job_arn": description.get("jobArn"), "status": status,
            "timed_out": timed_out, "failure_message": description.get("failureMessage") if status == "Failed" else None,
            "output_model_arn": description.get("outputModelArn"), "output_model_name": description.get("outputModelName"),
            "hyperParameters": description.get("hyperParameters"), "watched_seconds": round(waited, 1),
            "metrics": metrics}


# -- the job's loss curves ---------------------------------------------------------------------------

def read_job_metrics(description: dict[str, Any], s3) -> dict[str, Any]:
    """Final training and validation loss from the CSV files under the job's output folder
    (`model-customization-job-<job id>/...`), falling back to the job description's own
    trainingMetrics / validationMetrics when a file is not there."""
    from botocore.exceptions import ClientError

    out: dict[str, Any] = {"training": None, "validation": None, "notes": []}
    output = (description.get("outputDataConfig") or {}).get("s3Uri")
    keys: list[str] = []
    if output:
        bucket, prefix = split_s3_uri(output)
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [o["Key"] for o in page.get("Contents", [])]
        except ClientError as exc:
            out["notes"].append(f"cannot list {output}: {exc.response.get('Error', {}).get('Code', 'error')}")
    job_id = str(description.get("jobArn", "")).rsplit("/", 1)[-1]
    for kind, suffix, column in (("training", TRAINING_METRICS, "training_loss"),
                                 ("validation", VALIDATION_METRICS, "validation_loss")):
        key = _metrics_key(keys, suffix, job_id)
        if key:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8-sig")
            out[kind] = summarize_curve(body, column, f"s3://{bucket}/{key}")
    if out["training"] is None and (description.get("trainingMetrics") or {}).get("trainingLoss") is not None:
        out["training"] = {"final_loss": float(description["trainingMetrics"]["trainingLoss"]), "source": "job description"}
        out["notes"].append(f"no {TRAINING_METRICS.rsplit('/', 1)[-1]} under {output}: training loss from the job description")
    validation = [m.get("validationLoss") for m in description.get("validationMetrics") or [] if "validationLoss" in m]
    if out["validation"] is None and validation:
        out["validation"] = {"final_loss": float(validation[-1]), "source": "job description"}
        out["notes"].append(f"no {VALIDATION_METRICS.rsplit('/', 1)[-1]} under {output}: validation loss from the job description")
    out["final_training_loss"] = (out["training"] or {}).get("final_loss")
    out["final_validation_loss"] = (out["validation"] or {}).get("final_loss")
    return out


def _metrics_key(keys: Sequence[str], suffix: str, job_id: str) -> str | None:
    found = [k for k in keys if k.endswith(suffix)]
    own = [k for k in found if f"model-customization-job-{job_id}/" in k]
    if own:
        return own[0]
    return found[0] if len(found) == 1 else None


def summarize_curve(text: str, column: str, where: str) -> dict[str, Any]:
    """Steps, epochs, final and best loss (and final perplexity) of one metrics CSV."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or column not in rows[0]:
        raise ValueError(f"{where}: expected a CSV with a {column!r} column (step_number, epoch_number, {column}, perplexity)")
    try:
        losses = [float(r[column]) for r in rows]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {column} holds a value that is not a number") from None
    last = rows[-1]
    perplexity = last.get("perplexity")
    return {"file": where, "steps": len(rows), "epochs": max(int(float(r.get("epoch_number") or 0)) for r in rows),
            "final_loss": losses[-1], "best_loss": min(losses),
            "final_perplexity": float(perplexity) if perplexity not in (None, "") else None, "source": "csv"}


# -- hyperparameter search ------------------------------------------------------------------------------

class NovaHyperparameterSearch:
    """One fine-tuning job per experiment, ranked by final validation loss.

    `training_data_s3` is the training JSONL or the folder holding it; validation data is
    `validation_data_s3`, else the one *validation*.jsonl file in that folder. Without validation
    data Bedrock writes no validation loss, and the search ranks by training loss, saying so.
    """

    def __init__(self, training_data_s3: str, aws_profile: str | None = None, region: str | None = None,
                 base_model: str = "amazon.nova-pro-v1:0", validation_data_s3: str | None = None,
                 role_arn: str | None = None, output_s3: str | None = None, job_prefix: str | None = None,
                 poll_seconds: float = DEFAULT_INTERVAL, timeout: float | None = None, run_dir: str | Path | None = ".",
                 client=None, s3=None, log: Callable[[str], None] = print, sleep: Callable[[float], Any] = time.sleep):
        self.training_data_s3 = training_data_s3
        self.aws_profile, self.region = aws_profile, region
        self.base_model, self.validation_data_s3 = base_model, validation_data_s3
        self.role_arn, self.output_s3 = role_arn, output_s3
        self.job_prefix = job_prefix or f"nova-hp-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
        self.poll_seconds, self.timeout, self.run_dir = poll_seconds, timeout, run_dir
        self.client = _client("bedrock", client, aws_profile, region)
        self.s3 = _client("s3", s3, aws_profile, region)
        self.log, self.sleep = log, sleep

    def _validation_data(self) -> str | None:
        if self.validation_data_s3 or not self.training_data_s3.endswith("/"):
            return self.validation_data_s3
        bucket, prefix = split_s3_uri(self.training_data_s3)
        listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        found = [o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".jsonl")
                 and "/" not in o["Key"][len(prefix):] and "validation" in o["Key"].rsplit("/", 1)[-1]]
        return f"s3://{bucket}/{found[0]}" if len(found) == 1 else None

    def run_experiments(self, experiments: Sequence[dict[str, Any]]) -> dict[str, Any]:
        from training.pipelines.train_nova_pipeline import submit_fine_tuning_job

        validation = self._validation_data()
        if validation is None:
            self.log("warning: no validation data: Bedrock reports no validation loss, so the jobs are ranked by "
                     "training loss, which favours overfitting (give validation_data_s3, or put a *validation*.jsonl "
                     "beside the training file)")
        results: list[dict[str, Any]] = []
        for number, config in enumerate(experiments, start=1):
            result: dict[str, Any] = {"experiment": number, "config": dict(config)}
            results.append(result)
            try:
                map_hyperparameters(config)
            except NovaSettingError as exc:
                result.update(status="rejected", reason=str(exc))
                self.log(f"experiment {number} rejected: {exc}")
                continue
            submitted = submit_fine_tuning_job(
                self.base_model, self.training_data_s3, f"{self.job_prefix}-{number}", dict(config), validation,
                self.role_arn, self.output_s3, None, self.aws_profile, self.region, self.client, self.s3, self.log)
            result.update(status="InProgress", job_name=submitted["job_name"], job_arn=submitted["job_arn"],
                          hyperParameters=submitted["hyperParameters"], warnings=submitted["warnings"])
        self._wait([r for r in results if r["status"] == "InProgress"])
        summary = self._rank(results, validation)
        if self.run_dir is not None:
            from training.run_record import write_run_record

            summary["run_record"] = str(write_run_record(self.run_dir, "nova-hyperparameter-search", {
                "training_data_s3": self.training_data_s3, "validation_data_s3": validation,
                "base_model": self.base_model, "experiments": [dict(e) for e in experiments],
                "job_prefix": self.job_prefix}, [], summary))
        return summary

    def _wait(self, pending: list[dict[str, Any]]) -> None:
        started = time.monotonic()
        while pending:
            for result in list(pending):
                description = describe_job(self.client, result["job_name"])
                if description.get("status") not in JOB_TERMINAL:
                    continue
                pending.remove(result)
                result["status"] = description["status"]
                if description["status"] == "Completed":
                    metrics = read_job_metrics(description, self.s3)
                    result.update(validation_loss=metrics["final_validation_loss"],
                                  training_loss=metrics["final_training_loss"], metrics=metrics)
                else:
                    result["reason"] = description.get("failureMessage") or description["status"]
                self.log(f"{result['job_name']}: {result['status']}" + (
                    f", validation loss {result.get('validation_loss')}" if result["status"] == "Completed" else ""))
            if pending:
                if self.timeout is not None and time.monotonic() - started > self.timeout:
                    for result in pending:
                        result["status"], result["reason"] = "Timeout", f"still running after {self.timeout} s"
                    return
                self.sleep(self.poll_seconds)

    def _rank(self, results: list[dict[str, Any]], validation: str | None) -> dict[str, Any]:
        by = "validation_loss"
        scored = [r for r in results if r.get("status") == "Completed" and r.get(by) is not None]
        if not scored:
            by = "training_loss"
            scored = [r for r in results if r.get("status") == "Completed" and r.get(by) is not None]
        best = min(scored, key=lambda r: r[by]) if scored else None
        return {"best_config": dict(best["config"]) if best else None, "best_job": best["job_name"] if best else None,
                f"best_{by}": best[by] if best else None, "ranked_by": by if best else None,
                "validation_data": validation, "results": results}


# -- command line -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None, client=None, s3=None) -> int | None:
    """The command; with `argv` it runs in-process and returns the exit code (tests inject clients)."""
    import typer
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    app = typer.Typer(add_completion=False)
    err = Console(stderr=True, soft_wrap=True)

    @app.command(help=__doc__.split("\n\n")[0])
    def command(
        monitor_job_: str = typer.Option(..., "--monitor-job", help="Fine-tuning job name or ARN to follow."),
        interval: float = typer.Option(DEFAULT_INTERVAL, "--interval", min=0.0, help="Seconds between polls."),
        timeout: Optional[float] = typer.Option(None, "--timeout", min=0.0,
                                                help="Stop watching after this many seconds (exit 3); default: until the job ends."),
        aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="AWS profile (session factory)."),
        region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)."),
    ):
        out = Console(soft_wrap=True)
        log = lambda m: out.print(m, markup=False, highlight=False)  # noqa: E731
        try:
            if err.is_terminal:
                with err.status("polling...") as live:
                    result = monitor_job(monitor_job_, client, s3, aws_profile, region, interval, timeout, log,
                                         status=lambda line: live.update(line))
            else:
                result = monitor_job(monitor_job_, client, s3, aws_profile, region, interval, timeout, log)
        except (JobNotFound, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(code=2)
        except (ClientError, BotoCoreError) as exc:
            err.print(f"[red]error:[/red] cannot read job {escape(monitor_job_)}: {escape(str(exc).splitlines()[0][:300])}",
                      highlight=False)
            raise typer.Exit(code=2)
        if result["timed_out"]:
            log(f"{monitor_job_} is still {result['status']} (--timeout {timeout:g} s reached); run the command again "
                f"to keep watching")
            raise typer.Exit(code=3)
        log(f"{result['job_name']}: {result['status']}"
            + (f": {result['failure_message']}" if result["failure_message"] else "")
            + (f"; custom model {result['output_model_arn']}" if result["status"] == "Completed" else ""))
        print_metrics(result["metrics"], out, Table)
        if result["status"] != "Completed":
            raise typer.Exit(code=1)

    if argv is None:
        app()
        return None
    return app(args=argv, standalone_mode=False) or 0


def print_metrics(metrics: dict[str, Any] | None, out, table_class) -> None:
    if not metrics:
        return
    table = table_class(title="Fine-tuning metrics")
    for column in ("curve", "final loss", "best loss", "final perplexity", "steps", "epochs", "source"):
        table.add_column(column)
    for kind in ("training", "validation"):
        curve = metrics.get(kind)
        if curve:
            table.add_row(kind, *(("—" if curve.get(k) is None else f"{curve[k]:.4f}" if isinstance(curve.get(k), float)
                                   else str(curve[k])) for k in ("final_loss", "best_loss", "final_perplexity", "steps",
                                                                  "epochs")), curve.get("file") or curve.get("source"))
        else:
            table.add_row(kind, "—", "—", "—", "—", "—", "not written (no validation data?)" if kind == "validation" else "missing")
    out.print(table)
    for note in metrics.get("notes", []):
        out.print(f"note: {note}", markup=False, highlight=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
