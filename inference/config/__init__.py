"""Configuration: where local state lives, and the model registry."""
