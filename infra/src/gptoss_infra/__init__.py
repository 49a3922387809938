"""The CDK app that deploys gpt-oss on SageMaker, grants Bedrock access and controls cost."""
