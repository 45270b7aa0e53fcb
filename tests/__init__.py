"""The test suite. A regular package: a dependency of the SageMaker SDK (smdebug_rulesconfig)
installs a top-level `tests` package into site-packages, which would shadow a namespace package."""
