"""Submit a Bedrock fine-tuning job for a Nova understanding model (CreateModelCustomizationJob).

    python training/pipelines/train_nova_pipeline.py --base-model amazon.nova-pro-v1:0 \\
        --training-data s3://BUCKET/PREFIX/conversation_format.jsonl --job-name multilingual-product-inference-v1 \\
        --hyperparameters learning_rate=0.0001,batch_size=4,epochs=3 --aws-profile ml-sandbox --region us-east-1

The manual's hyperparameter names become Bedrock's (epochs -> epochCount, learning_rate ->
learningRate, learning_rate_warmup_steps -> learningRateWarmupSteps), each checked against the range
Nova allows; one the model does not take (batch_size) is named in a warning and not sent. The
service role and the output location come from --role-arn / --output-s3, else the deployment
settings (MPI_BEDROCK_CUSTOMIZATION_ROLE_ARN, MPI_BEDROCK_OUTPUT_BUCKET, or the CDK's SSM
parameters). The custom model is named after the job. Prints the job ARN and writes a run record.
Follow the job with `python training/pipelines/nova_fine_tuning.py --monitor-job NAME`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from training.pipelines.bedrock_nova import (CUSTOMIZATION_TYPE, OUTPUT_SETTING, ROLE_SETTING, NovaSettingError,
                                             check_dataset_key, fine_tunable_model, map_hyperparameters,
                                             parse_hyperparameters, split_s3_uri)

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*$")  # Bedrock's pattern for job names, 1-63 characters


def custom_model_name_for(job_name: str) -> str:
    """The job's name in the stricter form custom model names take: ([0-9a-zA-Z][_-]?){1,63}."""
    name = re.sub(r"[^0-9a-zA-Z_-]+", "-", job_name)
    name = re.sub(r"[_-]{2,}", lambda m: m.group(0)[0], name).strip("_-")
    return name[:63].rstrip("_-")


def _bedrock(client, profile, region):
    if client is not None:
        return client
    from inference import aws

    return aws.client("bedrock", profile, region)


def _s3(client, profile, region):
    if client is not None:
        return client
    from inference import aws

    return aws.client("s3", profile, region)


def resolve_dataset_uri(uri: str, s3, what: str = "training data") -> str:
    """The S3 URI of one JSONL file: `uri` itself when it names an object, or the one .jsonl file
    under it when it is a prefix (ending in /). NovaSettingError when it is missing or ambiguous."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    if key and not key.endswith("/"):
        check_dataset_key(key)
        if not key.endswith(".jsonl"):
            raise NovaSettingError(f"{what} {uri}: Bedrock reads JSON Lines datasets (a .jsonl file)")
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise NovaSettingError(f"{what} {uri} cannot be read ({code}); upload it first with "
                                   f"training/preprocessing/llm_data_preparation.py --upload-to-s3") from None
        return uri
    try:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=key)
    except ClientError as exc:
        raise NovaSettingError(f"{what} {uri} cannot be listed ({exc.response.get('Error', {}).get('Code', '')})") from None
    found = sorted(o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".jsonl")
                   and "/" not in o["Key"][len(key):])
    training = [k for k in found if "validation" not in k.rsplit("/", 1)[-1]]
    if len(training) != 1:
        listed = ", ".join(found) or "none"
        raise NovaSettingError(f"{what} {uri} is a folder: it must hold exactly one training .jsonl file "
                               f"(found: {listed}); name the file instead")
    return f"s3://{bucket}/{training[0]}"


def output_location(job_name: str, output_s3: str | None, profile: str | None, region: str | None) -> str:
    """s3://bucket/prefix/ for the job's metrics: --output-s3, else the deployment's output bucket."""
    if output_s3:
        split_s3_uri(output_s3)
        return output_s3 if output_s3.endswith("/") else output_s3 + "/"
    from training.pipelines.sagemaker_launcher import deployment_setting

    bucket = deployment_setting(OUTPUT_SETTING, None, profile, region)
    base = bucket if bucket.startswith("s3://") else f"s3://{bucket}"
    return f"{base.rstrip('/')}/fine-tuning/{job_name}/"


def submit_fine_tuning_job(base_model: str, training_data: str, job_name: str, hyperparameters: str | dict[str, Any],
                           validation_data: str | None = None, role_arn: str | None = None, output_s3: str | None = None,
                           custom_model_name: str | None = None, profile: str | None = None, region: str | None = None,
                           client=None, s3=None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Check everything Bedrock would refuse, then CreateModelCustomizationJob; returns what was sent
    and the job ARN. NovaSettingError (a ValueError) for a refused value, before anything is sent."""
    from botocore.exceptions import ClientError

    from training.pipelines.sagemaker_launcher import deployment_setting

    if not JOB_NAME.match(job_name or "") or len(job_name) > 63:
        raise NovaSettingError(f"--job-name {job_name!r}: use 1-63 letters, digits, '-', '+' or '.', starting with a "
                               f"letter or digit")
    custom_model_name = custom_model_name or custom_model_name_for(job_name)
    model, note = fine_tunable_model(base_model)
    if note:
        log(note)
    values = parse_hyperparameters(hyperparameters) if isinstance(hyperparameters, str) else dict(hyperparameters)
    sent, warnings = map_hyperparameters(values)
    for warning in warnings:
        log(f"warning: {warning}")
    s3 = _s3(s3, profile, region)
    training_uri = resolve_dataset_uri(training_data, s3)
    validation_uri = resolve_dataset_uri(validation_data, s3, "validation data") if validation_data else None
    role = deployment_setting(ROLE_SETTING, role_arn, profile, region)
    output = output_location(job_name, output_s3, profile, region)
    request: dict[str, Any] = {
        "jobName": job_name,
        "customModelName": custom_model_name,
        "roleArn": role,
        "baseModelIdentifier": model,
        "customizationType": CUSTOMIZATION_TYPE,
        "trainingDataConfig": {"s3Uri": training_uri},
        "outputDataConfig": {"s3Uri": output},
        "hyperParameters": sent,
        "jobTags": [{"key": "project", "value": "multilingual-product-inference"}],
    }
    if validation_uri:
        request["validationDataConfig"] = {"validators": [{"s3Uri": validation_uri}]}
    bedrock = _bedrock(client, profile, region)
    try:
        job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = (error.get("Message") or "").strip().split("\n", 1)[0][:300]
        raise RuntimeError(f"Bedrock refused the job {job_name}: {error.get('Code', 'error')}: {message}") from None
    log(f"Submitted fine-tuning job {job_name} ({model}, {json.dumps(sent)}): {job_arn}")
    return {"job_arn": job_arn, "job_name": job_name, "custom_model_name": custom_model_name, "base_model": model,
            "hyperParameters": sent, "warnings": warnings, "training_data": training_uri,
            "validation_data": validation_uri, "output_s3": output, "role_arn": role}


# -- command line ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None, client=None, s3=None) -> int | None:
    """The command; with `argv` it runs in-process and returns the exit code (tests inject clients)."""
    import typer
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.console import Console
    from rich.markup import escape

    from training.pipelines.sagemaker_launcher import DeploymentSettingMissing

    app = typer.Typer(add_completion=False)
    err = Console(stderr=True, soft_wrap=True)

    @app.command(help=__doc__.split("\n\n")[0])
    def command(
        base_model: str = typer.Option("amazon.nova-pro-v1:0", "--base-model", help="Nova Micro, Lite or Pro model id."),
        training_data: str = typer.Option(..., "--training-data", help="s3:// URI of the conversation JSONL (or its folder)."),
        job_name: str = typer.Option(..., "--job-name", help="Job name; the custom model gets the same name."),
        hyperparameters: str = typer.Option("", "--hyperparameters",
                                            help="learning_rate=...,epochs=...,learning_rate_warmup_steps=... "
                                                 "(batch_size is accepted but not sent: Nova takes none)."),
        validation_data: Optional[str] = typer.Option(None, "--validation-data", help="s3:// URI of validation JSONL."),
        role_arn: Optional[str] = typer.Option(None, "--role-arn", help="Service role Bedrock assumes "
                                               "(default: MPI_BEDROCK_CUSTOMIZATION_ROLE_ARN or SSM)."),
        output_s3: Optional[str] = typer.Option(None, "--output-s3", help="s3:// folder for the job's metrics "
                                                "(default: MPI_BEDROCK_OUTPUT_BUCKET or SSM)."),
        custom_model_name: Optional[str] = typer.Option(None, "--custom-model-name", help="Default: the job name."),
        run_dir: Path = typer.Option(Path("."), "--run-dir", help="Where the run record is written (runs/...)."),
        aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="AWS profile (session factory)."),
        region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)."),
    ):
        out = Console(soft_wrap=True)
        log = lambda m: err.print(m, markup=False, highlight=False)  # noqa: E731
        try:
            result = submit_fine_tuning_job(base_model, training_data, job_name, hyperparameters, validation_data,
                                            role_arn, output_s3, custom_model_name, aws_profile, region, client, s3, log)
            from training.run_record import write_run_record

            run = write_run_record(run_dir, "nova-fine-tuning-job", {
                "base_model": base_model, "training_data": training_data, "job_name": job_name,
                "hyperparameters": hyperparameters, "validation_data": validation_data, "aws_profile": aws_profile,
                "region": region}, [], result)
        except (ValueError, RuntimeError, DeploymentSettingMissing, ClientError, BotoCoreError, OSError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc).splitlines()[0][:500])}", highlight=False)
            raise typer.Exit(code=2)
        out.print(result["job_arn"], markup=False, highlight=False)
        log(f"Run record: {run}. Monitor: python training/pipelines/nova_fine_tuning.py --monitor-job {job_name}"
            + (f" --aws-profile {aws_profile}" if aws_profile else "") + (f" --region {region}" if region else ""))

    if argv is None:
        app()
        return None
    return app(args=argv, standalone_mode=False) or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
