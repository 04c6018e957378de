"""Training stack: the NER training (SageMaker, .sync) and Nova fine-tuning (Bedrock, .sync) state
machines, each registering its model; the roles SageMaker and Bedrock assume."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from tests.integration.infrastructure.cdk_helpers import resources, statements_of_role, synthesize, task_states
from training.pipelines.bedrock_nova import ROLE_SETTING, map_hyperparameters
from training.pipelines.sagemaker_launcher import PARAMETER_PREFIX


def test_both_training_machines_are_standard_logged_all_and_traced(synth):
    for name in ("NerTraining", "NovaFineTuning"):
        synth.template("Training").has_resource_properties("AWS::StepFunctions::StateMachine", {
            "StateMachineName": name, "StateMachineType": "STANDARD",
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
            "TracingConfiguration": {"Enabled": True}})


def test_ner_training_runs_the_script_mode_job_and_waits(synth):
    asl = synth.state_machine_asl("Training", "NerTraining")
    train = asl["States"]["TrainNer"]
    assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    params = train["Parameters"]
    assert params["AlgorithmSpecification"]["TrainingImage"] == synth.context["ner_training_image"]
    assert params["ResourceConfig"]["InstanceType"] == synth.context["ner_training_instance_type"]
    assert params["InputDataConfig"][0]["ChannelName"] == "training"
    assert params["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.training_data"
    assert params["OutputDataConfig"]["S3OutputPath"].endswith("/training-jobs/")
    hyper = params["HyperParameters"]
    # JSON-encoded like training.pipelines.sagemaker_launcher sends them.
    assert json.loads(hyper["sagemaker_program"]) == "sagemaker_jobs/train_ner.py"
    assert json.loads(hyper["sagemaker_submit_directory"]).startswith("s3://cdk-")
    for key, value in synth.context["ner_training"].items():
        assert json.loads(hyper[key]) == value, key
    assert hyper["training_data.$"] == "States.Format('\"{}\"', $.training_file)"


def test_ner_training_registers_the_model_artifact(synth):
    states = synth.state_machine_asl("Training", "NerTraining")["States"]
    assert states["TrainNer"]["Next"] == "RegisterNerModel"
    register = states["RegisterNerModel"]
    assert synth.handler_of_function_arn("Training", register["Resource"]) == "lambdas.register_model"
    assert register["Parameters"]["model_type"] == "ner"
    assert register["Parameters"]["artifact.$"] == "$.training.ModelArtifacts.S3ModelArtifacts"


def test_nova_fine_tuning_waits_for_the_bedrock_job_and_registers(synth):
    states = synth.state_machine_asl("Training", "NovaFineTuning")["States"]
    job = states["FineTuneNova"]
    assert job["Resource"] == "arn:aws:states:::bedrock:createModelCustomizationJob.sync"
    params = job["Parameters"]
    assert params["BaseModelIdentifier"].endswith("foundation-model/amazon.nova-pro-v1:0:300k")
    assert params["CustomizationType"] == "FINE_TUNING"
    assert params["HyperParameters"] == map_hyperparameters(synth.context["nova_hyperparameters"])[0]
    assert "/fine-tuning/{}/" in params["OutputDataConfig"]["S3Uri.$"]
    assert job["ResultPath"] is None  # the .sync result's shape is undocumented: nothing is read from it
    describe = states[job["Next"]]
    assert describe["Resource"] == "arn:aws:states:::aws-sdk:bedrock:getModelCustomizationJob"
    assert describe["Parameters"] == {"JobIdentifier.$": "$.job_name"}
    # AWS SDK integrations answer in PascalCase: GetModelCustomizationJob's jobArn is JobArn there.
    assert describe["ResultSelector"] == {f"{f}.$": f"$.{f}" for f in ("JobArn", "JobName", "Status", "OutputModelArn",
                                                                       "OutputModelName", "BaseModelArn")}
    assert describe["ResultPath"] == "$.customization"
    register = states[describe["Next"]]
    assert synth.handler_of_function_arn("Training", register["Resource"]) == "lambdas.register_model"
    assert register["Parameters"]["model_type"] == "llm"
    assert register["Parameters"]["artifact.$"] == "$.customization.OutputModelArn"
    assert register["Parameters"]["job.$"] == "$.customization"


def test_nova_state_machine_may_read_and_stop_customization_jobs_only(synth):
    template = synth.template_json("Training")
    role = next(p["RoleArn"]["Fn::GetAtt"][0] for _, p in resources(template, "AWS::StepFunctions::StateMachine")
                if p["StateMachineName"] == "NovaFineTuning")
    for statement in statements_of_role(template, role):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "bedrock:GetModelCustomizationJob" in actions:
            assert "model-customization-job/*" in json.dumps(statement["Resource"]), statement


def test_every_training_task_retries_with_backoff(synth):
    for name in ("NerTraining", "NovaFineTuning"):
        for task, state in task_states(synth.state_machine_asl("Training", name)):
            backoffs = [r for r in state.get("Retry", []) if r.get("MaxAttempts", 3) > 0]
            assert backoffs and all(r["BackoffRate"] > 1 for r in backoffs), task


def test_inputs_fill_in_defaults(synth):
    states = synth.state_machine_asl("Training", "NerTraining")["States"]
    assert states["Defaults"]["Parameters"]["job_name.$"] == "$$.Execution.Name"
    assert states["ApplyInput"]["Parameters"] == {
        "merged.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"}


def test_bedrock_role_trusts_bedrock_for_this_account_only(synth):
    synth.template("Training").has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {
        "Statement": [Match.object_like({"Principal": {"Service": "bedrock.amazonaws.com"},
                                         "Condition": Match.object_like({"StringEquals": {
                                             "aws:SourceAccount": {"Ref": "AWS::AccountId"}}})})],
        "Version": "2012-10-17"}})


def test_nova_state_machine_may_pass_only_the_bedrock_role(synth):
    template = synth.template_json("Training")
    role = next(p["RoleArn"]["Fn::GetAtt"][0] for _, p in resources(template, "AWS::StepFunctions::StateMachine")
                if p["StateMachineName"] == "NovaFineTuning")
    passes = [s for s in statements_of_role(template, role) if s["Action"] == "iam:PassRole"]
    assert len(passes) == 1
    assert passes[0]["Resource"]["Fn::GetAtt"][0].startswith("BedrockCustomizationRole")


def test_launcher_settings_are_published(synth):
    names = {p["Name"] for _, p in resources(synth.template_json("Training"), "AWS::SSM::Parameter")}
    assert names == {f"{PARAMETER_PREFIX}/sagemaker-role-arn", f"{PARAMETER_PREFIX}/{ROLE_SETTING}"}


def test_hyperparameters_nova_refuses_fail_the_synth(tmp_path):
    from stacks.settings import SettingError

    with pytest.raises(SettingError, match="nova_hyperparameters.*learning_rate"):
        synthesize(tmp_path, nova_hyperparameters={"learning_rate": 0.0002})
    with pytest.raises(SettingError, match="ner_training"):
        synthesize(tmp_path / "2", ner_training={"epoch": 3})
