"""Train a NER model (the manual's "Train Custom NER Model" and "Train with multilingual focus").

    python training/pipelines/train_ner_pipeline.py --model-type transformer --base-model xlm-roberta-base \\
        --training-data augmented_training_data.txt --validation-split 0.2 --learning-rate 2e-5 \\
        --batch-size 16 --epochs 10 --early-stopping --aws-profile ml-sandbox --region us-east-1
    python training/pipelines/train_ner_pipeline.py --multilingual --tokenizer models/multilingual_tokenizer \\
        --thai-english-mixed --character-level-features

Where it trains: with `--aws-profile` (and no `--local`) as a SageMaker script-mode job
(sagemaker_jobs/train_ner.py; data uploaded to the artifact bucket, role and bucket from the
deployment settings), waiting for it and registering its model.tar.gz (S3) in the registry;
otherwise here, on the CPU, saving the model folder to `--output` (default models/ner_model),
with metrics.json inside and a run record beside it, and registering that folder. Either way the
new version becomes the registry's active NER model, which the NER agent then serves.

Defaults the manual does not state: `--training-data` is training_dataset.txt in the current
folder (as `product-infer export-sample` writes it), else the project's sample catalogue (with
its aliases.json); `--model-type` is transformer when --base-model, --tokenizer or --from-config
is given, else crf; the base model is xlm-roberta-base; `--model-name` is xlm-roberta-ner for a
transformer (the name the manual switches to) and crf-ner for a CRF; `--learning-rate` is 2e-5
for a pretrained base model and 3e-3 for a model built from a config. Without the Hugging Face
hub, pass --tokenizer: the model is then built from a small config (or choose --from-config).
The data options (--multilingual, --thai-english-mixed, --character-level-features) are described
in training/pipelines/ner_training.py; they are passed on to the SageMaker job unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from inference.agents.ner_transformer import LABELS
from training.pipelines.ner_training import NERTrainingConfig, aliases_for, train_ner
from training.preprocessing.ner_data_preparation import default_training_data

ENTRY_POINT = "sagemaker_jobs/train_ner.py"  # the path inside the source archive the launcher packs


def default_model_type(base_model: str | None, tokenizer: str | None, from_config: str | None) -> str:
    return "transformer" if (base_model or tokenizer or from_config) else "crf"


def default_model_name(model_type: str) -> str:
    return "xlm-roberta-ner" if model_type == "transformer" else "crf-ner"


def registered_settings(config: NERTrainingConfig, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the registry keeps beside the model's location: how it was trained and how well."""
    settings = {"backend": config.model_type, "training": {
        "validation_split": config.validation_split, "batch_size": config.batch_size, "epochs": config.epochs,
        "early_stopping": config.early_stopping, "multilingual": config.multilingual,
        "thai_english_mixed": config.thai_english_mixed}}
    if config.model_type == "transformer":
        settings.update(model_name=config.base_model, num_labels=len(LABELS), labels=list(LABELS),
                        character_level_features=config.character_level_features)
        settings["training"].update(learning_rate=config.learning_rate, dropout=config.dropout,
                                    weight_decay=config.weight_decay)
    if metrics:
        if config.model_type == "transformer":
            built = metrics.get("built", "")
            if built.startswith("config:"):  # not the base model: a small XLM-R built from a config
                settings["model_name"] = f"xlm-roberta ({built.split(':', 1)[1]} config)"
            settings["built"] = built
            settings["training"]["learning_rate"] = metrics.get("learning_rate", config.learning_rate)
        if "validation" in metrics:
            settings["validation_f1"] = metrics["validation"]["f1"]
    return settings


def train_locally(config: NERTrainingConfig, training_data: Path, output: Path, aliases: Path | None,
                  registry, model_name: str, log: Callable[[str], None], on_step=None) -> dict[str, Any]:
    metrics = train_ner(training_data, output, config, aliases=aliases, log=log, on_step=on_step)
    registry.register_model("ner", model_name, {**registered_settings(config, metrics), "path": str(output.resolve()),
                                                "training_data": str(training_data),
                                                "run_record": metrics["run_record"]}, activate=True)
    log(f"Registered NER model {model_name!r} in {registry.location} and switched to it")
    return metrics


def sagemaker_hyperparameters(config: NERTrainingConfig, training_file: str, tokenizer_in_channel: bool
                              ) -> dict[str, Any]:
    """The flags, as the entry point's arguments (SageMaker passes each as --key value)."""
    params: dict[str, Any] = {
        "model_type": config.model_type, "training_data": training_file,
        "validation_split": config.validation_split, "batch_size": config.batch_size, "epochs": config.epochs,
        "early_stopping": config.early_stopping, "patience": config.patience, "dropout": config.dropout,
        "weight_decay": config.weight_decay, "multilingual": config.multilingual,
        "thai_english_mixed": config.thai_english_mixed, "character_level_features": config.character_level_features,
        "seed": config.seed,
    }
    if config.model_type == "transformer":
        params["base_model"] = config.base_model
    if config.learning_rate is not None:
        params["learning_rate"] = config.learning_rate
    if config.from_config:
        params["from_config"] = config.from_config
    if tokenizer_in_channel:
        params["tokenizer"] = "tokenizer"  # relative to the training channel
    return params


def train_on_sagemaker(config: NERTrainingConfig, training_data: Path, aliases: Path | None, registry,
                       model_name: str, profile: str | None, region: str | None, instance_type: str,
                       job_name: str | None, log: Callable[[str], None]) -> dict[str, Any]:
    from inference.records import load_catalog
    from training.pipelines.sagemaker_launcher import deployment_setting, launch_training_job, upload_file

    records = load_catalog(training_data)  # fail here, not an hour later in the job
    bucket = deployment_setting("artifact-bucket", None, profile, region)
    role = deployment_setting("sagemaker-role-arn", None, profile, region)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    job = job_name or f"ner-{config.model_type}-{stamp}"
    prefix = f"training-jobs/{job}/data"
    upload_file(training_data, bucket, f"{prefix}/{training_data.name}", profile, region)
    if aliases:
        upload_file(aliases, bucket, f"{prefix}/aliases.json", profile, region)
    if config.tokenizer:
        for path in sorted(Path(config.tokenizer).iterdir()):
            if path.is_file():
                upload_file(path, bucket, f"{prefix}/tokenizer/{path.name}", profile, region)
    log(f"Uploaded {len(records)} records to s3://{bucket}/{prefix}/")
    hyperparameters = sagemaker_hyperparameters(config, training_data.name, bool(config.tokenizer))
    description = launch_training_job(job, ENTRY_POINT, hyperparameters, {"training": f"s3://{bucket}/{prefix}/"},
                                      bucket=bucket, role_arn=role, instance_type=instance_type, profile=profile,
                                      region=region, log=log)
    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    registry.register_model("ner", model_name, {**registered_settings(config), "model_uri": artifact,
                                                "region": region, "training_job": job,
                                                "training_data": f"s3://{bucket}/{prefix}/{training_data.name}"},
                            activate=True)
    log(f"Training job {job} completed; registered {artifact} as NER model {model_name!r} and switched to it")
    return {"training_job": job, "model_uri": artifact, "status": description["TrainingJobStatus"]}


app = typer.Typer(add_completion=False, rich_markup_mode=None)
_PARAGRAPHS = __doc__.split("\n\n")
HELP = "\n\n".join([_PARAGRAPHS[0], "\b\n" + _PARAGRAPHS[1], *_PARAGRAPHS[2:]])  # \b: click keeps the examples as written


@app.command(help=HELP)
def main(
    model_type: Optional[str] = typer.Option(None, "--model-type",
                                             help="transformer or crf (default: transformer when --base-model, "
                                                  "--tokenizer or --from-config is given, else crf)"),
    base_model: Optional[str] = typer.Option(None, "--base-model",
                                             help="hub name or local folder of the pretrained encoder "
                                                  "(default xlm-roberta-base)"),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="fast tokenizer folder (e.g. "
                                            "models/multilingual_tokenizer); without the hub the model is built "
                                            "from a config with it"),
    from_config: Optional[str] = typer.Option(None, "--from-config",
                                              help="build the encoder from a config instead of pretrained weights: "
                                                   "tiny, small or a config.json path"),
    training_data: Optional[Path] = typer.Option(None, "--training-data",
                                                 help="records (TSV name/brand/category or JSONL); default: "
                                                      "training_dataset.txt in the current folder, else the sample "
                                                      "catalogue"),
    aliases: Optional[Path] = typer.Option(None, "--aliases",
                                           help="aliases.json (default: the one beside the training data, if any)"),
    validation_split: float = typer.Option(0.2, "--validation-split", help="held-out share for validation (seeded)"),
    learning_rate: Optional[float] = typer.Option(None, "--learning-rate",
                                                  help="default 2e-5 (pretrained) or 3e-3 (built from a config)"),
    batch_size: int = typer.Option(16, "--batch-size"),
    epochs: int = typer.Option(10, "--epochs"),
    early_stopping: bool = typer.Option(False, "--early-stopping",
                                        help="stop after --patience epochs without a better validation entity F1"),
    patience: int = typer.Option(2, "--patience"),
    dropout: float = typer.Option(0.1, "--dropout"),
    weight_decay: float = typer.Option(0.01, "--weight-decay"),
    multilingual: bool = typer.Option(False, "--multilingual",
                                      help="stratify the validation split by script; report F1 per script"),
    thai_english_mixed: bool = typer.Option(False, "--thai-english-mixed",
                                            help="repeat mixed Thai+Latin names once more in training"),
    character_level_features: bool = typer.Option(False, "--character-level-features",
                                                  help="transformer: feed each word followed by its characters "
                                                       "(Thai character clusters); the CRF always has affix features"),
    seed: int = typer.Option(13, "--seed"),
    output: Path = typer.Option(Path("models/ner_model"), "--output", help="model folder (local training)"),
    model_name: Optional[str] = typer.Option(None, "--model-name",
                                             help="registry name (default xlm-roberta-ner, or crf-ner)"),
    home: Optional[Path] = typer.Option(None, "--home", help="local home holding the registry "
                                        "(default $PRODUCT_INFERENCE_HOME or ~/.product-inference)"),
    aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="train as a SageMaker job with this profile"),
    region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)"),
    local: bool = typer.Option(False, "--local", help="train here even when --aws-profile is given"),
    instance_type: str = typer.Option("ml.g5.xlarge", "--instance-type", help="SageMaker training instance"),
    job_name: Optional[str] = typer.Option(None, "--job-name", help="SageMaker job name (default ner-<type>-<time>)"),
) -> None:
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from inference.config.model_registry import ModelRegistry
    from training.pipelines.ner_training import HubUnreachable
    from training.pipelines.sagemaker_launcher import DeploymentSettingMissing

    err = Console(stderr=True)
    try:
        kind = model_type or default_model_type(base_model, tokenizer, from_config)
        config = NERTrainingConfig(
            model_type=kind, base_model=base_model or "xlm-roberta-base", tokenizer=tokenizer,
            from_config=from_config, validation_split=validation_split, learning_rate=learning_rate,
            batch_size=batch_size, epochs=epochs, early_stopping=early_stopping, patience=patience, dropout=dropout,
            weight_decay=weight_decay, multilingual=multilingual, thai_english_mixed=thai_english_mixed,
            character_level_features=character_level_features, seed=seed)
        training_data = training_data or default_training_data()
        if not training_data.is_file():
            raise FileNotFoundError(f"{training_data}: no such training data file")
        if tokenizer and not Path(tokenizer).is_dir():
            raise FileNotFoundError(f"tokenizer folder {tokenizer} not found; create it with python "
                                    "training/preprocessing/ner_data_preparation.py --create-multilingual-tokenizer "
                                    f"--output {tokenizer}")
        alias_path = aliases_for(training_data, aliases)
        registry = ModelRegistry(home=home)
        name = model_name or default_model_name(kind)
        if aws_profile and not local:
            train_on_sagemaker(config, training_data, alias_path, registry, name, aws_profile, region,
                               instance_type, job_name, log=print)
            return
        with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                      TextColumn("{task.completed} steps"), TimeElapsedColumn(), console=Console(stderr=True),
                      transient=True) as progress:
            task = progress.add_task(f"training {kind} NER", total=None)
            train_locally(config, training_data, output, alias_path, registry, name,
                          log=print,
                          on_step=lambda: progress.advance(task))
    except (ValueError, OSError, HubUnreachable, DeploymentSettingMissing, RuntimeError,
            BotoCoreError, ClientError) as exc:
        first = str(exc).strip()
        err.print(f"error: {first}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
