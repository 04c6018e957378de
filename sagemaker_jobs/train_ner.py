"""SageMaker script-mode entry point: NER training inside a training job.

SageMaker runs `python sagemaker_jobs/train_ner.py --key value ...` (one pair per hyperparameter,
also given as the JSON SM_HPS) with SM_CHANNEL_TRAINING (the uploaded data: the records file,
aliases.json, optionally a tokenizer/ folder), SM_MODEL_DIR (saved as the job's model.tar.gz) and
SM_OUTPUT_DATA_DIR (the job's output.tar.gz) set. It calls the same training function as local
training (training.pipelines.ner_training.train_ner), so the model.tar.gz unpacks into the same
model folder: ner_model.json, the model files, lexicon.json, metrics.json. The run record goes to
SM_OUTPUT_DATA_DIR. An optional `validation` channel (SM_CHANNEL_VALIDATION: one labelled records
file) is scored after training by the NER evaluator, into metrics.json's `validation_channel`. argparse, not typer: SageMaker's toolkit writes booleans as "True"/"False"
values and may add arguments of its own, which parse_known_args ignores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

try:
    import sagemaker_jobs, training  # noqa: F401,E401  (installed, or run from the source root)
except ImportError:  # the container runs the script from the unpacked source archive
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.records import JSONL_SUFFIXES, TSV_SUFFIXES  # noqa: E402
from sagemaker_jobs.hyperparameters import script_args  # noqa: E402
from training.pipelines.ner_training import NERTrainingConfig, train_ner  # noqa: E402


def _flag(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    def add(name: str, **kwargs):  # accept --learning_rate (SageMaker's keys) and --learning-rate
        p.add_argument(f"--{name}", f"--{name.replace('_', '-')}", dest=name, **kwargs)

    defaults = NERTrainingConfig()
    add("model_type", default=defaults.model_type)
    add("base_model", default=defaults.base_model)
    add("tokenizer", default=None, help="a folder, relative to the training channel unless absolute")
    add("from_config", default=None)
    add("training_data", default=None, help="file name in the training channel (default: its only records file)")
    add("validation_split", type=float, default=defaults.validation_split)
    add("learning_rate", type=float, default=None)
    add("batch_size", type=int, default=defaults.batch_size)
    add("epochs", type=int, default=defaults.epochs)
    add("patience", type=int, default=defaults.patience)
    add("dropout", type=float, default=defaults.dropout)
    add("weight_decay", type=float, default=defaults.weight_decay)
    add("seed", type=int, default=defaults.seed)
    for flag in ("early_stopping", "multilingual", "thai_english_mixed", "character_level_features"):
        add(flag, type=_flag, nargs="?", const=True, default=False)
    add("model_dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    add("train", default=os.environ.get("SM_CHANNEL_TRAINING", "/opt/ml/input/data/training"))
    add("validation", default=os.environ.get("SM_CHANNEL_VALIDATION"), help="a channel with one labelled records file")
    add("output_data_dir", default=os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    return p


def find_training_file(channel: Path, name: str | None) -> Path:
    if name:
        path = channel / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: training data not found in the training channel")
        return path
    found = sorted(p for p in channel.iterdir() if p.is_file() and p.name != "aliases.json"
                   and p.suffix.lower() in JSONL_SUFFIXES | TSV_SUFFIXES)
    if len(found) != 1:
        raise FileNotFoundError(f"expected one records file in {channel}, found {[p.name for p in found]}; "
                                "pass --training_data")
    return found[0]


def score_validation_channel(channel: Path, model_dir: str, aliases: Path | None) -> dict:
    """Entity scores of the trained model on the validation channel's records (the evaluator's report)."""
    from inference.agents.ner_agent import NERAgent
    from training.pipelines.ner_evaluator import evaluate_records, evaluation_report, load_inputs

    records, table, _ = load_inputs(find_training_file(channel, None), aliases)
    return evaluation_report(evaluate_records(NERAgent.from_folder(model_dir), records, table))


def main(argv: list[str] | None = None) -> dict:
    args, unknown = parser().parse_known_args(script_args(argv))
    if unknown:
        print(f"Ignoring arguments {unknown}")
    channel = Path(args.train)
    tokenizer = args.tokenizer
    if tokenizer and not Path(tokenizer).is_absolute():
        tokenizer = str(channel / tokenizer)
    config = NERTrainingConfig(
        model_type=args.model_type, base_model=args.base_model, tokenizer=tokenizer, from_config=args.from_config,
        validation_split=args.validation_split, learning_rate=args.learning_rate, batch_size=args.batch_size,
        epochs=args.epochs, early_stopping=args.early_stopping, patience=args.patience, dropout=args.dropout,
        weight_decay=args.weight_decay, multilingual=args.multilingual, thai_english_mixed=args.thai_english_mixed,
        character_level_features=args.character_level_features, seed=args.seed)
    aliases = channel / "aliases.json"
    output_data = Path(args.output_data_dir)
    output_data.mkdir(parents=True, exist_ok=True)
    metrics = train_ner(find_training_file(channel, args.training_data), args.model_dir, config,
                        aliases=aliases if aliases.is_file() else None, record_dir=output_data)
    if args.validation:
        metrics["validation_channel"] = score_validation_channel(Path(args.validation), args.model_dir,
                                                                 aliases if aliases.is_file() else None)
    (output_data / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics


if __name__ == "__main__":
    main()
