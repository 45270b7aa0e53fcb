"""Client, CLI and local mode for this project's SageMaker Asynchronous Inference stacks."""
