"""CDK constructs that deploy a SageMaker Asynchronous Inference system."""
