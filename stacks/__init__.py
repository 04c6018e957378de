"""The CDK application of the Multilingual Product Inference System (see app.py and DESIGN.md).

One module per stack; small reusable constructs in `stacks.constructs`. No business logic: the
stacks wire AWS resources around the code in `lambdas/`, `sagemaker_jobs/` and `inference/`.
"""
