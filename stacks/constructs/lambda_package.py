"""The one Lambda code asset: `lambdas/` + `inference/` + the pinned `lambdas/requirements.txt`.

Bundled locally (no Docker): the project's files are copied and the requirements are installed by
pip as manylinux wheels for the Lambda runtime (`--platform manylinux2014_x86_64` and
`manylinux_2_28_x86_64`, which newer numpy ships only; Python 3.12 Lambdas run on Amazon Linux
2023, glibc 2.34; `--only-binary=:all:`),
so `cdk synth` works offline from a warm pip cache and on any host. Model code stays out: the
bundle is refused when torch, transformers, sentence-transformers or scikit-learn got in (in AWS,
NER and embeddings run on SageMaker endpoints).

The asset hash is computed from the files that go in (the handler and core sources, the
requirements and the target platform), so a change to `inference/` redeploys the functions and
nothing else does; `aws:cdk:bundling-stacks` (`--exclusively`, or `[]` in tests) skips the pip step.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[2]
HANDLER_PACKAGE = "lambdas"
CORE_PACKAGE = "inference"
REQUIREMENTS = ROOT / HANDLER_PACKAGE / "requirements.txt"
RUNTIME = lambda_.Runtime.PYTHON_3_12
PYTHON_VERSION = "3.12"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
# Distribution folders (as pip installs them) that must never be in a Lambda zip.
FORBIDDEN = ("torch", "transformers", "sentence_transformers", "sklearn", "nvidia")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


class BundlingError(RuntimeError):
    """The Lambda bundle could not be built, or holds something it must not."""


def source_files() -> list[Path]:
    """The repository files that the bundle is made of (sorted, caches excluded)."""
    files = sorted((ROOT / HANDLER_PACKAGE).glob("*.py"))
    files += sorted(p for p in (ROOT / CORE_PACKAGE).rglob("*") if p.is_file() and "__pycache__" not in p.parts
                    and p.suffix not in (".pyc", ".pyo"))
    if REQUIREMENTS.is_file():
        files.append(REQUIREMENTS)
    return files


def content_hash() -> str:
    digest = hashlib.sha256(f"{RUNTIME.name} {' '.join(PLATFORMS)}".encode())
    for path in source_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def pip_install_command(target: str) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--requirement", str(REQUIREMENTS), "--target", target,
            *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
            "--implementation", "cp", "--python-version", PYTHON_VERSION,
            "--only-binary=:all:", "--no-compile"]


def bundle(output_dir: str | Path) -> Path:
    """Build the bundle into `output_dir` (the asset's staging folder); returns it."""
    out = Path(output_dir)
    if not REQUIREMENTS.is_file():
        raise BundlingError(f"{REQUIREMENTS.relative_to(ROOT)} is missing: the Lambda bundle needs its pinned "
                            f"requirements")
    shutil.copytree(ROOT / CORE_PACKAGE, out / CORE_PACKAGE, ignore=IGNORED, dirs_exist_ok=True)
    (out / HANDLER_PACKAGE).mkdir(parents=True, exist_ok=True)
    for handler in sorted((ROOT / HANDLER_PACKAGE).glob("*.py")):
        shutil.copy2(handler, out / HANDLER_PACKAGE / handler.name)
    result = subprocess.run(pip_install_command(str(out)), capture_output=True, text=True)
    if result.returncode != 0:
        raise BundlingError(f"pip could not install {REQUIREMENTS.relative_to(ROOT)} for {RUNTIME.name} "
                            f"({', '.join(PLATFORMS)}):\n{result.stderr.strip()[-3000:]}")
    check_contents(out)
    shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts of the wheels: never run in Lambda
    return out


def check_contents(out: Path) -> None:
    """BundlingError when model libraries got into the bundle (what pulled them in is in requirements)."""
    found = [name for name in FORBIDDEN if (out / name).exists()]
    if found:
        raise BundlingError(f"the Lambda bundle must not contain {', '.join(found)}: remove what pulls them in "
                            f"from {REQUIREMENTS.relative_to(ROOT)}")


@jsii.implements(ILocalBundling)
class LocalBundling:
    """CDK's local bundling hook: build here instead of in a Docker container."""

    def try_bundle(self, output_dir: str, *, image, **_options) -> bool:  # noqa: ARG002 (CDK's signature)
        bundle(output_dir)
        return True


# One instance: CDK folds the bundling options (this object included) into the asset hash, so every
# function of every stack gets the same asset, bundled once per synth.
_LOCAL_BUNDLING = LocalBundling()


def lambda_code() -> lambda_.Code:
    """The code asset every function of the app shares."""
    return lambda_.Code.from_asset(
        str(ROOT / HANDLER_PACKAGE),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=content_hash(),
        bundling=BundlingOptions(image=RUNTIME.bundling_image, local=_LOCAL_BUNDLING),
    )
