"""The model archive a SageMaker endpoint serves: a trained model.tar.gz with the project's source as code/.

The framework inference containers import the serving script from /opt/ml/model/code (the archive's
`code/` folder) and pip-install `code/requirements.txt`; they download no source directory from S3.
A training job's model.tar.gz holds only the model, so before it is deployed (`ner_model_data_key`,
`embedding_model_data_key`) it is repacked with the source archive the training jobs run
(`training.pipelines.sagemaker_launcher.package_source`: sagemaker_jobs/, inference/, training/,
requirements.txt) under code/:

    .venv/bin/python -m stacks.serving_model \\
        s3://<artifact bucket>/training-jobs/<job>/output/model.tar.gz \\
        s3://<artifact bucket>/models/ner/model.tar.gz --profile ml-sandbox
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path
from typing import Optional

import typer

from training.pipelines.sagemaker_launcher import package_source

CODE = "code/"


def add_serving_code(model_archive: Path, out: Path, source: bytes | None = None) -> int:
    """Write `out` (tar.gz): the members of `model_archive` (any old code/ left out) and the source
    archive's members under code/. Returns the number of members written."""
    written = 0
    with tarfile.open(out, "w:gz") as target:
        with tarfile.open(model_archive, "r:*") as model:
            for member in model:
                name = member.name.removeprefix("./")
                if name == CODE.rstrip("/") or name.startswith(CODE):
                    continue
                target.addfile(member, model.extractfile(member) if member.isfile() else None)
                written += 1
        with tarfile.open(fileobj=io.BytesIO(source or package_source()), mode="r:gz") as code:
            for member in code:
                member.name = CODE + member.name
                target.addfile(member, code.extractfile(member) if member.isfile() else None)
                written += 1
    return written


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise typer.BadParameter(f"expected s3://bucket/key, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def main(model_uri: str = typer.Argument(..., help="The training job's s3://.../model.tar.gz"),
         serving_uri: str = typer.Argument(..., help="Where the endpoint reads it: s3://<artifact bucket>/<model_data_key>"),
         profile: Optional[str] = typer.Option(None, help="AWS profile"),
         region: Optional[str] = typer.Option(None, help="AWS region")) -> None:
    """Repack a trained model.tar.gz with the serving code and upload it for the endpoint."""
    from inference.aws import client

    s3 = client("s3", profile, region)
    with tempfile.TemporaryDirectory() as tmp:
        model, serving = Path(tmp) / "model.tar.gz", Path(tmp) / "serving.tar.gz"
        s3.download_file(*_split(model_uri), str(model))
        members = add_serving_code(model, serving)
        s3.upload_file(str(serving), *_split(serving_uri))
        typer.echo(f"{serving_uri}: {members} files, {serving.stat().st_size} bytes (model + code/)")


if __name__ == "__main__":
    typer.run(main)
