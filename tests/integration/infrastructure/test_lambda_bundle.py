"""The Lambda bundle as `cdk synth` builds it (local bundling, pip for manylinux/Python 3.12): what is
in it, what is not, and its size; plus the refusal of model libraries."""

from __future__ import annotations

import pytest

from stacks.constructs.lambda_package import BundlingError, check_contents, pip_install_command
from tests.integration.infrastructure.artifact_sizes import LAMBDA_UNZIPPED_LIMIT, measure


@pytest.mark.slow
def test_bundle_has_the_handlers_the_core_and_the_requirements_and_no_torch(tmp_path):
    sizes = measure(tmp_path)
    out = tmp_path / "lambda"
    for handler in ("ner_stage", "rag_stage", "llm_stage", "finalize", "batch_predict", "merge_results",
                    "register_model"):
        assert (out / "lambdas" / f"{handler}.py").is_file(), handler
    assert (out / "inference" / "monitoring" / "metric_names.py").is_file()
    assert (out / "aws_lambda_powertools").is_dir() and (out / "pymilvus").is_dir()
    assert not list(out.rglob("__pycache__"))
    check_contents(out)  # no torch, transformers, sentence-transformers, scikit-learn
    # Wheels were chosen for the Lambda runtime, not for this machine.
    assert list(out.rglob("*cpython-312-x86_64-linux-gnu.so")) and not list(out.rglob("*cpython-311*.so"))
    lam = sizes["lambda_bundle"]
    assert 0 < lam["zip_bytes"] < lam["unzipped_bytes"] < LAMBDA_UNZIPPED_LIMIT
    print(f"\nLambda bundle {lam['unzipped_bytes'] / 2**20:.1f} MB unzipped, {lam['zip_bytes'] / 2**20:.1f} MB zipped; "
          f"SageMaker source archive {sizes['sagemaker_source_archive_bytes'] / 1024:.0f} KB")


def test_model_libraries_are_refused(tmp_path):
    (tmp_path / "torch").mkdir()
    with pytest.raises(BundlingError, match="torch"):
        check_contents(tmp_path)


def test_pip_targets_the_lambda_platform_with_binary_wheels_only(tmp_path):
    command = pip_install_command(str(tmp_path))
    assert command[command.index("--python-version") + 1] == "3.12"
    assert {"manylinux2014_x86_64", "manylinux_2_28_x86_64"} <= {command[i + 1] for i, a in enumerate(command)
                                                                 if a == "--platform"}
    assert "--only-binary=:all:" in command and command[command.index("--target") + 1] == str(tmp_path)
