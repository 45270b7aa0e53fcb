"""The project's Lambda functions, one folder each; installed as the package data
`asyncinfer_constructs.handlers` (pyproject.toml maps this folder there)."""
