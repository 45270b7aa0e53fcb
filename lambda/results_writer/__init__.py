"""Results writer: turns SageMaker async inference notifications into results records."""
