"""An existing VPC's subnets and security groups, imported by id (no lookup: synth stays offline)."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.constructs.nag import acknowledge
from stacks.settings import VpcSettings


class VpcPlacement(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, vpc: VpcSettings) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc.from_vpc_attributes(self, "Vpc", vpc_id=vpc.vpc_id,
                                               availability_zones=list(vpc.availability_zones),
                                               private_subnet_ids=list(vpc.subnet_ids))
        self.subnets = [ec2.Subnet.from_subnet_id(self, f"Subnet{i}", subnet_id)
                        for i, subnet_id in enumerate(vpc.subnet_ids)]
        self.security_groups = [ec2.SecurityGroup.from_security_group_id(self, f"SecurityGroup{i}", group_id)
                                for i, group_id in enumerate(vpc.security_group_ids)]
        acknowledge(self, "@aws-cdk/aws-ec2:noSubnetRouteTableId",
                    "The subnets are only handed to Lambda and SageMaker as ids; nothing here reads their route "
                    "tables, so none are imported")
        self.subnet_ids = list(vpc.subnet_ids)
        self.security_group_ids = list(vpc.security_group_ids)
