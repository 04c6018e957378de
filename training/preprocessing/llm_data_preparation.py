"""Fine-tuning data for the LLM stage: labelled records as Bedrock conversation JSONL, checked and uploaded.

    python training/preprocessing/llm_data_preparation.py --input training_dataset.txt \\
        --output conversation_format.jsonl --format bedrock_nova --include-reasoning [--validation-split 0.1]
    python training/preprocessing/llm_data_preparation.py --validate --input conversation_format.jsonl
    python training/preprocessing/llm_data_preparation.py --upload-to-s3 --input conversation_format.jsonl \\
        --bucket BUCKET --key PREFIX/conversation_format.jsonl --aws-profile ml-sandbox --region us-east-1

One record per labelled product: `{"schemaVersion": "bedrock-conversation-2024", "system": [...],
"messages": [user, assistant]}`. The system text and the user prompt are the runtime LLM agent's own
(`inference.agents.llm_agent.SYSTEM_PROMPT` and `LLMAgent.build_prompt`), with the NER entities and
RAG neighbours the local pipeline finds for the name when a home is bootstrapped (the record itself
is left out of its neighbours), so the model is trained on exactly what it will be asked. The
assistant answers with the JSON object the agent parses; `--include-reasoning` puts a short reasoning
before it, built only from facts of the record: where the brand (or a known alias) is written in the
name, and how many of the neighbours shown agree.

The answer's confidences follow one stated rule, not a guess: 0.95 when the label is written in the
name; otherwise 0.5 + 0.4 x the share of shown neighbours that agree (0.5 with no neighbours).

Bedrock's dataset rules (record count, roles, reserved words, sizes) are in training.pipelines.bedrock_nova,
with their sources; `validate_conversation_format` says which line breaks which rule.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from inference.brands import brand_key, same_brand
from inference.normalize import normalize_name, script_of
from inference.records import Record
from training.pipelines.bedrock_nova import (CONTEXT_TOKENS, MAX_RECORDS, MIN_RECORDS, RESERVED_WORDS, S3_NAME,
                                             SCHEMA_VERSION, NovaSettingError, check_dataset_key, fine_tunable_model)

FORMATS = ("bedrock_nova",)
DEFAULT_BASE_MODEL = "amazon.nova-pro-v1:0"
BATCH = 256
EXTRA_NEIGHBOURS = 5  # searched beyond top_k, so that leaving the record (and copies) out still fills top_k


class DatasetError(ValueError):
    """Input that cannot be turned into a dataset, or a dataset Bedrock would refuse."""


# -- the LLM stage's context, from the local pipeline ------------------------------------------------

class PipelineContext:
    """What the hybrid hands the LLM stage for a name: NER entities, and the RAG neighbours that
    voted (searched with those entities), with the hybrid's default context-passing settings."""

    def __init__(self, registry):
        from inference.agents.hybrid_agent import DEFAULT_CONTEXT
        from inference.agents.ner_agent import NERAgent
        from inference.agents.rag_agent import RAGAgent

        self.registry = registry
        self.ner = NERAgent(registry)
        self.rag = RAGAgent(registry)
        self.ner_to_rag = dict(DEFAULT_CONTEXT["ner_to_rag"])
        self.llm_context = {**DEFAULT_CONTEXT["rag_to_llm"], "pass_entities": self.ner_to_rag["pass_entities"]}

    @classmethod
    def open(cls, registry) -> "PipelineContext | None":
        """The context of a bootstrapped home, or None when it has no NER/embedding/RAG models."""
        if not all(registry.has_model(t) for t in ("ner", "embedding", "rag")):
            return None
        return cls(registry)

    def lookup(self, texts: Sequence[str], exclude_self: bool = False) -> list[tuple[list, list[dict]]]:
        """(entities, neighbours) per normalised name, as RAGAgent.predict_batch finds them. With
        `exclude_self`, catalogue rows with the same name (the record itself, or a copy of it) are
        left out of its neighbours: a training prompt must not hold its own answer. (That search
        is the agent's plain one: a registry with translated queries switched on is not honoured.)"""
        out: list[tuple[list, list[dict]]] = []
        for start in range(0, len(texts), BATCH):
            chunk = list(texts[start:start + BATCH])
            entities = [a.entities for a in self.ner.predict_batch(chunk)]
            if not exclude_self:
                answers = self.rag.predict_batch(chunk, entities, self.ner_to_rag)
            else:
                top_k = int(self.rag.search_config["top_k"])
                vectors = self.rag.query_vectors(chunk, entities, self.ner_to_rag)
                hits = self.rag.store.search(vectors, limit=top_k + EXTRA_NEIGHBOURS)
                answers = [self.rag.vote(text, [h for h in found if brand_key(h.get("name")) != brand_key(text)][:top_k])
                           for text, found in zip(chunk, hits)]
            out.extend((e, a.evidence) for e, a in zip(entities, answers))
        return out

    def shown(self, neighbours: Sequence[dict]) -> list[dict]:
        """The neighbours the prompt shows (LLMAgent.build_prompt's rule), which the reasoning counts."""
        if not self.llm_context.get("pass_similar_products", True):
            return []
        return list(neighbours)[: max(0, int(self.llm_context.get("max_context_products", 5)))]

    def close(self) -> None:
        self.rag.close()


# -- the assistant's answer ----------------------------------------------------------------------------

@dataclass
class Evidence:
    """Facts about one record that the reasoning and the confidences are built from."""

    brand_span: str | None  # where the brand (or an alias) is written in the name
    category_span: str | None
    shown: int  # neighbours shown in the prompt (-1: no context at all)
    brand_votes: int  # shown neighbours of the record's brand
    category_votes: int


def find_evidence(record: Record, text: str, tokens, aliases, shown: Sequence[dict] | None) -> Evidence:
    from training.preprocessing.ner_spans import find_span

    def span(table: str, label: str | None) -> str | None:
        found = find_span(text, tokens, aliases.forms(table, label)) if label else None
        return text[found[0]:found[1]] if found else None

    shown = None if shown is None else list(shown)
    return Evidence(
        brand_span=span("brands", record.brand),
        category_span=span("categories", record.category),
        shown=-1 if shown is None else len(shown),
        brand_votes=sum(same_brand(n.get("brand"), record.brand) for n in shown or []),
        category_votes=sum(same_brand(n.get("category"), record.category) for n in shown or []) if record.category else 0,
    )


def confidence(written: bool, votes: int, shown: int) -> float:
    """The module's stated rule: 0.95 if written in the name, else 0.5 + 0.4 x neighbour agreement."""
    if written:
        return 0.95
    return round(0.5 + 0.4 * votes / shown, 2) if shown > 0 else 0.5


def reasoning(record: Record, evidence: Evidence) -> str:
    """A few sentences from the evidence only, e.g. "The name contains 'คอลเกต', the Thai spelling
    of Colgate; 4 of 5 similar catalogue products are Colgate, 5 of 5 Toothpaste."."""
    brand, category = record.brand, record.category
    parts = []
    span = evidence.brand_span
    if span is None:
        parts.append("The name does not spell out the brand")
    elif brand_key(span) == brand_key(brand):
        parts.append(f"The name contains the brand name '{span}'")
    elif script_of(span) == "th" and script_of(brand) != "th":
        parts.append(f"The name contains '{span}', the Thai spelling of {brand}")
    else:
        parts.append(f"The name contains '{span}', a name of {brand}")
    if evidence.category_span and category:
        if brand_key(evidence.category_span) == brand_key(category):
            parts.append(f"'{evidence.category_span}' names the category")
        else:
            parts.append(f"'{evidence.category_span}' names the category {category}")
    n = evidence.shown
    if n == 0:
        parts.append("no similar catalogue product was found")
    elif n > 0:
        votes = evidence.brand_votes
        if votes == 0:
            sentence = f"none of the {n} similar catalogue products is {brand}"
        else:
            sentence = f"{votes} of {n} similar catalogue products {'is' if votes == 1 else 'are'} {brand}"
        if category:
            sentence += f", {evidence.category_votes} of {n} {category}"
        parts.append(sentence)
    text = "; ".join(parts) + "."
    # parse_answer takes the first "{" as the answer's start: no braces in the prose.
    return text.replace("{", "(").replace("}", ")")


def assistant_text(record: Record, evidence: Evidence, include_reasoning: bool) -> str:
    """The JSON object the agent parses, after the reasoning when asked for."""
    shown = max(evidence.shown, 0)
    answer = {
        "brand": record.brand,
        "category": record.category,
        "brand_confidence": confidence(evidence.brand_span is not None, evidence.brand_votes, shown),
        "category_confidence": (confidence(evidence.category_span is not None, evidence.category_votes, shown)
                                if record.category else 0.0),
    }
    body = json.dumps(answer, ensure_ascii=False)
    return f"{reasoning(record, evidence)}\n{body}" if include_reasoning else body


def conversation_record(system: str, user: str, assistant: str) -> dict[str, Any]:
    return {"schemaVersion": SCHEMA_VERSION, "system": [{"text": system}],
            "messages": [{"role": "user", "content": [{"text": user}]},
                         {"role": "assistant", "content": [{"text": assistant}]}]}


def reserved_words_in(text: str) -> list[str]:
    """The reserved words in `text`, compared without case (as AWS's dataset validator does)."""
    folded = text.casefold()
    return [w for w in RESERVED_WORDS if w.casefold() in folded]


# -- preparing a dataset --------------------------------------------------------------------------------

def prepare_conversations(input_path: str | Path, output: str | Path, include_reasoning: bool = False,
                          registry=None, aliases: str | Path | None = None, use_context: bool = True,
                          validation_split: float = 0.0, validation_output: str | Path | None = None, seed: int = 13,
                          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write the conversation dataset (and a validation dataset with `validation_split`); returns a
    summary. DatasetError for a bad input file (every bad line named)."""
    from inference.agents.llm_agent import LLMAgent
    from inference.records import CatalogError, load_catalog
    from inference.tokenization import Tokenizer
    from training.preprocessing.ner_spans import Aliases

    input_path, output = Path(input_path), Path(output)
    try:
        records = load_catalog(input_path)
    except (CatalogError, ValueError, FileNotFoundError) as exc:
        raise DatasetError(str(exc)) from None
    if aliases is None and (input_path.parent / "aliases.json").is_file():
        aliases = input_path.parent / "aliases.json"  # an alias table beside a catalogue belongs to it
    try:
        alias_table = Aliases.load(aliases)
    except (ValueError, OSError) as exc:
        raise DatasetError(f"aliases {aliases}: {exc}") from None
    if not 0.0 <= validation_split < 1.0:
        raise DatasetError(f"--validation-split {validation_split}: expected a fraction in [0, 1)")

    texts = [normalize_name(r.name) for r in records]
    words = set(alias_table.all_words()) | {w for r in records for w in (r.brand, r.category) if w}
    tokenizer = Tokenizer(words)
    context = PipelineContext.open(registry) if (use_context and registry is not None) else None
    if use_context and context is None:
        where = getattr(registry, "location", "the default home")
        log(f"No bootstrapped home at {where}: prompts carry no NER entities or RAG neighbours "
            f"(run `product-infer bootstrap` or pass --home)")
    try:
        found = context.lookup(texts, exclude_self=True) if context else [([], [])] * len(records)
    finally:
        if context:
            context.close()

    agent = LLMAgent()  # only its prompt builder: no model is called
    rows, skipped = [], []
    written_brand = agreeing = shown_total = 0
    for record, text, (entities, neighbours) in zip(records, texts, found):
        llm_context = context.llm_context if context else None
        system, user = agent.build_prompt(text, entities, neighbours, llm_context)
        shown = context.shown(neighbours) if context else None
        evidence = find_evidence(record, text, tokenizer.tokenize(text), alias_table, shown)
        assistant = assistant_text(record, evidence, include_reasoning)
        bad = reserved_words_in(system + "\n" + user + "\n" + assistant)
        if bad:
            skipped.append({"line": record.line, "reason": f"holds the reserved word(s) {bad}"})
            log(f"{input_path}:{record.line}: skipped: the prompt or answer holds Bedrock's reserved word(s) {bad}")
            continue
        rows.append(conversation_record(system, user, assistant))
        written_brand += evidence.brand_span is not None
        if evidence.shown > 0:
            shown_total += evidence.shown
            agreeing += evidence.brand_votes

    validation_rows: list[dict] = []
    if validation_split > 0:
        order = list(range(len(rows)))
        random.Random(seed).shuffle(order)
        held = set(order[: max(1, round(len(rows) * validation_split))])
        validation_rows = [r for i, r in enumerate(rows) if i in held]
        rows = [r for i, r in enumerate(rows) if i not in held]
    _write_jsonl(rows, output)
    summary: dict[str, Any] = {
        "input": str(input_path), "output": str(output), "records": len(rows), "skipped": skipped,
        "include_reasoning": include_reasoning,
        "context": str(getattr(registry, "location", "")) if context else None,
        "brand_written_in_name": round(written_brand / max(len(rows) + len(validation_rows), 1), 4),
        "neighbour_brand_agreement": round(agreeing / shown_total, 4) if shown_total else None,
    }
    if validation_rows:
        validation_output = Path(validation_output or output.with_name(f"{output.stem}_validation{output.suffix}"))
        _write_jsonl(validation_rows, validation_output)
        summary.update(validation_output=str(validation_output), validation_records=len(validation_rows))
    return summary


def _write_jsonl(rows: Iterable[dict], path: Path) -> None:
    with Path(path).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


# -- checking a dataset ---------------------------------------------------------------------------------

def validate_conversation_format(path: str | Path, base_model: str = DEFAULT_BASE_MODEL) -> dict[str, Any]:
    """Check a conversation JSONL file against Bedrock's rules for Nova fine-tuning data.

    Returns {"valid", "records", "errors": [{"line", "rule", "message"}], "warnings", "path",
    "base_model", "limits"}; line 0 is the file as a whole. Rules: file, json, schema, roles,
    empty_text, reserved_word, size, record_count.
    """
    path = Path(path)
    model, _ = fine_tunable_model(base_model)
    limits = {"min_records": MIN_RECORDS, "max_records": MAX_RECORDS, "context_tokens": CONTEXT_TOKENS[model],
              "reserved_words": list(RESERVED_WORDS)}
    errors: list[dict[str, Any]] = []
    warnings: list[str] = []

    def error(line: int, rule: str, message: str) -> None:
        errors.append({"line": line, "rule": rule, "message": f"{path}:{line}: {message}" if line else f"{path}: {message}"})

    report = {"valid": False, "path": str(path), "base_model": model, "records": 0, "errors": errors,
              "warnings": warnings, "limits": limits}
    if not path.is_file():
        error(0, "file", "no such file")
        return report
    if path.suffix.lower() != ".jsonl":
        error(0, "file", "Bedrock reads JSON Lines datasets: the file name must end in .jsonl")
    if not S3_NAME.match(path.name):
        warnings.append(f"{path.name}: Bedrock accepts dataset names of letters, digits, _ - / . only; "
                        f"upload it under such a key")
    records = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                error(number, "json", f"invalid UTF-8 at byte {exc.start}")
                continue
            if not line:
                error(number, "json", "empty line (each line must hold one record)")
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                error(number, "json", f"malformed JSON: {exc.msg} (column {exc.colno})")
                continue
            records += 1
            for rule, message in check_record(record, limits["context_tokens"], model):
                error(number, rule, message)
    report["records"] = records
    if records < MIN_RECORDS:
        error(0, "record_count", f"{records} records; Bedrock needs at least {MIN_RECORDS}")
    elif records > MAX_RECORDS:
        error(0, "record_count", f"{records} records; Bedrock takes at most {MAX_RECORDS:,}")
    report["valid"] = not errors
    return report


def check_record(record: Any, context_tokens: int, model: str) -> list[tuple[str, str]]:
    """(rule, message) for each way one record breaks Bedrock's conversation schema."""
    if not isinstance(record, dict):
        return [("schema", f"expected a JSON object, got {type(record).__name__}")]
    problems: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []  # (where, text)
    version = record.get("schemaVersion")
    if version is not None and not isinstance(version, str):
        problems.append(("schema", "'schemaVersion' must be a string"))
    system = record.get("system")
    if system is not None:
        if not isinstance(system, list) or not all(isinstance(s, dict) and isinstance(s.get("text"), str) for s in system):
            problems.append(("schema", "'system' must be a list of {\"text\": string} blocks"))
        else:
            texts += [("system", s["text"]) for s in system]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return problems + [("schema", "'messages' must be a non-empty list")]
    for i, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or not isinstance(message.get("content"), list) or not message["content"]:
            problems.append(("schema", f"message {i} must be an object with 'role' and a non-empty 'content' list"))
            continue
        role = message.get("role")
        expected = "user" if i % 2 else "assistant"
        if role not in ("user", "assistant"):
            problems.append(("roles", f"message {i} has role {role!r}; the roles are 'user' and 'assistant'"))
        elif role != expected:
            if i == 1:
                problems.append(("roles", f"message 1 has role {role!r}: the conversation must start with the user"))
            else:
                problems.append(("roles", f"message {i} has role {role!r} after {messages[i - 2].get('role')!r}: "
                                          f"roles must alternate user, assistant"))
        for block in message["content"]:
            if not isinstance(block, dict) or "text" not in block:
                problems.append(("schema", f"message {i}: every content block needs 'text' (this dataset is text only)"))
            elif not isinstance(block["text"], str) or not block["text"].strip():
                problems.append(("empty_text", f"message {i} ({role}) has an empty text"))
            else:
                texts.append((f"message {i} ({role})", block["text"]))
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") != "assistant":
        problems.append(("roles", f"the last message has role {last.get('role')!r}: it must be the assistant's answer"))
    for where, text in texts:
        for word in reserved_words_in(text):
            problems.append(("reserved_word", f"{where} contains the reserved word {word!r} (Bedrock fails the job on it)"))
    size = sum(len(t) for _, t in texts)
    if size > context_tokens:
        problems.append(("size", f"{size:,} characters: more than the {context_tokens:,}-token context of {model} "
                                 f"(estimate: one token per character)"))
    return problems


# -- uploading ------------------------------------------------------------------------------------------

def upload_to_s3(path: str | Path, bucket: str, key: str, profile: str | None = None, region: str | None = None,
                 client=None, base_model: str = DEFAULT_BASE_MODEL) -> dict[str, Any]:
    """Validate, then upload through the session factory; returns {"uri", "records"}."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    report = validate_conversation_format(path, base_model)
    if not report["valid"]:
        raise DatasetError(_errors_text(report, "not uploaded"))
    try:
        check_dataset_key(key)
    except NovaSettingError as exc:
        raise DatasetError(str(exc)) from None
    if client is None:
        from inference import aws

        client = aws.client("s3", profile, region)
    try:
        client.upload_file(str(path), bucket, key)
    except (S3UploadFailedError, ClientError, BotoCoreError) as exc:
        raise DatasetError(f"upload of {path} to s3://{bucket}/{key} failed: {exc}") from None
    return {"uri": f"s3://{bucket}/{key}", "records": report["records"]}


def _errors_text(report: dict[str, Any], what: str, limit: int = 20) -> str:
    shown = [e["message"] + f" [{e['rule']}]" for e in report["errors"][:limit]]
    more = len(report["errors"]) - limit
    return (f"{report['path']} breaks Bedrock's dataset rules ({len(report['errors'])} problem(s); {what}):\n  "
            + "\n  ".join(shown) + (f"\n  ... and {more} more" if more > 0 else ""))


# -- command line ---------------------------------------------------------------------------------------

def main() -> None:
    import typer
    from rich.console import Console
    from rich.markup import escape

    app = typer.Typer(add_completion=False)
    err = Console(stderr=True, soft_wrap=True)

    @app.command(help=__doc__.split("\n\n")[0])
    def command(
        input: Optional[Path] = typer.Option(None, "--input", help="Records (TSV name<TAB>brand<TAB>category, or JSONL); "
                                                                   "with --upload-to-s3/--validate: the conversation JSONL."),
        output: Optional[Path] = typer.Option(None, "--output", help="Conversation JSONL to write."),
        format: str = typer.Option("bedrock_nova", "--format", help="Dataset format: bedrock_nova (Bedrock conversation JSONL)."),
        include_reasoning: bool = typer.Option(False, "--include-reasoning",
                                               help="Put a short reasoning from the record's facts before the JSON answer."),
        validation_split: float = typer.Option(0.0, "--validation-split", help="Hold out this fraction as validation data."),
        validation_output: Optional[Path] = typer.Option(None, "--validation-output",
                                                         help="Validation JSONL (default: <output>_validation.jsonl)."),
        seed: int = typer.Option(13, "--seed", help="Seed of the validation split."),
        home: Optional[Path] = typer.Option(None, "--home", help="Bootstrapped home whose NER/RAG give the prompts' context "
                                                                 "(default $PRODUCT_INFERENCE_HOME or ~/.product-inference)."),
        no_context: bool = typer.Option(False, "--no-context", help="Prompts with the name only (no NER entities, no neighbours)."),
        aliases: Optional[Path] = typer.Option(None, "--aliases", help="Alias table (JSON); default: aliases.json beside the input."),
        validate: bool = typer.Option(False, "--validate", help="Only check --input against Bedrock's dataset rules."),
        base_model: str = typer.Option(DEFAULT_BASE_MODEL, "--base-model", help="Model the data is for (size limits)."),
        upload_to_s3_: bool = typer.Option(False, "--upload-to-s3", help="Validate --input and upload it to --bucket/--key."),
        bucket: Optional[str] = typer.Option(None, "--bucket", help="S3 bucket for --upload-to-s3."),
        key: Optional[str] = typer.Option(None, "--key", help="S3 key for --upload-to-s3."),
        aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="AWS profile (session factory)."),
        region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)."),
    ):
        out = Console(soft_wrap=True)
        log = lambda m: err.print(m, markup=False, highlight=False)  # noqa: E731
        try:
            if input is None:
                raise DatasetError("give --input")
            if upload_to_s3_:
                if not bucket or not key:
                    raise DatasetError("--upload-to-s3 needs --bucket and --key")
                result = upload_to_s3(input, bucket, key, aws_profile, region, base_model=base_model)
                out.print(f"Uploaded {result['records']} records to {result['uri']}", markup=False)
                return
            if validate:
                report = validate_conversation_format(input, base_model)
                _print_report(report, out)
                if not report["valid"]:
                    raise typer.Exit(code=1)
                return
            if format not in FORMATS:
                raise DatasetError(f"--format {format!r} is not supported; supported: {', '.join(FORMATS)}")
            if output is None:
                raise DatasetError("give --output (the conversation JSONL to write)")
            if not output.parent.is_dir():
                raise DatasetError(f"cannot write {output}: folder {output.parent} does not exist")
            from inference.config.model_registry import ModelRegistry

            if home is not None and not home.is_dir():
                raise DatasetError(f"--home {home}: no such folder")
            registry = None if no_context else ModelRegistry(home=home)
            summary = prepare_conversations(input, output, include_reasoning, registry, aliases, not no_context,
                                            validation_split, validation_output, seed, log)
            reports = [validate_conversation_format(output, base_model)]
            if summary.get("validation_output"):
                reports.append(validate_conversation_format(summary["validation_output"], base_model))
            summary["valid"] = all(r["valid"] for r in reports)
            from training.run_record import write_run_record

            run = write_run_record(output.resolve().parent, "llm-data-preparation",
                                   {"input": str(input), "output": str(output), "format": format,
                                    "include_reasoning": include_reasoning, "validation_split": validation_split,
                                    "seed": seed, "context": summary["context"], "aliases": str(aliases or "")},
                                   [input, aliases], summary)
            out.print(f"Wrote {summary['records']} conversation records to {output}"
                      + (f" and {summary['validation_records']} to {summary['validation_output']}"
                         if summary.get("validation_output") else "")
                      + f" (context: {summary['context'] or 'none'}; reasoning: {'yes' if include_reasoning else 'no'}; "
                        f"skipped {len(summary['skipped'])}); run record in {run}", markup=False)
            for report in reports:
                _print_report(report, out)
            if not summary["valid"]:
                raise typer.Exit(code=1)
        except (DatasetError, NovaSettingError, OSError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(code=2)

    app()


def _print_report(report: dict[str, Any], out) -> None:
    if report["valid"]:
        out.print(f"{report['path']}: valid for Bedrock ({report['records']} records, {report['base_model']})", markup=False)
    else:
        out.print(_errors_text(report, "fix them before fine-tuning"), markup=False)
    for warning in report["warnings"]:
        out.print(f"warning: {warning}", markup=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
