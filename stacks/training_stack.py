"""Training: two Standard state machines that train a model, wait for it (`.sync`) and register it.

- `NerTraining`: a SageMaker script-mode training job on `sagemaker_jobs/train_ner.py` (the same
  source archive, hyperparameters and channel as `train_ner_pipeline.py --aws-profile ...`), then
  `lambdas/register_model.py` records `model.tar.gz` in the S3 model registry.
- `NovaFineTuning`: a Bedrock model customization job on the Nova base model, through the
  `createModelCustomizationJob.sync` integration (CDK's Bedrock task renders no `.sync`, so a
  CustomState carries it), then registers the custom model ARN.
The roles SageMaker and Bedrock assume, and the SSM parameters through which the command-line
launchers find them, are made here.
"""

from __future__ import annotations

import json

from aws_cdk import Aws, CfnOutput, Duration, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.access import grant_list, grant_objects
from stacks.constructs.lambda_package import lambda_code
from stacks.constructs.nag import acknowledge_wildcard_resource
from stacks.constructs.pipeline_function import PipelineFunction
from stacks.constructs.sagemaker_role import SageMakerRole
from stacks.constructs.source_archive import SourceArchive
from stacks.constructs.workflow import ObservedStateMachine, lambda_task
from stacks.settings import DeploySettings, SettingError
from stacks.storage_stack import REGISTRY_KEY, StorageStack, bucket_named
from training.pipelines.bedrock_nova import (CUSTOMIZATION_TYPE, ROLE_SETTING, NovaSettingError, fine_tunable_model,
                                             map_hyperparameters)
from training.pipelines.ner_training import NERTrainingConfig
from training.pipelines.sagemaker_launcher import PARAMETER_PREFIX
from training.pipelines.train_ner_pipeline import ENTRY_POINT, default_model_name, sagemaker_hyperparameters

NER_TRAINING = "NerTraining"
NOVA_FINE_TUNING = "NovaFineTuning"
SAGEMAKER_ROLE_SETTING = "sagemaker-role-arn"  # read by training.pipelines.sagemaker_launcher.deployment_setting
TRAINING_JOBS_PREFIX = "training-jobs/"        # where the launcher puts jobs' sources, data and output
NOVA_OUTPUT_PREFIX = "fine-tuning/"            # train_nova_pipeline.output_location: <bucket>/fine-tuning/<job>/
DEFAULT_TRAINING_FILE = "training.jsonl"
SAGEMAKER_API_ERRORS = ["SageMaker.AmazonSageMakerException"]
BEDROCK_API_ERRORS = ["Bedrock.ThrottlingException", "Bedrock.ServiceUnavailableException",
                      "Bedrock.InternalServerException"]
# What the register step reads of GetModelCustomizationJob's answer, as the AWS SDK integration names them.
CUSTOMIZATION_FIELDS = ("JobArn", "JobName", "Status", "OutputModelArn", "OutputModelName", "BaseModelArn")


def ner_training_config(settings: DeploySettings) -> NERTrainingConfig:
    try:
        return NERTrainingConfig(**settings.ner_training)
    except TypeError as exc:
        raise SettingError(f"context key 'ner_training': {exc}") from None


def nova_hyperparameters(settings: DeploySettings) -> dict[str, str]:
    """Bedrock's hyperParameters map, refused at synth time when Nova would refuse it."""
    try:
        sent, warnings = map_hyperparameters(dict(settings.nova_hyperparameters))
    except NovaSettingError as exc:
        raise SettingError(f"context key 'nova_hyperparameters': {exc}") from None
    if warnings:
        raise SettingError(f"context key 'nova_hyperparameters': {'; '.join(warnings)}")
    return sent


class S3Uri(tasks.S3Location):
    """An S3 location (fixed, or a JsonPath into the state) that grants nothing when bound.

    CDK's `S3Location.from_bucket` grants `s3:GetObject*`-style actions and `from_json_expression`
    grants s3:GetObject/ListBucket on "*"; the stack grants exact actions on its buckets instead.
    """

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri

    def bind(self, task, *, for_reading=None, for_writing=None) -> tasks.S3LocationConfig:  # noqa: ARG002
        return tasks.S3LocationConfig(uri=self.uri)


def with_defaults(scope: Construct, defaults: dict) -> sfn.Chain:
    """Two Pass states: the execution input laid over `defaults` (keys given in the input win)."""
    defaults_state = sfn.Pass(scope, "Defaults", parameters=defaults, result_path="$.defaults")
    merged = sfn.Pass(scope, "ApplyInput", parameters={
        "merged": sfn.JsonPath.json_merge(sfn.JsonPath.object_at("$.defaults"),
                                          sfn.JsonPath.object_at("$$.Execution.Input"))},
        output_path="$.merged")
    return defaults_state.next(merged)


def retry_api_errors(task: sfn.TaskStateBase | sfn.CustomState, errors: list[str]) -> None:
    """Retry the service's transient API errors; a job that ran and failed is not retried (hours, same name)."""
    task.add_retry(errors=errors, interval=Duration.seconds(5), max_attempts=3, backoff_rate=2,
                   jitter_strategy=sfn.JitterType.FULL)


def registration(scope: Construct, state_name: str, register: PipelineFunction, *, model_type: str, name_path: str,
                 artifact_path: str, job, comment: str) -> tasks.LambdaInvoke:
    """The register_model task after a finished job (event as lambdas/register_model.py reads it)."""
    return lambda_task(scope, state_name, register.function, retry_failures=False, comment=comment,
                       result_path="$.registration", payload=sfn.TaskInput.from_object({
                           "model_type": model_type, "name": sfn.JsonPath.string_at(name_path),
                           "artifact": sfn.JsonPath.string_at(artifact_path), "job": job}))


class TrainingStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, storage: StorageStack,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.key = storage.key
        self.data_bucket = bucket_named(self, "DataBucket", storage.names.data)
        self.artifact_bucket = bucket_named(self, "ArtifactBucket", storage.names.artifacts)
        self.bedrock_training_bucket = bucket_named(self, "BedrockTrainingBucket", storage.names.bedrock_training)
        register = PipelineFunction(
            self, "RegisterModel", module="register_model", code=lambda_code(), settings=settings,
            environment={"MODEL_REGISTRY_URI": storage.names.registry_uri}, timeout=Duration.seconds(60),
            description="Training: record a trained model in the S3 model registry")
        grant_objects(register.role, self.artifact_bucket, self.key, REGISTRY_KEY, read=True, write=True)
        grant_list(register.role, self.artifact_bucket, REGISTRY_KEY)  # NoSuchKey (first model), not AccessDenied
        self.functions = {"register_model": register.function}

        self.ner = self._ner_training(register)
        self.nova = self._nova_fine_tuning(register)
        self.state_machines = {NER_TRAINING: self.ner.state_machine, NOVA_FINE_TUNING: self.nova.state_machine}
        CfnOutput(self, "NerTrainingArn", value=self.ner.state_machine.state_machine_arn)
        CfnOutput(self, "NovaFineTuningArn", value=self.nova.state_machine.state_machine_arn)

    # -- NER on SageMaker --------------------------------------------------------------------------
    def _ner_training(self, register: PipelineFunction) -> ObservedStateMachine:
        settings = self.settings
        self.sagemaker_role = SageMakerRole(self, "SageMakerRole", images=[settings.ner_training_image],
                                            log_group="/aws/sagemaker/TrainingJobs",
                                            description="SageMaker training jobs of the NER model").role
        source = SourceArchive(self, "TrainingSource")
        source.grant_read(self.sagemaker_role)
        grant_objects(self.sagemaker_role, self.data_bucket, self.key, "*", read=True,
                      why="The training data channel is an S3 prefix named by each execution's input; reads stay "
                          "inside the project's data bucket")
        grant_list(self.sagemaker_role, self.data_bucket)
        grant_objects(self.sagemaker_role, self.artifact_bucket, self.key, f"{TRAINING_JOBS_PREFIX}*",
                      read=True, write=True,
                      why="SageMaker writes each job's output under training-jobs/<job name>/, named at run time "
                          "(the command-line launcher uses the same folder)")
        grant_list(self.sagemaker_role, self.artifact_bucket, TRAINING_JOBS_PREFIX)
        ssm.StringParameter(self, "SageMakerRoleParameter", parameter_name=f"{PARAMETER_PREFIX}/{SAGEMAKER_ROLE_SETTING}",
                            string_value=self.sagemaker_role.role_arn,
                            description="Role of the SageMaker training jobs (train_ner_pipeline.py --aws-profile)")

        config = ner_training_config(settings)
        hyperparameters = sagemaker_hyperparameters(config, DEFAULT_TRAINING_FILE, tokenizer_in_channel=False)
        hyperparameters.update(sagemaker_program=ENTRY_POINT, sagemaker_submit_directory=source.s3_url,
                               sagemaker_region=settings.region)
        # Framework containers read every hyperparameter as a JSON-encoded string (as the launcher sends them).
        encoded = {key: json.dumps(value) for key, value in hyperparameters.items()}
        encoded["training_data"] = sfn.JsonPath.format("\"{}\"", sfn.JsonPath.string_at("$.training_file"))

        train = tasks.SageMakerCreateTrainingJob(
            self, "TrainNer",
            training_job_name=sfn.JsonPath.string_at("$.job_name"),
            role=self.sagemaker_role,
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_registry(settings.ner_training_image),
                training_input_mode=tasks.InputMode.FILE),
            hyperparameters=encoded,
            input_data_config=[tasks.Channel(channel_name="training", data_source=tasks.DataSource(
                s3_data_source=tasks.S3DataSource(
                    s3_location=S3Uri(sfn.JsonPath.string_at("$.training_data")),
                    s3_data_type=tasks.S3DataType.S3_PREFIX,
                    s3_data_distribution_type=tasks.S3DataDistributionType.FULLY_REPLICATED)))],
            output_data_config=tasks.OutputDataConfig(
                s3_output_location=S3Uri(f"s3://{self.artifact_bucket.bucket_name}/{TRAINING_JOBS_PREFIX}")),
            resource_config=tasks.ResourceConfig(
                instance_count=1, instance_type=ec2.InstanceType(settings.ner_training_instance_type.removeprefix("ml.")),
                volume_size=Size.gibibytes(50)),
            stopping_condition=tasks.StoppingCondition(max_runtime=Duration.hours(settings.ner_training_max_runtime_hours)),
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            result_selector={"TrainingJobName": sfn.JsonPath.string_at("$.TrainingJobName"),
                             "TrainingJobArn": sfn.JsonPath.string_at("$.TrainingJobArn"),
                             "TrainingJobStatus": sfn.JsonPath.string_at("$.TrainingJobStatus"),
                             "ModelArtifacts": sfn.JsonPath.object_at("$.ModelArtifacts")},
            result_path="$.training",
            comment="Script-mode NER training (sagemaker_jobs/train_ner.py); waits for the job",
        )
        retry_api_errors(train, SAGEMAKER_API_ERRORS)
        register_task = registration(
            self, "RegisterNerModel", register, model_type="ner", name_path="$.model_name",
            artifact_path="$.training.ModelArtifacts.S3ModelArtifacts",
            job={"TrainingJobName": sfn.JsonPath.string_at("$.training.TrainingJobName"),
                 "TrainingJobArn": sfn.JsonPath.string_at("$.training.TrainingJobArn")},
            comment="Record model.tar.gz in the S3 model registry and activate it")
        defaults = {"job_name": sfn.JsonPath.string_at("$$.Execution.Name"),
                    "model_name": default_model_name(config.model_type),
                    "training_file": DEFAULT_TRAINING_FILE}
        machine = ObservedStateMachine(
            self, NER_TRAINING, name=NER_TRAINING,
            definition=with_defaults(Construct(self, "NerTrainingInput"), defaults).next(train).next(register_task),
            machine_type=sfn.StateMachineType.STANDARD, timeout=Duration.hours(settings.ner_training_max_runtime_hours + 1),
            invoked=[register.function],
            log_retention_days=settings.log_retention_days,
            comment="Train the NER model on SageMaker (.sync) and register it")
        acknowledge_wildcard_resource(
            machine.state_machine, self.format_arn(service="sagemaker", resource="training-job", resource_name="*"),
            "The training job is named per execution (the input's job_name), so the state machine may create, "
            "describe and stop training jobs of any name in this account and region")
        return machine

    # -- Nova on Bedrock ---------------------------------------------------------------------------
    def _nova_fine_tuning(self, register: PipelineFunction) -> ObservedStateMachine:
        settings = self.settings
        base_model, _ = fine_tunable_model(settings.nova_base_model_id)
        hyperparameters = nova_hyperparameters(settings)
        bucket = self.bedrock_training_bucket
        self.bedrock_role = iam.Role(
            self, "BedrockCustomizationRole",
            assumed_by=iam.ServicePrincipal("bedrock.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": self._bedrock_arn("model-customization-job", "*")}}),
            description="Bedrock model customization jobs: read the training data, write the output")
        grant_objects(self.bedrock_role, bucket, self.key, "*", read=True,
                      why="The training dataset is named by each execution's input; Bedrock reads only inside the "
                          "project's Bedrock training bucket")
        grant_list(self.bedrock_role, bucket)
        grant_objects(self.bedrock_role, bucket, self.key, f"{NOVA_OUTPUT_PREFIX}*", read=True, write=True,
                      why="Bedrock writes each job's output under fine-tuning/<job name>/, named at run time")
        ssm.StringParameter(self, "BedrockRoleParameter", parameter_name=f"{PARAMETER_PREFIX}/{ROLE_SETTING}",
                            string_value=self.bedrock_role.role_arn,
                            description="Role of the Bedrock customization jobs (train_nova_pipeline.py)")

        customize = sfn.CustomState(self, "FineTuneNova", state_json={
            "Type": "Task",
            "Comment": "Bedrock model customization of the Nova base model; waits for the job (.sync)",
            "Resource": f"arn:{self.partition}:states:::bedrock:createModelCustomizationJob.sync",
            "Parameters": {
                "JobName.$": "$.job_name",
                "CustomModelName.$": "$.custom_model_name",
                "RoleArn": self.bedrock_role.role_arn,
                "BaseModelIdentifier": self._foundation_model_arn(base_model),
                "CustomizationType": CUSTOMIZATION_TYPE,
                "TrainingDataConfig": {"S3Uri.$": "$.training_data"},
                "OutputDataConfig": {"S3Uri.$": f"States.Format('s3://{bucket.bucket_name}/{NOVA_OUTPUT_PREFIX}{{}}/', "
                                                f"$.job_name)"},
                "HyperParameters": hyperparameters,
                "JobTags": [{"Key": "project", "Value": "multilingual-product-inference"}],
            },
            # The .sync result's shape is not documented; the job is read back below instead.
            "ResultPath": sfn.JsonPath.DISCARD,
        })
        retry_api_errors(customize, BEDROCK_API_ERRORS)
        describe = tasks.CallAwsService(
            self, "DescribeCustomization", service="bedrock", action="getModelCustomizationJob",
            iam_action="bedrock:GetModelCustomizationJob",
            iam_resources=[self._bedrock_arn("model-customization-job", "*")],
            parameters={"JobIdentifier": sfn.JsonPath.string_at("$.job_name")},  # a job name or ARN
            # AWS SDK integrations answer in PascalCase (Bedrock's own JSON is camelCase: jobArn, outputModelArn).
            result_selector={field: sfn.JsonPath.string_at(f"$.{field}") for field in CUSTOMIZATION_FIELDS},
            result_path="$.customization",
            comment="The finished job (GetModelCustomizationJob): its custom model ARN, job ARN and base model")
        retry_api_errors(describe, BEDROCK_API_ERRORS)
        register_task = registration(
            self, "RegisterNovaModel", register, model_type="llm", name_path="$.custom_model_name",
            artifact_path="$.customization.OutputModelArn", job=sfn.JsonPath.object_at("$.customization"),
            comment="Record the custom model ARN in the S3 model registry")
        defaults = {"job_name": sfn.JsonPath.string_at("$$.Execution.Name"),
                    "custom_model_name": sfn.JsonPath.string_at("$$.Execution.Name")}
        machine = ObservedStateMachine(
            self, NOVA_FINE_TUNING, name=NOVA_FINE_TUNING,
            definition=with_defaults(Construct(self, "NovaFineTuningInput"), defaults).next(customize).next(describe)
            .next(register_task),
            machine_type=sfn.StateMachineType.STANDARD, timeout=Duration.days(7),
            invoked=[register.function],
            log_retention_days=settings.log_retention_days,
            comment="Fine-tune Nova on Bedrock (.sync) and register the custom model")
        role = machine.state_machine.role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="CreateCustomizationJob", actions=["bedrock:CreateModelCustomizationJob", "bedrock:TagResource"],
            resources=[self._foundation_model_arn(base_model), self._bedrock_arn("custom-model", "*"),
                       self._bedrock_arn("model-customization-job", "*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="FollowCustomizationJob",
            actions=["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
            resources=[self._bedrock_arn("model-customization-job", "*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassCustomizationRole", actions=["iam:PassRole"], resources=[self.bedrock_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}))
        for resource in ("custom-model", "model-customization-job"):
            acknowledge_wildcard_resource(
                machine.state_machine, self._bedrock_arn(resource, "*"),
                "Job and custom model names are chosen per execution (the input's job_name and custom_model_name), "
                "so their ARNs are known only at run time")
        return machine

    def _bedrock_arn(self, resource: str, name: str) -> str:
        return self.format_arn(service="bedrock", resource=resource, resource_name=name)

    def _foundation_model_arn(self, model_id: str) -> str:
        return self.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=model_id)
