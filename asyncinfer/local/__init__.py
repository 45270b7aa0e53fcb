"""Local mode: the deployed system's asynchronous data flow on one machine.

Pieces (each usable on its own, see their docstrings):

- ``model_server.ModelServer``: XGBoost model behind the SageMaker container contract.
- ``provision.provision``: buckets, topics, subscriptions, queues and table created in a
  moto server from the synthesized CloudFormation template.
- ``endpoint_service.EndpointService``: InvokeEndpointAsync on loopback with SageMaker's
  queue, concurrency limit, TTL, S3 output/failure objects and SNS notifications.
- ``event_source.EventSource``: the project's results writer driven from the SQS stand-in
  like Lambda's SQS event source mapping.
- ``runtime.LocalMode``: all of the above started together (``asyncinfer local up``).
"""
