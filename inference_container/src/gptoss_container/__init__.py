"""gpt-oss on vLLM behind the SageMaker hosting contract."""

__version__ = "0.1.0"
