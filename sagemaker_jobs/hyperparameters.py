"""Hyperparameters as a SageMaker training container hands them to a script-mode entry point.

The toolkit passes each hyperparameter as `--key value` and also as the JSON object SM_HPS; a
container (or a local run) may set only SM_HPS. `script_args` puts SM_HPS first as arguments and
the command line after it, so argparse lets an explicit argument win.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Mapping, Sequence


def script_args(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> list[str]:
    """SM_HPS as `--key value` pairs (SageMaker's own `sagemaker_*` keys left out), then argv."""
    argv = list(sys.argv[1:] if argv is None else argv)
    raw = env.get("SM_HPS") or "{}"
    try:
        hps = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"SM_HPS is not JSON ({exc.msg}): {raw[:100]!r}") from None
    if not isinstance(hps, dict):
        raise SystemExit(f"SM_HPS must be a JSON object of hyperparameters, got {raw[:100]!r}")
    pairs: list[str] = []
    for key, value in hps.items():
        if not key.startswith("sagemaker_"):
            pairs += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return pairs + argv
