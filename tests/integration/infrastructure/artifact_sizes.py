"""Build the deployable artifacts the way `cdk synth` does and state their sizes.

    .venv/bin/python -m tests.integration.infrastructure.artifact_sizes

The Lambda bundle (lambdas/ + inference/ + lambdas/requirements.txt installed for Python 3.12 on
manylinux) unzipped and zipped, its largest parts, and the SageMaker source archive. Lambda allows
250 MB unzipped for a zip package.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from stacks.constructs.lambda_package import bundle
from training.pipelines.sagemaker_launcher import package_source

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(workdir: Path) -> dict:
    out = bundle(workdir / "lambda")
    archive = Path(shutil.make_archive(str(workdir / "lambda"), "zip", out))
    parts = sorted(((folder_size(p) if p.is_dir() else p.stat().st_size, p.name) for p in out.iterdir()), reverse=True)
    return {
        "lambda_bundle": {"unzipped_bytes": folder_size(out), "zip_bytes": archive.stat().st_size,
                          "largest": {name: size for size, name in parts[:8]}},
        "sagemaker_source_archive_bytes": len(package_source()),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        sizes = measure(Path(workdir))
    mb = 1024 * 1024
    lam = sizes["lambda_bundle"]
    print(f"Lambda bundle: {lam['unzipped_bytes'] / mb:.1f} MB unzipped (limit 250 MB), {lam['zip_bytes'] / mb:.1f} MB zipped")
    for name, size in lam["largest"].items():
        print(f"  {name:<32} {size / mb:7.1f} MB")
    print(f"SageMaker source archive (sourcedir.tar.gz): {sizes['sagemaker_source_archive_bytes'] / 1024:.0f} KB")
    json.dump(sizes, sys.stderr)


if __name__ == "__main__":
    main()
