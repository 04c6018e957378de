"""Training pipelines: local (CPU) and AWS (SageMaker, Bedrock)."""
