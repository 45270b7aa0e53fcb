"""Constructs and the stack that deploy a SageMaker Asynchronous Inference system."""
