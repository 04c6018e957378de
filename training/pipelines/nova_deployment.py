"""Serve a fine-tuned Nova model the way Bedrock does, and point the LLM agent at it.

    python training/pipelines/nova_deployment.py --model-id multilingual-product-inference-v1 \\
        --endpoint-name multilingual-inference-endpoint --instance-type ml.g4dn.xlarge \\
        --aws-profile ml-sandbox --region us-east-1

Bedrock serves a custom model itself, in one of two ways: an on-demand custom model deployment
(the default: billed per token, no capacity to buy), or Provisioned Throughput
(`--provisioned-throughput --model-units N`: reserved model units, billed by the hour). There is no
instance to choose: `--instance-type` is a SageMaker notion, accepted so the manual's command runs,
and ignored (the command says so). `--endpoint-name` names the deployment.

`--model-id` is the custom model's name or ARN, or the fine-tuning job's name (its output model is
used once the job is Completed). The command waits until the deployment is Active (InService for
Provisioned Throughput), then updates the registry's `llm` config (`model_id`, `custom_model_arn`,
`deployment_arn`, `endpoint_name`, `deployment_type`): the LLM agent calls `deployment_arn`.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

INSTANCE_TYPE_NOTE = ("--instance-type {value} is a SageMaker notion: Bedrock chooses and runs the hardware of a "
                      "custom model deployment itself, so it is ignored")
DEPLOYMENT_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")
ACTIVE = {"on-demand": "Active", "provisioned": "InService"}


class DeploymentError(RuntimeError):
    """The model cannot be found or served; the message says why and what to do."""


def _error(exc) -> tuple[str, str]:
    """(code, first line of the message) of a ClientError: some endpoints answer with an HTML page."""
    error = exc.response.get("Error", {})
    return error.get("Code", "error"), (error.get("Message") or "").strip().split("\n", 1)[0][:300]


def resolve_custom_model(model_id: str, client) -> dict[str, str]:
    """{"custom_model_arn", "resolved_from"} for a custom model name or ARN, or a fine-tuning job's name."""
    from botocore.exceptions import ClientError

    from training.pipelines.nova_fine_tuning import JobNotFound, describe_job

    try:
        found = client.get_custom_model(modelIdentifier=model_id)
        return {"custom_model_arn": found["modelArn"], "resolved_from": "custom model"}
    except ClientError as exc:
        if _error(exc)[0] not in ("ResourceNotFoundException", "ValidationException"):
            raise DeploymentError(f"cannot look up custom model {model_id}: {': '.join(_error(exc))}") from None
    try:
        job = describe_job(client, model_id)
    except JobNotFound:
        raise DeploymentError(f"no custom model and no fine-tuning job named {model_id!r} in this account and region") from None
    if job.get("status") != "Completed" or not job.get("outputModelArn"):
        raise DeploymentError(f"fine-tuning job {model_id} is {job.get('status')}: its model can be deployed once it is "
                              f"Completed (python training/pipelines/nova_fine_tuning.py --monitor-job {model_id})")
    return {"custom_model_arn": job["outputModelArn"], "resolved_from": "fine-tuning job"}


def _wait(read: Callable[[], dict], ready: str, what: str, poll_seconds: float, timeout: float,
          log: Callable[[str], None], sleep: Callable[[float], Any]) -> dict:
    started, last = time.monotonic(), None
    while True:
        described = read()
        status = described.get("status")
        if status != last:
            log(f"{what}: {status}")
            last = status
        if status == ready:
            return described
        if status == "Failed":
            raise DeploymentError(f"{what} failed: {described.get('failureMessage') or 'no reason given'}")
        if time.monotonic() - started > timeout:
            raise DeploymentError(f"{what} is still {status} after {timeout:.0f} s; run the command again to keep waiting")
        sleep(poll_seconds)


def deploy_on_demand(client, name: str, model_arn: str, wait: bool, poll_seconds: float, timeout: float,
                     log: Callable[[str], None], sleep: Callable[[float], Any]) -> dict[str, Any]:
    """Create (or reuse) the on-demand deployment `name` of `model_arn`; its description."""
    from botocore.exceptions import ClientError

    try:
        existing = client.get_custom_model_deployment(customModelDeploymentIdentifier=name)
    except ClientError as exc:
        if _error(exc)[0] != "ResourceNotFoundException":
            raise DeploymentError(f"cannot look up deployment {name}: {': '.join(_error(exc))}") from None
        existing = None
    if existing and existing["modelArn"] != model_arn:
        raise DeploymentError(f"deployment {name} already serves {existing['modelArn']}; choose another --endpoint-name "
                              f"or delete it (aws bedrock delete-custom-model-deployment)")
    if existing:
        arn = existing["customModelDeploymentArn"]
        log(f"Deployment {name} already exists for this model: {arn}")
    else:
        try:
            arn = client.create_custom_model_deployment(
                modelDeploymentName=name, modelArn=model_arn,
                description="multilingual-product-inference LLM stage",
                tags=[{"key": "project", "value": "multilingual-product-inference"}])["customModelDeploymentArn"]
        except ClientError as exc:
            raise DeploymentError(f"Bedrock refused the deployment {name}: {': '.join(_error(exc))}") from None
        log(f"Created on-demand deployment {name}: {arn}")
    if not wait:
        return {"arn": arn, "status": (existing or {}).get("status", "Creating")}
    described = _wait(lambda: client.get_custom_model_deployment(customModelDeploymentIdentifier=arn), ACTIVE["on-demand"],
                      f"deployment {name}", poll_seconds, timeout, log, sleep)
    return {"arn": arn, "status": described["status"]}


def deploy_provisioned(client, name: str, model_arn: str, model_units: int, commitment: str | None, wait: bool,
                       poll_seconds: float, timeout: float, log: Callable[[str], None],
                       sleep: Callable[[float], Any]) -> dict[str, Any]:
    """Buy Provisioned Throughput `name` for `model_arn`; its description."""
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {"modelUnits": model_units, "provisionedModelName": name, "modelId": model_arn,
                               "tags": [{"key": "project", "value": "multilingual-product-inference"}]}
    if commitment:
        request["commitmentDuration"] = commitment
    try:
        arn = client.create_provisioned_model_throughput(**request)["provisionedModelArn"]
    except ClientError as exc:
        raise DeploymentError(f"Bedrock refused the Provisioned Throughput {name}: {': '.join(_error(exc))}") from None
    log(f"Created Provisioned Throughput {name} ({model_units} model unit(s), {commitment or 'no commitment'}): {arn}")
    if not wait:
        return {"arn": arn, "status": "Creating"}
    described = _wait(lambda: client.get_provisioned_model_throughput(provisionedModelId=arn), ACTIVE["provisioned"],
                      f"Provisioned Throughput {name}", poll_seconds, timeout, log, sleep)
    return {"arn": arn, "status": described["status"]}


def update_llm_registry(registry, model_id: str, custom_model_arn: str, deployment_arn: str, endpoint_name: str,
                        deployment_type: str) -> dict[str, Any]:
    """Point the registry's llm config at the deployment (the agent invokes `deployment_arn`)."""
    return registry.update_model_config("llm", {
        "model_id": model_id, "custom_model_arn": custom_model_arn, "deployment_arn": deployment_arn,
        "endpoint_name": endpoint_name, "deployment_type": deployment_type, "provider": "bedrock",
    })


def deploy(model_id: str, endpoint_name: str, instance_type: str | None = None, provisioned_throughput: bool = False,
           model_units: int = 1, commitment: str | None = None, registry=None, client=None, profile: str | None = None,
           region: str | None = None, wait: bool = True, poll_seconds: float = 30.0, timeout: float = 3600.0,
           log: Callable[[str], None] = print, sleep: Callable[[float], Any] = time.sleep) -> dict[str, Any]:
    """Resolve the custom model, serve it, wait, and update the registry; returns what was done."""
    if not DEPLOYMENT_NAME.match(endpoint_name or ""):
        raise DeploymentError(f"--endpoint-name {endpoint_name!r}: use 1-63 letters or digits, each optionally followed "
                              f"by one '-' or '_'")
    if instance_type:
        log(INSTANCE_TYPE_NOTE.format(value=instance_type))
    if client is None:
        from inference import aws

        client = aws.client("bedrock", profile, region)
    model = resolve_custom_model(model_id, client)
    log(f"Custom model {model['custom_model_arn']} (from the {model['resolved_from']} {model_id})")
    kind = "provisioned" if provisioned_throughput else "on-demand"
    if provisioned_throughput:
        served = deploy_provisioned(client, endpoint_name, model["custom_model_arn"], model_units, commitment, wait,
                                    poll_seconds, timeout, log, sleep)
    else:
        served = deploy_on_demand(client, endpoint_name, model["custom_model_arn"], wait, poll_seconds, timeout, log, sleep)
    result = {"model_id": model_id, "custom_model_arn": model["custom_model_arn"], "deployment_arn": served["arn"],
              "deployment_type": kind, "status": served["status"], "endpoint_name": endpoint_name,
              "instance_type_ignored": instance_type}
    if registry is not None:
        config = update_llm_registry(registry, model_id, model["custom_model_arn"], served["arn"], endpoint_name, kind)
        result["registry"] = str(registry.location)
        log(f"Registry {registry.location}: llm '{config['name']}' now calls {served['arn']}"
            + (" (the llm entry is disabled: enable it to use the model)" if config.get("enabled") is False else ""))
        if served["status"] != ACTIVE[kind]:
            log(f"note: the deployment is {served['status']}; calls fail until it is {ACTIVE[kind]}")
    return result


# -- command line ------------------------------------------------------------------------------------

def main(argv: list[str] | None = None, client=None) -> int | None:
    """The command; with `argv` it runs in-process and returns the exit code (tests inject a client)."""
    import typer
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.console import Console
    from rich.markup import escape

    from inference.config.model_registry import ModelRegistry

    app = typer.Typer(add_completion=False)
    err = Console(stderr=True, soft_wrap=True)

    @app.command(help=__doc__.split("\n\n")[0])
    def command(
        model_id: str = typer.Option(..., "--model-id", help="Custom model name or ARN, or the fine-tuning job's name."),
        endpoint_name: str = typer.Option(..., "--endpoint-name", help="Name of the deployment (or Provisioned Throughput)."),
        instance_type: Optional[str] = typer.Option(None, "--instance-type", help=(
            "Ignored: a SageMaker notion. Bedrock picks the hardware of a custom model deployment itself.")),
        provisioned_throughput: bool = typer.Option(False, "--provisioned-throughput", help=(
            "Serve with Provisioned Throughput instead of an on-demand deployment.")),
        model_units: int = typer.Option(1, "--model-units", min=1, help="Model units of Provisioned Throughput."),
        commitment: Optional[str] = typer.Option(None, "--commitment", help="Provisioned Throughput term: OneMonth or "
                                                 "SixMonths (default: none, billed by the hour)."),
        wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the deployment is Active."),
        interval: float = typer.Option(30.0, "--interval", min=0.0, help="Seconds between status polls."),
        timeout: float = typer.Option(3600.0, "--timeout", min=0.0, help="Most seconds to wait."),
        home: Optional[Path] = typer.Option(None, "--home", help="Local home whose registry is updated "
                                            "(default $PRODUCT_INFERENCE_HOME or ~/.product-inference)."),
        registry_path: Optional[str] = typer.Option(None, "--registry", help="Registry file or s3:// URI instead of the home's."),
        aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="AWS profile (session factory)."),
        region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)."),
    ):
        out = Console(soft_wrap=True)
        log = lambda m: err.print(m, markup=False, highlight=False)  # noqa: E731
        try:
            if commitment not in (None, "OneMonth", "SixMonths"):
                raise DeploymentError(f"--commitment {commitment!r}: expected OneMonth or SixMonths")
            if commitment and not provisioned_throughput:
                raise DeploymentError("--commitment applies to --provisioned-throughput only")
            registry = ModelRegistry(path=registry_path, home=home)
            result = deploy(model_id, endpoint_name, instance_type, provisioned_throughput, model_units, commitment,
                            registry, client, aws_profile, region, wait, interval, timeout, log)
        except (DeploymentError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(code=2)
        except (ClientError, BotoCoreError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc).splitlines()[0][:300])}", highlight=False)
            raise typer.Exit(code=2)
        out.print(result["deployment_arn"], markup=False, highlight=False)

    if argv is None:
        app()
        return None
    return app(args=argv, standalone_mode=False) or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
