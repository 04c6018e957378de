#!/usr/bin/env python3
"""CDK entry point: `cdk synth` / `cdk deploy --all --profile ml-sandbox` (see README, "Deploying to AWS").

Every tunable is in cdk.json's context (or `-c key=value`); the stacks are in stacks/.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# jsii runs on Node; the project's Node 22 (npm package `node`) when installed, not the older system one.
if (ROOT / "node_modules" / ".bin" / "node").exists():
    os.environ.setdefault("JSII_NODE", str(ROOT / "node_modules" / ".bin" / "node"))

from aws_cdk import App  # noqa: E402

from stacks.application import build  # noqa: E402

app = App()
build(app)
app.synth()
