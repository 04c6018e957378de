"""Inference: the pipeline Lambdas, the two state machines that run them, and (behind the
`deploy_endpoints` flag) the SageMaker endpoints for NER and query embeddings.

- `HybridPipeline` (Express, synchronous): one product through NER -> RAG -> LLM with early stop;
  a failed stage is caught and the item is finalised from the answers it already has.
- `CatalogueBatch` (Standard): a JSONL catalogue in S3 checked into `<output_prefix>checked.jsonl`
  (one JSON object per input line: Step Functions' reader refuses a line that is not JSON), then a
  Distributed Map over the checked copy, one Lambda call per batch of records writing a part file;
  the parts are merged into `<output_prefix>results.jsonl`, one row per input line.
Only S3 references and small summaries travel between states (the 256 KiB payload limit).
"""

from __future__ import annotations

from aws_cdk import Arn, ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.access import grant_list, grant_objects
from stacks.constructs.lambda_package import lambda_code
from stacks.constructs.nag import acknowledge_wildcard_resource
from stacks.constructs.pipeline_function import PipelineFunction
from stacks.constructs.sagemaker_endpoint import ModelEndpoint
from stacks.constructs.sagemaker_role import SageMakerRole
from stacks.constructs.vpc_placement import VpcPlacement
from stacks.constructs.workflow import ObservedStateMachine, lambda_task
from stacks.settings import DeploySettings
from stacks.storage_stack import REGISTRY_KEY, StorageStack, bucket_named

HYBRID_PIPELINE = "HybridPipeline"
CATALOGUE_BATCH = "CatalogueBatch"
STAGE_ERROR_PATH = "$.stage_error"  # where a Catch puts {"Error", "Cause"} for finalize
CHECKED_PATH = "$.checked"  # check_catalogue's answer: {"checked_key", "rows", "unreadable"}
CATALOGUE_TMP_MB = 4096  # /tmp of the check and merge functions: a few million catalogue lines
OUTPUT_ANYWHERE = ("Each catalogue run chooses its output_prefix in the execution input; the functions may write "
                   "(and merge) objects anywhere in the project's data bucket, never outside it")
REGISTRY_FOLDER = REGISTRY_KEY.rsplit("/", 1)[0] + "/"


def grant_registry_read(role: iam.IRole, artifacts: s3.IBucket, key: kms.IKey) -> None:
    """The model registry JSON and the files it points at (expansions, calibrators) under registry/."""
    grant_objects(role, artifacts, key, f"{REGISTRY_FOLDER}*", read=True,
                  why="The model registry and the files it names (query expansions, calibration) are kept under "
                      "registry/ in the artifact bucket; their names change with each registration")
    grant_list(role, artifacts, REGISTRY_FOLDER)


class InferenceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, storage: StorageStack,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        vpc = VpcPlacement(self, "Vpc", vpc=settings.vpc) if settings.vpc else None
        self.data_bucket = bucket_named(self, "DataBucket", storage.names.data)
        self.artifact_bucket = bucket_named(self, "ArtifactBucket", storage.names.artifacts)
        self.key = storage.key
        code = lambda_code()
        milvus_secret = secretsmanager.Secret.from_secret_name_v2(self, "MilvusSecret", settings.milvus_secret_name)
        environment = {
            "MODEL_REGISTRY_URI": storage.names.registry_uri,
            "DATA_BUCKET": storage.names.data,
            "MILVUS_SECRET_NAME": settings.milvus_secret_name,
            "NER_ENDPOINT_NAME": settings.ner_endpoint.name,
            "EMBEDDING_ENDPOINT_NAME": settings.embedding_endpoint.name,
            "LLM_MODEL_ID": settings.llm_model_id,
        }

        def function(name: str, module: str, description: str, timeout_s: int, reads_registry: bool = True,
                     tmp_mb: int | None = None) -> PipelineFunction:
            made = PipelineFunction(self, name, module=module, code=code, settings=settings, environment=environment,
                                    timeout=Duration.seconds(timeout_s), description=description, vpc_config=vpc,
                                    tmp_mb=tmp_mb)
            if reads_registry:
                grant_registry_read(made.role, self.artifact_bucket, self.key)
            return made

        ner = function("NerStage", "ner_stage", "Hybrid pipeline: validate + normalise the name, NER", 30)
        rag = function("RagStage", "rag_stage", "Hybrid pipeline: RAG over the Milvus catalogue", 30)
        llm = function("LlmStage", "llm_stage", "Hybrid pipeline: Bedrock Converse on the (custom) Nova model", 60)
        finalize = function("Finalize", "finalize", "Hybrid pipeline: fuse the stage answers into the output row", 15)
        # The check and the merge stage a whole catalogue's worth of lines in /tmp before uploading it.
        check = function("CheckCatalogue", "check_catalogue",
                         "Catalogue batch: copy the input, one JSON object per line, unreadable lines marked", 900,
                         reads_registry=False, tmp_mb=CATALOGUE_TMP_MB)
        batch = function("BatchPredict", "batch_predict", "Catalogue batch: the hybrid on one batch, a part file", 900)
        merge = function("MergeResults", "merge_results", "Catalogue batch: merge the part files in input order", 900,
                         tmp_mb=CATALOGUE_TMP_MB)
        self.functions = {f.module: f.function for f in (ner, rag, llm, finalize, check, batch, merge)}

        for made in (ner, batch):
            self._grant_invoke_endpoint(made.role, settings.ner_endpoint.name)
        for made in (rag, batch):
            self._grant_invoke_endpoint(made.role, settings.embedding_endpoint.name)
            milvus_secret.grant_read(made.role)
        for made in (llm, batch):
            self._grant_converse(made.role)
        grant_objects(check.role, self.data_bucket, self.key, "*", read=True, write=True,
                      why=OUTPUT_ANYWHERE + "; the catalogue it reads is named by the input too")
        grant_objects(batch.role, self.data_bucket, self.key, "*", write=True, why=OUTPUT_ANYWHERE)
        grant_objects(merge.role, self.data_bucket, self.key, "*", read=True, write=True, why=OUTPUT_ANYWHERE)
        grant_list(merge.role, self.data_bucket)  # the parts under <output_prefix>parts/, prefix from the input

        self.hybrid = self._hybrid_pipeline(ner, rag, llm, finalize)
        self.batch = self._catalogue_batch(check, batch, merge)
        self.state_machines = {HYBRID_PIPELINE: self.hybrid.state_machine, CATALOGUE_BATCH: self.batch.state_machine}

        self.endpoints: dict[str, ModelEndpoint] = {}
        if settings.deploy_endpoints:
            self._endpoints(vpc)

        CfnOutput(self, "HybridPipelineArn", value=self.hybrid.state_machine.state_machine_arn)
        CfnOutput(self, "CatalogueBatchArn", value=self.batch.state_machine.state_machine_arn)

    # -- state machines ----------------------------------------------------------------------------
    def _hybrid_pipeline(self, ner, rag, llm, finalize) -> ObservedStateMachine:
        states = Construct(self, "HybridPipelineStates")  # state names are construct ids: keep them apart
        finalize_task = lambda_task(states, "Finalize", finalize.function, retry_failures=False,
                                    comment="The output row: the early-stop result, or the fused answers")
        ner_task = lambda_task(states, "NerStage", ner.function, retry_failures=True)
        rag_task = lambda_task(states, "RagStage", rag.function, retry_failures=True)
        llm_task = lambda_task(states, "LlmStage", llm.function, retry_failures=True)
        for task in (ner_task, rag_task, llm_task):
            # A stage that still fails after its retries degrades the item to the earlier answers.
            task.add_catch(finalize_task, errors=[sfn.Errors.ALL], result_path=STAGE_ERROR_PATH)

        decided = sfn.Condition.boolean_equals("$.decided", True)  # early stop, or an invalid name
        definition = ner_task.next(
            sfn.Choice(states, "DecidedAfterNer").when(decided, finalize_task).otherwise(
                rag_task.next(
                    sfn.Choice(states, "DecidedAfterRag").when(decided, finalize_task).otherwise(
                        llm_task.next(finalize_task)))))
        return ObservedStateMachine(
            self, HYBRID_PIPELINE, name=HYBRID_PIPELINE, definition=definition,
            machine_type=sfn.StateMachineType.EXPRESS, timeout=Duration.minutes(5),
            invoked=[ner.function, rag.function, llm.function, finalize.function],
            log_retention_days=self.settings.log_retention_days,
            comment="One product name -> brand and category: NER, RAG, LLM with early stopping")

    def _catalogue_batch(self, check, batch, merge) -> ObservedStateMachine:
        states = Construct(self, "CatalogueBatchStates")
        check_task = lambda_task(states, "CheckCatalogue", check.function, retry_failures=True,
                                 payload=sfn.TaskInput.from_object({
                                     "bucket": sfn.JsonPath.string_at("$.bucket"),
                                     "key": sfn.JsonPath.string_at("$.key"),
                                     "output_prefix": sfn.JsonPath.string_at("$.output_prefix")}),
                                 result_path=CHECKED_PATH,
                                 comment="<output_prefix>checked.jsonl: one JSON object per input line, "
                                         "unreadable lines replaced by markers that become error rows")
        predict = lambda_task(states, "BatchPredict", batch.function, retry_failures=True,
                              comment="The hybrid on one batch of records; writes one part file")
        catalogue = sfn.DistributedMap(
            states, "PredictCatalogue",
            # The checked copy: every line is a JSON object, so the reader cannot fail on one.
            item_reader=sfn.S3JsonLItemReader(bucket_name_path=sfn.JsonPath.string_at("$.bucket"),
                                              key=sfn.JsonPath.string_at(f"{CHECKED_PATH}.checked_key")),
            item_selector={"index": sfn.JsonPath.string_at("$$.Map.Item.Index"),
                           "record": sfn.JsonPath.string_at("$$.Map.Item.Value")},
            # BatchInput is rendered as given (CDK does not turn JsonPath values into "key.$" here);
            # `key` is the original catalogue, which the error rows name.
            item_batcher=sfn.ItemBatcher(max_items_per_batch=self.settings.batch_size, batch_input={
                "bucket.$": "$.bucket", "key.$": "$.key", "output_prefix.$": "$.output_prefix",
                "execution.$": "$$.Execution.Name"}),
            max_concurrency=self.settings.map_max_concurrency,
            map_execution_type=sfn.StateMachineType.EXPRESS,
            result_path=sfn.JsonPath.DISCARD,  # the parts are in S3; the merge lists them
            comment="Every line of the checked catalogue, in batches; each keeps its input position",
        )
        catalogue.item_processor(predict)
        merge_task = lambda_task(states, "MergeResults", merge.function, retry_failures=True,
                                 payload=sfn.TaskInput.from_object({
                                     "bucket": sfn.JsonPath.string_at("$.bucket"),
                                     "output_prefix": sfn.JsonPath.string_at("$.output_prefix"),
                                     # as many rows as input lines, or the merge fails naming the missing ones
                                     "expected_rows": sfn.JsonPath.number_at(f"{CHECKED_PATH}.rows")}),
                                 comment="<output_prefix>results.jsonl: one row per input line, in input order")
        machine = ObservedStateMachine(
            self, CATALOGUE_BATCH, name=CATALOGUE_BATCH, definition=check_task.next(catalogue).next(merge_task),
            machine_type=sfn.StateMachineType.STANDARD, timeout=Duration.hours(24),
            invoked=[check.function, batch.function, merge.function],
            log_retention_days=self.settings.log_retention_days,
            comment="A JSONL catalogue in S3 -> <output_prefix>results.jsonl in the same bucket")
        # The ItemReader reads the checked copy under the input's output_prefix; IAM keeps it inside the data bucket.
        grant_objects(machine.state_machine.role, self.data_bucket, self.key, "*", read=True,
                      why="The checked catalogue the Map reads lies under each execution's output_prefix (from the "
                          "input); reads stay inside the project's data bucket")
        # CDK's Distributed Map policy: describe/stop its child executions (<name>:*), redrive them (<name>/*:*).
        name = Arn.split(machine.state_machine.state_machine_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
        for pattern in (":*", "/*:*"):
            acknowledge_wildcard_resource(
                machine.state_machine,
                self.format_arn(service="states", resource="execution", arn_format=ArnFormat.COLON_RESOURCE_NAME,
                                resource_name=f"{name}{pattern}"),
                "The Distributed Map runs one child execution per batch, named at run time; the state machine may "
                "describe, stop and redrive only its own children")
        return machine

    # -- permissions -------------------------------------------------------------------------------
    def _grant_invoke_endpoint(self, role: iam.IRole, endpoint_name: str) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:InvokeEndpoint"],
            resources=[self.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name.lower())]))

    def _grant_converse(self, role: iam.IRole) -> None:
        """bedrock:InvokeModel (what Converse needs) on the base Nova model and the custom model ARN."""
        resources = [self.format_arn(service="bedrock", account="", resource="foundation-model",
                                     resource_name=self.settings.nova_base_model_id)]
        if self.settings.custom_model_arn:
            resources.append(self.settings.custom_model_arn)
        role.add_to_principal_policy(iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=resources))

    # -- endpoints ---------------------------------------------------------------------------------
    def _endpoints(self, vpc: VpcPlacement | None) -> None:
        endpoints = (self.settings.ner_endpoint, self.settings.embedding_endpoint)
        role = SageMakerRole(self, "EndpointRole", images=[e.image for e in endpoints],
                             log_group="/aws/sagemaker/Endpoints/*",
                             description="SageMaker models of the NER and embedding endpoints").role
        for endpoint, name in zip(endpoints, ("NerEndpoint", "EmbeddingEndpoint")):
            # The serving archive (model + code/, see stacks/serving_model.py) at the context's key.
            grant_objects(role, self.artifact_bucket, self.key, endpoint.model_data_key, read=True)
            self.endpoints[name] = ModelEndpoint(
                self, name, endpoint=endpoint, role=role, key=self.key, region=self.region,
                model_data_url=f"s3://{self.artifact_bucket.bucket_name}/{endpoint.model_data_key}", vpc=vpc)
        if vpc:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="ModelNetworkInterfaces",
                actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                         "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
                         "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                         "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
                resources=["*"]))
