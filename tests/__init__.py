"""The test suite (a regular package: smdebug_rulesconfig, a dependency of the pinned
sagemaker SDK, installs a top-level `tests` package into site-packages that would
otherwise shadow this namespace package and break every `from tests... import`)."""
