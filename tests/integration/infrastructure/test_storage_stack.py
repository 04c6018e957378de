"""Storage stack: the KMS key and the four buckets, with the project's baseline on each."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.integration.infrastructure.cdk_helpers import resources


def buckets(synth) -> dict[str, dict]:
    return dict(resources(synth.template_json("Storage"), "AWS::S3::Bucket"))


def test_key_rotates(synth):
    synth.template("Storage").has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_four_buckets_all_versioned_private_and_tls_only(synth):
    template = synth.template_json("Storage")
    found = buckets(synth)
    assert len(found) == 4
    for logical_id, props in found.items():
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, logical_id
    denied_insecure = set()
    for _, policy in resources(template, "AWS::S3::BucketPolicy"):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                denied_insecure.add(policy["Bucket"]["Ref"])
    assert denied_insecure == set(found)


def test_data_buckets_use_the_kms_key_and_log_to_the_access_log_bucket(synth):
    found = buckets(synth)
    key_id = next(iter(dict(resources(synth.template_json("Storage"), "AWS::KMS::Key"))))
    log_bucket = next(k for k in found if k.startswith("AccessLogs"))
    for logical_id, props in found.items():
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        if logical_id == log_bucket:  # a server access log target must use S3-managed keys
            assert rule == {"SSEAlgorithm": "AES256"}
            assert "LoggingConfiguration" not in props
        else:
            assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}


def test_bucket_names_default_to_project_account_region(synth):
    names = {props["BucketName"]["Fn::Join"][1][0] for props in buckets(synth).values()}
    assert names == {f"product-inference-{purpose}-" for purpose in
                     ("data", "artifacts", "bedrock-training", "access-logs")}


def test_bucket_names_from_context(tmp_path):
    from tests.integration.infrastructure.cdk_helpers import synthesize

    named = synthesize(tmp_path, data_bucket_name="acme-catalogue-data", artifact_bucket_name="acme-models")
    named.template("Storage").has_resource_properties("AWS::S3::Bucket", {"BucketName": "acme-catalogue-data"})
    named.template("Storage").has_resource_properties("AWS::S3::Bucket", {"BucketName": "acme-models"})
    # The other stacks address the bucket by that name.
    named.template("Inference").has_resource_properties("AWS::Lambda::Function", {"Environment": {"Variables": Match.object_like({
        "DATA_BUCKET": "acme-catalogue-data",
        "MODEL_REGISTRY_URI": "s3://acme-models/registry/model_registry.json"})}})


def test_ssm_parameters_for_the_training_commands(synth):
    from training.pipelines.bedrock_nova import OUTPUT_SETTING
    from training.pipelines.sagemaker_launcher import PARAMETER_PREFIX

    params = {props["Name"] for _, props in resources(synth.template_json("Storage"), "AWS::SSM::Parameter")}
    assert params == {f"{PARAMETER_PREFIX}/artifact-bucket", f"{PARAMETER_PREFIX}/{OUTPUT_SETTING}"}
