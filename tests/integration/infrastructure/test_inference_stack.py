"""Inference stack: the pipeline Lambdas, the HybridPipeline and CatalogueBatch state machines, the
SageMaker endpoints (behind deploy_endpoints)."""

from __future__ import annotations

from aws_cdk.assertions import Match

from inference.monitoring import metric_names
from stacks.constructs.sagemaker_endpoint import serving_environment
from tests.integration.infrastructure.cdk_helpers import as_list, resources, statements_of_role, task_states
from tests.integration.infrastructure.conftest import VARIANT

HANDLERS = {"lambdas.ner_stage.handler", "lambdas.rag_stage.handler", "lambdas.llm_stage.handler",
            "lambdas.finalize.handler", "lambdas.check_catalogue.handler", "lambdas.batch_predict.handler",
            "lambdas.merge_results.handler"}
CONTRACT_ENV = {"MODEL_REGISTRY_URI", "DATA_BUCKET", "MILVUS_SECRET_NAME", "NER_ENDPOINT_NAME",
                "EMBEDDING_ENDPOINT_NAME", "LLM_MODEL_ID", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE",
                "LOG_LEVEL"}


def functions(synth) -> dict[str, dict]:
    return {props["Handler"]: props for _, props in resources(synth.template_json("Inference"), "AWS::Lambda::Function")}


def test_one_function_per_pipeline_handler_python312_traced(synth):
    found = functions(synth)
    assert set(found) == HANDLERS
    for handler, props in found.items():
        assert props["Runtime"] == "python3.12", handler
        assert props["TracingConfig"] == {"Mode": "Active"}, handler
        assert "LogGroup" in props["LoggingConfig"], handler


def test_functions_get_the_contract_environment(synth):
    for handler, props in functions(synth).items():
        variables = props["Environment"]["Variables"]
        assert set(variables) == CONTRACT_ENV, handler
        assert variables["POWERTOOLS_SERVICE_NAME"] == metric_names.SERVICE
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == metric_names.NAMESPACE
        assert variables["NER_ENDPOINT_NAME"] == synth.context["ner_endpoint_name"]
        assert variables["EMBEDDING_ENDPOINT_NAME"] == synth.context["embedding_endpoint_name"]
        assert variables["MILVUS_SECRET_NAME"] == synth.context["milvus_secret_name"]
        assert variables["LLM_MODEL_ID"] == synth.context["nova_base_model_id"]  # no custom model yet


def test_all_functions_share_one_code_asset(synth):
    keys = {props["Code"]["S3Key"] for props in functions(synth).values()}
    keys |= {props["Code"]["S3Key"] for _, props in resources(synth.template_json("Training"), "AWS::Lambda::Function")}
    assert len(keys) == 1


def role_of(synth, handler: str) -> str:
    return functions(synth)[handler]["Role"]["Fn::GetAtt"][0]


def actions_on(statements: list[dict]) -> dict[str, list]:
    found: dict[str, list] = {}
    for statement in statements:
        for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
            found.setdefault(action, []).append(statement["Resource"])
    return found


def test_stage_roles_hold_only_what_their_stage_calls(synth):
    template = synth.template_json("Inference")
    ner = actions_on(statements_of_role(template, role_of(synth, "lambdas.ner_stage.handler")))
    rag = actions_on(statements_of_role(template, role_of(synth, "lambdas.rag_stage.handler")))
    llm = actions_on(statements_of_role(template, role_of(synth, "lambdas.llm_stage.handler")))
    endpoint = f"endpoint/{synth.context['ner_endpoint_name']}"
    assert any(endpoint in str(resource) for resource in ner["sagemaker:InvokeEndpoint"])
    assert "secretsmanager:GetSecretValue" not in ner and "bedrock:InvokeModel" not in ner
    assert any(synth.context["embedding_endpoint_name"] in str(r) for r in rag["sagemaker:InvokeEndpoint"])
    assert "secretsmanager:GetSecretValue" in rag and "bedrock:InvokeModel" not in rag
    assert "sagemaker:InvokeEndpoint" not in llm
    model_arns = [str(r) for r in llm["bedrock:InvokeModel"]]
    assert any(f"foundation-model/{synth.context['nova_base_model_id']}" in arn for arn in model_arns)
    for stage in (ner, rag, llm):  # the model registry, read-only
        assert "s3:GetObject" in stage and "s3:PutObject" not in stage


def test_llm_role_may_call_the_custom_model_when_one_is_configured(variant):
    template = variant.template_json("Inference")
    role = next(p["Role"]["Fn::GetAtt"][0] for _, p in resources(template, "AWS::Lambda::Function")
                if p["Handler"] == "lambdas.llm_stage.handler")
    resources_ = actions_on(statements_of_role(template, role))["bedrock:InvokeModel"]
    assert variant.context["custom_model_arn"] in str(resources_)
    variant.template("Inference").has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"LLM_MODEL_ID": variant.context["custom_model_arn"]})}})


# -- HybridPipeline --------------------------------------------------------------------------------
def test_hybrid_pipeline_is_express_logged_all_and_traced(synth):
    synth.template("Inference").has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": "HybridPipeline", "StateMachineType": "EXPRESS",
        "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
        "TracingConfiguration": {"Enabled": True}})


def test_hybrid_pipeline_flow_is_the_contracts(synth):
    asl = synth.state_machine_asl("Inference", "HybridPipeline")
    states = asl["States"]
    assert asl["StartAt"] == "NerStage"
    assert states["NerStage"]["Next"] == "DecidedAfterNer"
    for choice, otherwise in (("DecidedAfterNer", "RagStage"), ("DecidedAfterRag", "LlmStage")):
        assert states[choice]["Choices"] == [{"Variable": "$.decided", "BooleanEquals": True, "Next": "Finalize"}]
        assert states[choice]["Default"] == otherwise
    assert states["RagStage"]["Next"] == "DecidedAfterRag"
    assert states["LlmStage"]["Next"] == "Finalize"
    assert states["Finalize"].get("End") is True
    handlers = {name: synth.handler_of_function_arn("Inference", state["Resource"])
                for name, state in task_states(asl)}
    assert handlers == {"NerStage": "lambdas.ner_stage", "RagStage": "lambdas.rag_stage",
                        "LlmStage": "lambdas.llm_stage", "Finalize": "lambdas.finalize"}


def test_every_stage_catches_into_finalize_with_the_stage_error(synth):
    states = synth.state_machine_asl("Inference", "HybridPipeline")["States"]
    for name in ("NerStage", "RagStage", "LlmStage"):
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.stage_error",
                                          "Next": "Finalize"}], name


def test_every_task_retries_lambda_errors_with_backoff(synth):
    for name in ("HybridPipeline", "CatalogueBatch"):
        for task, state in task_states(synth.state_machine_asl("Inference", name)):
            lambda_retry = next(r for r in state["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"])
            assert lambda_retry["MaxAttempts"] >= 2 and lambda_retry["BackoffRate"] > 1, (name, task)
            assert lambda_retry["JitterStrategy"] == "FULL", (name, task)


def test_llm_failures_are_retried_before_the_catch(synth):
    retriers = synth.state_machine_asl("Inference", "HybridPipeline")["States"]["LlmStage"]["Retry"]
    failed = next(r for r in retriers if r["ErrorEquals"] == ["States.TaskFailed"])
    assert failed["MaxAttempts"] >= 1 and failed["BackoffRate"] > 1 and failed["JitterStrategy"] == "FULL"
    assert retriers[0] == {"ErrorEquals": ["InvalidEvent"], "MaxAttempts": 0}  # a malformed state is not retried


# -- CatalogueBatch --------------------------------------------------------------------------------
def catalogue_map(synth) -> tuple[str, dict]:
    states = synth.state_machine_asl("Inference", "CatalogueBatch")["States"]
    return next((name, state) for name, state in states.items() if state["Type"] == "Map")


def test_catalogue_batch_is_standard_logged_all_and_traced(synth):
    synth.template("Inference").has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": "CatalogueBatch", "StateMachineType": "STANDARD",
        "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
        "TracingConfiguration": {"Enabled": True}})


def test_catalogue_is_checked_before_the_map_reads_it(synth):
    asl = synth.state_machine_asl("Inference", "CatalogueBatch")
    check = asl["States"][asl["StartAt"]]
    assert synth.handler_of_function_arn("Inference", check["Resource"]) == "lambdas.check_catalogue"
    assert check["Parameters"] == {"bucket.$": "$.bucket", "key.$": "$.key", "output_prefix.$": "$.output_prefix"}
    assert check["ResultPath"] == "$.checked"
    map_name, state = catalogue_map(synth)
    assert check["Next"] == map_name
    # the Map reads the checked copy, never the raw catalogue, whose bad lines would fail the reader
    assert state["ItemReader"]["Parameters"] == {"Bucket.$": "$.bucket", "Key.$": "$.checked.checked_key"}


def test_catalogue_map_reads_jsonl_from_s3_in_batches_from_context(synth, variant):
    _, state = catalogue_map(synth)
    assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert state["ItemReader"] == {"Resource": "arn:aws:states:::s3:getObject",
                                   "ReaderConfig": {"InputType": "JSONL"},
                                   "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.checked.checked_key"}}
    assert state["ItemBatcher"]["MaxItemsPerBatch"] == synth.context["batch_size"] == 20
    assert catalogue_map(variant)[1]["ItemBatcher"]["MaxItemsPerBatch"] == 7
    assert state["ItemBatcher"]["BatchInput"] == {"bucket.$": "$.bucket", "key.$": "$.key",
                                                  "output_prefix.$": "$.output_prefix",
                                                  "execution.$": "$$.Execution.Name"}
    assert state["ItemSelector"] == {"index.$": "$$.Map.Item.Index", "record.$": "$$.Map.Item.Value"}
    assert state["MaxConcurrency"] == synth.context["map_max_concurrency"]


def test_catalogue_passes_only_references_between_states(synth):
    name, state = catalogue_map(synth)
    states = synth.state_machine_asl("Inference", "CatalogueBatch")["States"]
    assert state["ResultPath"] is None  # batch summaries stay out of the state: the parts are in S3
    merge = states[state["Next"]]
    assert synth.handler_of_function_arn("Inference", merge["Resource"]) == "lambdas.merge_results"
    # the merge expects one row per input line, as the check counted them
    assert merge["Parameters"] == {"bucket.$": "$.bucket", "output_prefix.$": "$.output_prefix",
                                   "expected_rows.$": "$.checked.rows"}
    predict = state["ItemProcessor"]["States"][state["ItemProcessor"]["StartAt"]]
    assert synth.handler_of_function_arn("Inference", predict["Resource"]) == "lambdas.batch_predict"


def test_catalogue_state_machine_reads_only_the_data_bucket(synth):
    template = synth.template_json("Inference")
    role = next(p["RoleArn"]["Fn::GetAtt"][0] for _, p in resources(template, "AWS::StepFunctions::StateMachine")
                if p["StateMachineName"] == "CatalogueBatch")
    actions = actions_on(statements_of_role(template, role))
    reads = actions["s3:GetObject"]
    assert len(reads) == 1 and "product-inference-data-" in str(reads[0])
    assert "s3:PutObject" not in actions


def test_check_function_reads_and_writes_only_the_data_bucket(synth):
    template = synth.template_json("Inference")
    actions = actions_on(statements_of_role(template, role_of(synth, "lambdas.check_catalogue.handler")))
    for action in ("s3:GetObject", "s3:PutObject"):
        assert len(actions[action]) == 1 and "product-inference-data-" in str(actions[action][0]), action
    # nothing of the pipeline: no registry, endpoint, secret or model
    assert not {"sagemaker:InvokeEndpoint", "secretsmanager:GetSecretValue", "bedrock:InvokeModel"} & set(actions)
    assert all(not a.endswith("*") for a in actions), actions


def test_check_and_merge_have_room_to_stage_a_whole_catalogue(synth):
    found = functions(synth)
    for handler in ("lambdas.check_catalogue.handler", "lambdas.merge_results.handler"):
        assert found[handler]["EphemeralStorage"]["Size"] >= 4096, handler
    assert "EphemeralStorage" not in found["lambdas.ner_stage.handler"]


# -- endpoints -------------------------------------------------------------------------------------
def test_no_endpoints_until_deploy_endpoints(synth):
    template = synth.template_json("Inference")
    for kind in ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint"):
        assert not list(resources(template, kind)), kind


def test_endpoints_from_context_when_deployed(variant):
    template = variant.template("Inference")
    template.resource_count_is("AWS::SageMaker::Endpoint", 2)
    for prefix, entry in (("ner", "serve_ner"), ("embedding", "serve_embeddings")):
        template.has_resource_properties("AWS::SageMaker::Endpoint",
                                         {"EndpointName": variant.context[f"{prefix}_endpoint_name"]})
        template.has_resource_properties("AWS::SageMaker::Model", {"PrimaryContainer": Match.object_like({
            "Image": variant.context[f"{prefix}_inference_image"],
            "ModelDataUrl": Match.object_like({"Fn::Join": ["", Match.array_with([
                Match.string_like_regexp(f"/{variant.context[f'{prefix}_model_data_key']}$")])]}),
            # the toolkit imports this module from model.tar.gz's code/ (tests/integration/lambdas/test_sagemaker_jobs.py)
            "Environment": {"SAGEMAKER_PROGRAM": f"sagemaker_jobs.{entry}",
                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                            "SAGEMAKER_REGION": "us-east-1", "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}}),
            "VpcConfig": {"SecurityGroupIds": VARIANT["vpc"]["security_group_ids"],
                          "Subnets": VARIANT["vpc"]["subnet_ids"]}})
        template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
            "KmsKeyId": Match.any_value(),
            "ProductionVariants": [Match.object_like({"InstanceType": variant.context[f"{prefix}_instance_type"]})]})


def test_functions_join_the_vpc_when_one_is_configured(variant):
    for _, props in resources(variant.template_json("Inference"), "AWS::Lambda::Function"):
        assert props["VpcConfig"]["SubnetIds"] == VARIANT["vpc"]["subnet_ids"]
        assert props["VpcConfig"]["SecurityGroupIds"] == VARIANT["vpc"]["security_group_ids"]


def test_serving_program_is_never_the_toolkits_default_inference_module():
    """The toolkit's default program `inference.py` would import the project's `inference` package."""
    for entry in ("serve_ner.py", "serve_embeddings.py"):
        program = serving_environment(entry, "us-east-1")["SAGEMAKER_PROGRAM"]
        assert program.split(".")[0] != "inference" and not program.endswith(".py"), program


def test_endpoint_role_reads_only_the_serving_archives(variant):
    template = variant.template_json("Inference")
    role = next(p["ExecutionRoleArn"]["Fn::GetAtt"][0] for _, p in resources(template, "AWS::SageMaker::Model"))
    reads = [str(r) for found in actions_on(statements_of_role(template, role))["s3:GetObject"] for r in as_list(found)]
    assert len(reads) == 2 and all("product-inference-artifacts-" in r for r in reads)
    assert any(variant.context["ner_model_data_key"] in r for r in reads)
    assert any(variant.context["embedding_model_data_key"] in r for r in reads)
