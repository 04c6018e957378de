"""What Amazon Bedrock allows when fine-tuning a Nova understanding model (Micro, Lite, Pro), in one place.

Every Nova command (data preparation, job submission, monitoring, deployment) checks against these
facts, so a rule is written once. Sources (Bedrock and Nova user guides, as published):

- Hyperparameters, "Amazon Nova Understanding model customization hyperparameters" (Bedrock user
  guide, cm-hp-nova-mm): `epochCount` integer 1-5 (default 2), `learningRate` float 1e-6 to 1e-4
  (default 1e-5), `learningRateWarmupSteps` integer 0-100 (default 10). These three are all the
  models take: there is no batch size.
- Base model ids for fine-tuning carry the context window: `amazon.nova-micro-v1:0:128k`,
  `amazon.nova-lite-v1:0:300k`, `amazon.nova-pro-v1:0:300k` ("Customize a model with fine-tuning in
  Amazon Bedrock"; us-east-1). The manual's `amazon.nova-pro-v1:0` is the inference id: mapped.
- Dataset, "Preparing data for fine-tuning Understanding models" (Nova user guide): JSONL, one
  record a line; file names of only letters, digits, `_`, `-`, `/`, `.`; optional `system`; roles
  `user` and `assistant`, the first turn `user`, the last `assistant`; the terms `User:`, `Bot:`,
  `Assistant:`, `System:`, `<image>`, `<video>`, `[EOS]` are reserved and fail the job anywhere in a
  prompt. The record bounds 8 to 20,000 and the case-insensitive reserved-word check (which adds
  `Thought:` and `<unk>`) are those of AWS's validator for these datasets
  (aws-samples/amazon-nova-samples, customization/bedrock-finetuning/understanding/
  dataset_validation/nova_ft_dataset_validator.py: MODEL_TO_NUM_SAMPLES_MAP, INVALID_TOKENS_TEXT).
- Job output, "Analyze the results of a model customization job" (Bedrock user guide): under the
  output S3 folder, `model-customization-job-<job id>/training_artifacts/step_wise_training_metrics.csv`
  (step_number, epoch_number, training_loss, perplexity) and, with validation data,
  `.../validation_artifacts/post_fine_tuning_validation/validation_metrics.csv` (validation_loss).
- Serving: a custom Nova model is invoked through an on-demand custom model deployment (its ARN is
  the Converse `modelId`; "Deploy a custom model for on-demand inference", Nova user guide) or
  through Provisioned Throughput (the provisioned model ARN).

Deployment settings (the service role Bedrock assumes, the output bucket) come from an argument,
else MPI_BEDROCK_CUSTOMIZATION_ROLE_ARN / MPI_BEDROCK_OUTPUT_BUCKET, else the SSM parameters that the
CDK app writes (training.pipelines.sagemaker_launcher.deployment_setting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

SCHEMA_VERSION = "bedrock-conversation-2024"
MIN_RECORDS, MAX_RECORDS = 8, 20_000
RESERVED_WORDS = ("User:", "Bot:", "Assistant:", "System:", "Thought:", "<image>", "<video>", "[EOS]", "<unk>")
S3_NAME = re.compile(r"^[A-Za-z0-9_\-/.]+$")  # allowed characters of a dataset's file name / key

ROLE_SETTING = "bedrock-customization-role-arn"
OUTPUT_SETTING = "bedrock-output-bucket"
CUSTOMIZATION_TYPE = "FINE_TUNING"

# inference id -> the fine-tunable variant (with its context window), and that window in tokens
FINE_TUNABLE = {
    "amazon.nova-micro-v1:0": "amazon.nova-micro-v1:0:128k",
    "amazon.nova-lite-v1:0": "amazon.nova-lite-v1:0:300k",
    "amazon.nova-pro-v1:0": "amazon.nova-pro-v1:0:300k",
}
CONTEXT_TOKENS = {"amazon.nova-micro-v1:0:128k": 128_000, "amazon.nova-lite-v1:0:300k": 300_000,
                  "amazon.nova-pro-v1:0:300k": 300_000}

JOB_TERMINAL = ("Completed", "Failed", "Stopped")
TRAINING_METRICS = "training_artifacts/step_wise_training_metrics.csv"
VALIDATION_METRICS = "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"


class NovaSettingError(ValueError):
    """A value Bedrock would refuse (hyperparameter, base model, S3 location); the message says why."""


@dataclass(frozen=True)
class Hyperparameter:
    api_name: str
    kind: type  # int or float
    low: float
    high: float
    default: float


HYPERPARAMETERS = {
    "epochs": Hyperparameter("epochCount", int, 1, 5, 2),
    "learning_rate": Hyperparameter("learningRate", float, 1e-6, 1e-4, 1e-5),
    "learning_rate_warmup_steps": Hyperparameter("learningRateWarmupSteps", int, 0, 100, 10),
}
# Other spellings users write (the API's own names included), mapped to the manual's names.
ALIASES = {"epoch_count": "epochs", "epochcount": "epochs", "learningrate": "learning_rate", "lr": "learning_rate",
           "warmup_steps": "learning_rate_warmup_steps", "learningratewarmupsteps": "learning_rate_warmup_steps"}
NOT_TAKEN = {"batch_size": "Nova understanding models take no batch size",
             "batchsize": "Nova understanding models take no batch size"}


def fine_tunable_model(base_model: str) -> tuple[str, str | None]:
    """(the base model id a customization job takes, a note when it was mapped)."""
    if base_model in CONTEXT_TOKENS:
        return base_model, None
    if base_model in FINE_TUNABLE:
        target = FINE_TUNABLE[base_model]
        return target, f"base model {base_model} is fine-tuned as {target} (Bedrock's fine-tunable variant)"
    known = ", ".join([*FINE_TUNABLE, *CONTEXT_TOKENS])
    raise NovaSettingError(f"base model {base_model!r} is not a Nova understanding model this command fine-tunes; "
                           f"use one of {known}")


def parse_hyperparameters(text: str) -> dict[str, str]:
    """`learning_rate=0.0001,batch_size=4,epochs=3` -> {"learning_rate": "0.0001", ...} (raw text)."""
    pairs: dict[str, str] = {}
    for item in [p.strip() for p in (text or "").split(",") if p.strip()]:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise NovaSettingError(f"--hyperparameters: {item!r} is not name=value "
                                   f"(e.g. learning_rate=0.0001,epochs=3)")
        pairs[name.strip()] = value.strip()
    return pairs


def _plain(number: float) -> str:
    """0.00001 as "0.00001" (not "1e-05"): the hyperParameters map carries strings."""
    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def map_hyperparameters(values: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(Bedrock's hyperParameters map, warnings about values not sent). NovaSettingError for an
    unknown name, a value of the wrong type, or a value outside the model's range."""
    sent: dict[str, str] = {}
    warnings: list[str] = []
    for raw_name, raw_value in values.items():
        key = raw_name.strip().lower()
        if key in NOT_TAKEN:
            warnings.append(f"{raw_name}={raw_value} not sent: {NOT_TAKEN[key]}")
            continue
        name = ALIASES.get(key, key)
        spec = HYPERPARAMETERS.get(name)
        if spec is None:
            known = ", ".join(f"{n} ({s.api_name})" for n, s in HYPERPARAMETERS.items())
            raise NovaSettingError(f"unknown hyperparameter {raw_name!r}; Nova understanding models take {known}")
        try:
            number = float(raw_value)
        except (TypeError, ValueError):
            raise NovaSettingError(f"{raw_name}={raw_value!r} is not a number") from None
        if spec.kind is int and number != int(number):
            raise NovaSettingError(f"{raw_name}={raw_value} must be a whole number ({spec.api_name})")
        if not spec.low <= number <= spec.high:
            low, high = (_plain(spec.low), _plain(spec.high)) if spec.kind is float else (int(spec.low), int(spec.high))
            raise NovaSettingError(f"{raw_name}={raw_value} is outside the range Nova allows for {spec.api_name}: "
                                   f"{low} to {high}")
        if spec.api_name in sent:
            raise NovaSettingError(f"{spec.api_name} is given twice")
        sent[spec.api_name] = str(int(number)) if spec.kind is int else _plain(number)
    return sent, warnings


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key); NovaSettingError for anything else."""
    match = re.match(r"^s3://([^/]+)/?(.*)$", uri or "")
    if not match:
        raise NovaSettingError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    return match.group(1), match.group(2)


def check_dataset_key(key: str) -> None:
    """Bedrock reads dataset files whose names use only letters, digits, _ - / ."""
    if not S3_NAME.match(key):
        bad = sorted({c for c in key if not S3_NAME.match(c)})
        raise NovaSettingError(f"S3 key {key!r} has characters Bedrock does not accept in a dataset name: {bad} "
                               f"(use letters, digits, _ - / .)")


def invocation_model_id(model_id: str | None, registry=None) -> str | None:
    """What the Converse API takes for `model_id`: a deployment (or provisioned model) ARN recorded
    in the registry's llm config for that model, custom model or endpoint name; else the id itself."""
    if registry is None:
        return model_id
    try:
        settings = registry.get_model_config("llm")
    except KeyError:
        return model_id
    served = settings.get("deployment_arn")
    if not model_id:
        return served or settings.get("model_id")
    names = {settings.get(k) for k in ("model_id", "custom_model_arn", "endpoint_name", "name", "deployment_arn")}
    return served if served and model_id in names else model_id
