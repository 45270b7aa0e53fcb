"""The project's tests (a regular package: smdebug-rulesconfig, which the pinned sagemaker
SDK pulls in, installs a top-level ``tests`` package that would shadow a namespace one)."""
