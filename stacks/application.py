"""The app's stacks and their wiring, for app.py and for the tests (which build it with their own context)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App, Environment, Tags

from stacks.constructs.nag import add_nag_checks
from stacks.inference_stack import InferenceStack
from stacks.monitoring_stack import MonitoringStack
from stacks.settings import DeploySettings
from stacks.storage_stack import StorageStack
from stacks.training_stack import TrainingStack

ROOT = Path(__file__).resolve().parents[1]
STACK_PREFIX = "MultilingualProductInference"


@dataclass
class Application:
    settings: DeploySettings
    storage: StorageStack
    inference: InferenceStack
    training: TrainingStack
    monitoring: MonitoringStack

    @property
    def stacks(self):
        return [self.storage, self.inference, self.training, self.monitoring]


def cdk_json_context() -> dict:
    """The context of cdk.json (what the CDK CLI hands app.py), for building the app outside the CLI."""
    return json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]


def build(app: App) -> Application:
    settings = DeploySettings.from_context(app.node)
    env = Environment(account=settings.account, region=settings.region)
    storage = StorageStack(app, f"{STACK_PREFIX}Storage", settings=settings, env=env,
                           description="KMS key and buckets of the multilingual product inference system")
    inference = InferenceStack(app, f"{STACK_PREFIX}Inference", settings=settings, storage=storage, env=env,
                               description="Pipeline Lambdas, HybridPipeline and CatalogueBatch state machines, "
                                           "SageMaker endpoints")
    training = TrainingStack(app, f"{STACK_PREFIX}Training", settings=settings, storage=storage, env=env,
                             description="NER training (SageMaker) and Nova fine-tuning (Bedrock) state machines")
    endpoint_names = [e.name for e in (settings.ner_endpoint, settings.embedding_endpoint)] \
        if settings.deploy_endpoints else []
    monitoring = MonitoringStack(app, f"{STACK_PREFIX}Monitoring", settings=settings, env=env,
                                 state_machines={**inference.state_machines, **training.state_machines},
                                 functions={**inference.functions, **training.functions},
                                 endpoint_names=endpoint_names,
                                 description="Dashboard, alarms and alert topic")
    inference.add_stack_dependency(storage)  # buckets are addressed by name: deploy them first
    training.add_stack_dependency(storage)
    for stack in (storage, inference, training, monitoring):
        for key, value in settings.tags.items():
            Tags.of(stack).add(key, value)
    add_nag_checks(app)
    return Application(settings, storage, inference, training, monitoring)
