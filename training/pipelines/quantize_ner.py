"""Quantize a trained transformer NER model to int8 and measure what it costs and gains (the
manual's "Use Quantized Models").

    python training/pipelines/quantize_ner.py --model-path models/ner_model \\
        --output models/ner_model_quantized.bin

torch dynamic quantization turns the Linear layers' weights into int8 (activations are quantized
on the fly), and the result is saved as one self-contained .bin (see
inference.agents.ner_transformer). Then it measures, rather than assumes:
- performance_boost: fp32 latency / int8 latency, tagging the validation names (best of
  `--repeats` runs, in batches of `--batch-size`) on this machine's CPU;
- accuracy_loss: validation entity F1 (seqeval) of the fp32 model minus that of the int8 model.
The validation names are the held-out part of the model's own training split (recomputed from
the model folder's metrics.json: same file, seed and share), or `--validation-data`.
It prints both and registers `ner-quantized` with `model_path`, `quantization: int8` and the
measured values (not switched to unless `--activate`). Small models gain little or nothing from
int8 (the work is not in the matrix products): the number says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

import typer

DEFAULT_OUTPUT = Path("models/ner_model_quantized.bin")


def validation_records(model_path: Path, validation_data: Path | None):
    """(records, aliases path) to measure on: the given file, or the model's own validation split."""
    from inference.records import load_catalog
    from training.pipelines.ner_training import aliases_for, split_records

    if validation_data:
        return load_catalog(validation_data), aliases_for(validation_data)
    metrics_file = model_path / "metrics.json"
    data = json.loads(metrics_file.read_text(encoding="utf-8")).get("data") if metrics_file.is_file() else None
    if not data or not data.get("validation_split") or not Path(data["training_data"]).is_file():
        raise ValueError(f"{model_path} does not say which data it was validated on (metrics.json 'data'); "
                         "pass --validation-data")
    records = load_catalog(data["training_data"])
    _, validation = split_records(records, data["validation_split"], data["seed"], data.get("stratified_by_script"))
    return validation, (Path(data["aliases"]) if data.get("aliases") else None)


def _latency(model, names: list[str], batch_size: int, repeats: int) -> float:
    """Best-of-`repeats` seconds to tag all names, after one warm-up pass."""
    def run():
        for start in range(0, len(names), batch_size):
            model.entities_batch(names[start:start + batch_size])

    run()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def quantize_ner(model_path: str | Path = "models/ner_model", output: str | Path = DEFAULT_OUTPUT,
                 validation_data: str | Path | None = None, register: bool = True, name: str = "ner-quantized",
                 activate: bool = False, home: str | Path | None = None, batch_size: int = 32, repeats: int = 3,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Quantize, save, measure, register; returns the measurements."""
    import torch

    from inference.agents.ner_transformer import TransformerNERModel
    from inference.config.model_registry import ModelRegistry
    from training.pipelines.ner_training import evaluate
    from training.preprocessing.ner_spans import Aliases, align_records
    from training.run_record import write_run_record

    model_path, output = Path(model_path), Path(output)
    manifest = model_path / "ner_model.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{model_path} is not a saved NER model (no ner_model.json)")
    if json.loads(manifest.read_text(encoding="utf-8")).get("backend") != "transformer":
        raise ValueError(f"{model_path} is not a transformer NER model: only transformers are quantized")
    lexicon_path = model_path / "lexicon.json"
    lexicon = json.loads(lexicon_path.read_text(encoding="utf-8")) if lexicon_path.is_file() else None
    fp32 = TransformerNERModel.load(model_path, json.loads(manifest.read_text(encoding="utf-8")))
    int8 = fp32.quantized("int8")
    int8.save_quantized(output, lexicon)
    log(f"Saved the int8 model to {output} ({output.stat().st_size / 1e6:.1f} MB; "
        f"fp32 weights {sum(p.stat().st_size for p in model_path.glob('*.safetensors')) / 1e6:.1f} MB)")

    records, aliases = validation_records(model_path, Path(validation_data) if validation_data else None)
    items = align_records(records, Aliases.load(aliases), fp32.word_tokenizer)
    f1_fp32, f1_int8 = evaluate(fp32, items)["f1"], evaluate(int8, items)["f1"]
    names = [item.text for item in items]
    fp32_s = _latency(fp32, names, batch_size, repeats)
    int8_s = _latency(int8, names, batch_size, repeats)
    measured = {"performance_boost": round(fp32_s / int8_s, 2), "accuracy_loss": round(f1_fp32 - f1_int8, 4),
                "validation_f1_fp32": f1_fp32, "validation_f1_int8": f1_int8, "validation_names": len(names),
                "fp32_ms_per_name": round(1000 * fp32_s / len(names), 3),
                "int8_ms_per_name": round(1000 * int8_s / len(names), 3), "torch_threads": torch.get_num_threads(),
                "batch_size": batch_size}
    log(f"performance_boost {measured['performance_boost']} (fp32 {measured['fp32_ms_per_name']} ms/name, int8 "
        f"{measured['int8_ms_per_name']} ms/name); accuracy_loss {measured['accuracy_loss']} (entity F1 "
        f"{f1_fp32} -> {f1_int8} on {len(names)} validation names)")
    run = write_run_record(output.parent, "quantize-ner", {"model_path": str(model_path), "output": str(output),
                                                           "validation_data": str(validation_data or "")},
                           [output, Path(validation_data) if validation_data else None], measured)
    measured["run_record"] = str(run.resolve())
    if register:
        registry = ModelRegistry(home=home)
        registry.register_model("ner", name, {
            "model_path": str(output.resolve()), "quantization": "int8", "backend": "transformer",
            "performance_boost": measured["performance_boost"], "accuracy_loss": measured["accuracy_loss"],
            "source_model": str(model_path.resolve()), "validation_f1": f1_int8, "run_record": measured["run_record"],
        }, activate=True if activate else None)
        log(f"Registered NER model {name!r} in {registry.location}" + (" and switched to it" if activate else ""))
    return measured


app = typer.Typer(add_completion=False, rich_markup_mode=None)
_PARAGRAPHS = __doc__.split("\n\n")
HELP = "\n\n".join([_PARAGRAPHS[0], "\b\n" + _PARAGRAPHS[1], *_PARAGRAPHS[2:]])


@app.command(help=HELP)
def main(
    model_path: Path = typer.Option(Path("models/ner_model"), "--model-path", help="trained transformer NER folder"),
    output: Path = typer.Option(DEFAULT_OUTPUT, "--output", help="the int8 model file"),
    validation_data: Optional[Path] = typer.Option(None, "--validation-data",
                                                   help="records to measure on (default: the model's validation split)"),
    name: str = typer.Option("ner-quantized", "--model-name", help="registry name"),
    register: bool = typer.Option(True, "--register/--no-register"),
    activate: bool = typer.Option(False, "--activate", help="switch the NER stage to the quantized model"),
    home: Optional[Path] = typer.Option(None, "--home", help="local home holding the registry"),
    batch_size: int = typer.Option(32, "--batch-size", help="names per batch when timing"),
    repeats: int = typer.Option(3, "--repeats", help="timed runs (the best counts)"),
) -> None:
    from rich.console import Console

    try:
        quantize_ner(model_path, output, validation_data, register, name, activate, home, batch_size, repeats)
    except (ValueError, OSError, RuntimeError) as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
