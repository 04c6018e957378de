"""A SageMaker real-time endpoint (Model + EndpointConfig + Endpoint) serving a `sagemaker_jobs/` script.

The container is a framework inference image (Hugging Face / PyTorch DLC). Its inference toolkit
unpacks `model.tar.gz` into /opt/ml/model, pip-installs `code/requirements.txt`, puts
/opt/ml/model/code first on the Python path and imports the module `SAGEMAKER_PROGRAM` names
(default `inference.py`) for model_fn/input_fn/predict_fn/output_fn; it downloads no source from
S3. So the model archive carries the project's source as `code/` (`stacks.serving_model` makes
it), and the program is the dotted module `sagemaker_jobs.serve_ner`: the default would import
the project's own `inference` package, which has none of those functions.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.constructs.nag import acknowledge
from stacks.constructs.vpc_placement import VpcPlacement
from stacks.settings import EndpointSettings

VARIANT = "AllTraffic"
SOURCE_FOLDER = "sagemaker_jobs"
CODE_DIR = "/opt/ml/model/code"  # model.tar.gz's code/ folder, unpacked


def serving_environment(entry_point: str, region: str) -> dict[str, str]:
    """The container variables that make the inference toolkit import `sagemaker_jobs/<entry_point>`
    from the model archive's code/ folder."""
    return {"SAGEMAKER_PROGRAM": f"{SOURCE_FOLDER}.{entry_point.removesuffix('.py')}",
            "SAGEMAKER_SUBMIT_DIRECTORY": CODE_DIR,
            "SAGEMAKER_REGION": region,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}


class ModelEndpoint(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, endpoint: EndpointSettings, role: iam.IRole,
                 model_data_url: str, key: kms.IKey, region: str, vpc: VpcPlacement | None) -> None:
        super().__init__(scope, construct_id)
        self.model = sagemaker.CfnModel(
            self, "Model",
            execution_role_arn=role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=endpoint.image,
                model_data_url=model_data_url,
                environment=serving_environment(endpoint.entry_point, region)),
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(security_group_ids=vpc.security_group_ids,
                                                            subnets=vpc.subnet_ids) if vpc else None,
        )
        self.model.node.add_dependency(role)
        if vpc is None:
            acknowledge(self.model, "AwsSolutions-SM1",
                        "No VPC is configured (context key 'vpc'); the model then reaches S3 and the image "
                        "registry over SageMaker's network. Set 'vpc' to place models in private subnets")
        self.config = sagemaker.CfnEndpointConfig(
            self, "Config",
            kms_key_id=key.key_arn,
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT, model_name=self.model.attr_model_name, initial_instance_count=1,
                instance_type=endpoint.instance_type, initial_variant_weight=1.0)],
        )
        self.endpoint = sagemaker.CfnEndpoint(self, "Endpoint", endpoint_name=endpoint.name,
                                              endpoint_config_name=self.config.attr_endpoint_config_name)
