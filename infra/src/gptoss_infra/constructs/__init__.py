"""Our own CDK constructs over the L1 resources: SageMaker hosting, Bedrock access and
cost controls."""
