"""What the project's Lambda functions and its client share, shipped in each function's asset.

- ``contract``: the results record's names, statuses, indexes, shards and time format;
- ``environment``: the names of the environment variables the constructs set and the
  functions read;
- ``notification``: one SQS message body as a SageMaker async inference notification;
- ``record``: the results-table items: a notification's record and a client's PENDING item;
- ``inference_record``: an item read back (``deserialize``, ``InferenceRecord``).

Standard library only, and nothing is imported here: the CDK app imports ``contract`` and
``environment`` at synth time, and asyncinfer_constructs/functions.py copies this package
into every function's asset beside the function's own folder.
"""
