"""Hyperparameter search for the transformer NER model (the manual's "Grid Search for Optimal
Parameters"): every combination of the grid is trained and scored by its validation entity F1
(seqeval), all on the same seeded split; the best combination is returned.

Every trial's scores are saved in `output` (default ner_hyperparameter_search/): trials.json,
trials.csv and best.json, with a run record (runs/<time>-ner-grid-search/) beside them.

Where the trials run: here, on the CPU, one after another. The manual passes aws_profile and
region; they are kept on the object, but a search in AWS (a SageMaker hyperparameter tuning job
over sagemaker_jobs/train_ner.py) is not built yet: future work. The trials fine-tune the base
model (xlm-roberta-base) when it can be loaded; without the Hugging Face hub each trial trains a
tiny XLM-R built from a config instead (`from_config`), with the given tokenizer, else
models/multilingual_tokenizer if it exists, else a WordPiece tokenizer trained on the training
names. With the tiny model and 2 epochs a trial takes about a second on the sample catalogue, so
the manual's 81-trial grid takes a few minutes on two cores. Note that the manual's learning
rates (1e-5 to 3e-5) are fine-tuning rates for a pretrained encoder: a model trained from scratch
learns little at them in 2 epochs, and the local ranking then mostly rewards more and larger
steps. `max_trials` runs a seeded random subset of the grid.

`trial_names` (default 1,500) caps the training names each trial sees, a seeded sample, like a
tuning job on a sample: the grid ranks settings, and the chosen setting is then trained on all
the data by train_ner_pipeline.py. On the manual's augmented sample (3,875 names) this cut the
81-trial grid from about 8 minutes to about 3 on two cores; validation is always the full split.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from inference.records import load_catalog
from training.pipelines.ner_training import (SAMPLE_CATALOG, HubUnreachable, NERTrainingConfig, load_pretrained,
                                             aliases_for, evaluate, load_tokenizer, prepare_data, train_transformer,
                                             wordpiece_tokenizer)
from training.preprocessing.ner_spans import Aliases
from training.run_record import write_run_record

@contextmanager
def one_torch_thread():
    """Trials train small models one after another: on one torch thread a trial took 18 s where
    torch's default threads took 227 s on a busy 2-core machine (they spin against other processes)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


SEARCHABLE = ("learning_rate", "batch_size", "dropout", "weight_decay", "epochs", "warmup_ratio")
LOCAL_TOKENIZER = Path("models/multilingual_tokenizer")


class NERHyperparameterSearch:
    def __init__(self, training_data: str | Path | None = None, aws_profile: str | None = None,
                 region: str | None = None, base_model: str = "xlm-roberta-base", tokenizer: str | None = None,
                 from_config: str | None = None, validation_split: float = 0.2, epochs: int = 2,
                 max_trials: int | None = None, output: str | Path = "ner_hyperparameter_search",
                 aliases: str | Path | None = None, seed: int = 13, multilingual: bool = False,
                 character_level_features: bool = False, trial_names: int | None = 1500,
                 log: Callable[[str], None] = print):
        self.training_data = Path(training_data) if training_data else SAMPLE_CATALOG
        self.aws_profile, self.region = aws_profile, region
        self.aliases = aliases_for(self.training_data, aliases)
        self.max_trials = max_trials
        self.trial_names = trial_names
        self.output = Path(output)
        self.log = log
        self.base = NERTrainingConfig(model_type="transformer", base_model=base_model, tokenizer=tokenizer,
                                      from_config=from_config, validation_split=validation_split, epochs=epochs,
                                      seed=seed, multilingual=multilingual,
                                      character_level_features=character_level_features)
        self.results: list[dict[str, Any]] = []
        self.best_params: dict[str, Any] | None = None
        self.best_score: float | None = None

    def _resolve(self, records) -> tuple[NERTrainingConfig, Any]:
        """The base config and tokenizer the trials share (see the module docstring)."""
        from transformers import AutoConfig

        config = self.base
        if config.from_config is None:
            try:
                load_pretrained(AutoConfig, config.base_model)
            except HubUnreachable:
                config = replace(config, from_config="tiny")
                self.log(f"The Hugging Face hub is unreachable: each trial trains a tiny XLM-R built from a config "
                         f"instead of {config.base_model}")
        if config.tokenizer is None and config.from_config is not None:
            if LOCAL_TOKENIZER.is_dir():
                config = replace(config, tokenizer=str(LOCAL_TOKENIZER))
            else:
                return config, None  # trained on the training names once the words are known
        return config, load_tokenizer(config)

    def trials(self, grid: dict[str, list]) -> list[dict[str, Any]]:
        if not isinstance(grid, dict) or not grid:
            raise ValueError("the grid must be a non-empty dict of parameter -> list of values")
        unknown = set(grid) - set(SEARCHABLE)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}; searchable: {', '.join(SEARCHABLE)}")
        for key, values in grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"grid values for {key!r} must be a non-empty list")
        keys = list(grid)
        combos = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
        if self.max_trials and self.max_trials < len(combos):
            chosen = sorted(random.Random(self.base.seed).sample(range(len(combos)), self.max_trials))
            combos = [combos[i] for i in chosen]
        return combos

    def grid_search(self, grid: dict[str, list]) -> dict[str, Any]:
        """Train every combination (or `max_trials` of them); returns the best parameters."""
        combos = self.trials(grid)
        records = load_catalog(self.training_data)
        config, tokenizer = self._resolve(records)
        data = prepare_data(records, Aliases.load(self.aliases), config)
        if not data.validation:
            raise ValueError("a search needs a validation split: validation_split must be above 0")
        if self.trial_names and len(data.train) > self.trial_names:
            kept = sorted(random.Random(self.base.seed).sample(range(len(data.train)), self.trial_names))
            self.log(f"Each trial trains on {self.trial_names} of the {len(data.train)} training names (trial_names)")
            data = replace(data, train=[data.train[i] for i in kept])
        if tokenizer is None:
            tokenizer = wordpiece_tokenizer([item.text for item in data.train], data.word_tokenizer)
            self.log("No tokenizer given or found: trained a WordPiece tokenizer on the training names")
        if self.aws_profile:
            self.log(f"Running {len(combos)} trials locally (a SageMaker tuning job for profile {self.aws_profile} "
                     "is not built yet)")
        self.results = []
        started = time.perf_counter()
        with one_torch_thread():
            for number, params in enumerate(combos, start=1):
                details = self._trial(number, len(combos), params, config, data, tokenizer)
        best = max(self.results, key=lambda r: (r["f1"], -r["trial"]))  # ties: the earlier trial
        if not any(r["f1"] for r in self.results):
            why = ("a model built from a config learns little at fine-tuning learning rates"
                   if config.from_config else "no model learned to tag")
            self.log(f"warning: every trial scored validation entity F1 0, so the 'best' parameters are only the "
                     f"first trial's: {why} in {config.epochs} epoch(s); widen the grid (e.g. learning_rate 3e-3) "
                     f"or train longer (epochs=...)")
        self.best_params = {k: best[k] for k in combos[0]}
        self.best_score = best["f1"]
        summary = {"best_params": self.best_params, "best_f1": self.best_score, "trials": len(self.results),
                   "seconds": round(time.perf_counter() - started, 2), "built": details["built"],
                   "tokenizer": config.tokenizer or "trained on the training names", "epochs": config.epochs,
                   "names_per_trial": len(data.train)}
        self._save(grid, summary)
        self.log(f"Best parameters {self.best_params} (validation entity F1 {self.best_score}); "
                 f"{len(self.results)} trials saved in {self.output}")
        return dict(self.best_params)

    def _trial(self, number: int, total: int, params: dict[str, Any], config: NERTrainingConfig, data,
               tokenizer) -> dict[str, Any]:
        """Train and score one combination; its row joins `results`; returns the training details."""
        t0 = time.perf_counter()
        model, details = train_transformer(data, replace(config, **params), tokenizer=tokenizer, log=lambda _: None)
        scores = evaluate(model, data.validation)
        row = {"trial": number, **params, "f1": scores["f1"], "precision": scores["precision"],
               "recall": scores["recall"], "brand_f1": scores["per_type"].get("BRAND", {}).get("f1"),
               "category_f1": scores["per_type"].get("CATEGORY", {}).get("f1"),
               "best_epoch": details["best_epoch"], "seconds": round(time.perf_counter() - t0, 2)}
        self.results.append(row)
        self.log(f"trial {number}/{total} {params}: validation entity F1 {row['f1']} ({row['seconds']} s)")
        return details

    def _save(self, grid: dict[str, list], summary: dict[str, Any]) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        (self.output / "trials.json").write_text(json.dumps(self.results, indent=2), encoding="utf-8")
        with (self.output / "trials.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.results[0]))
            writer.writeheader()
            writer.writerows(self.results)
        (self.output / "best.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        params = {"grid": grid, "training_data": str(self.training_data), "aliases": str(self.aliases or ""),
                  "base_model": self.base.base_model, "tokenizer": self.base.tokenizer,
                  "from_config": self.base.from_config, "validation_split": self.base.validation_split,
                  "epochs": self.base.epochs, "max_trials": self.max_trials, "seed": self.base.seed,
                  "aws_profile": self.aws_profile, "region": self.region}
        write_run_record(self.output, "ner-grid-search", params, [self.training_data, self.aliases], summary)
