"""SageMaker script-mode entry point: embedding fine-tuning inside a training job.

SageMaker runs `python sagemaker_jobs/train_embeddings.py --key value ...` (one pair per
hyperparameter, also given as the JSON SM_HPS) with SM_CHANNEL_TRAINING (the uploaded
product_brand_pairs.json) and SM_MODEL_DIR (saved as the job's model.tar.gz) set. It calls the same training function as local training
(training.pipelines.train_rag_pipeline.fine_tune_embeddings), so model.tar.gz unpacks into a
sentence-transformers folder that `train_rag_pipeline.py --register-model FOLDER` registers.
Metrics and the run record go to SM_OUTPUT_DATA_DIR. argparse, not typer: SageMaker's toolkit may
add arguments of its own, which parse_known_args ignores.
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

from sagemaker_jobs.hyperparameters import script_args  # noqa: E402
from training.pipelines.train_rag_pipeline import fine_tune_embeddings, load_pairs  # noqa: E402
from training.run_record import write_run_record  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    def add(name: str, **kwargs):  # accept --batch_size (SageMaker's keys) and --batch-size
        p.add_argument(f"--{name}", f"--{name.replace('_', '-')}", dest=name, **kwargs)

    add("base_model", default="paraphrase-multilingual-MiniLM-L12-v2")
    add("pairs_file", default="product_brand_pairs.json", help="file name in the training channel")
    add("epochs", type=int, default=5)
    add("batch_size", type=int, default=32)
    add("learning_rate", type=float, default=2e-5)
    add("seed", type=int, default=7)
    add("model_dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    add("train", default=os.environ.get("SM_CHANNEL_TRAINING", "/opt/ml/input/data/training"))
    add("output_data_dir", default=os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    return p


def main(argv: list[str] | None = None) -> dict:
    args, _ = parser().parse_known_args(script_args(argv))
    pairs_path = Path(args.train) / args.pairs_file
    metrics = fine_tune_embeddings(args.base_model, load_pairs(pairs_path), args.model_dir, args.epochs,
                                   args.batch_size, args.learning_rate, seed=args.seed)
    output = Path(args.output_data_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    write_run_record(output, "fine-tune-embeddings", vars(args), [pairs_path], metrics)
    return metrics


if __name__ == "__main__":
    main()
