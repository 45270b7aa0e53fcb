"""Local mode: the deployed system's asynchronous data flow on one machine.

Pieces (each usable on its own, see their docstrings):

- ``model_server.ModelServer``: a model stand-in behind the SageMaker container contract,
  chosen per endpoint by ``stand_ins.choose`` (``sentiment`` for the default Hugging Face
  model, ``xgboost`` for other model sources).
- ``provision.provision``: buckets, topics, subscriptions, queues and table created in a
  moto server from the synthesized CloudFormation template.
- ``endpoint_service.EndpointService``: InvokeEndpointAsync on loopback with SageMaker's
  queue, concurrency limit, TTL, S3 output/failure objects and SNS notifications.
- ``control_plane.ControlPlane``: DescribeEndpoint and ListEndpoints for the template's
  endpoints.
- ``event_source.EventSource``: the project's results writer driven from the SQS stand-in
  like Lambda's SQS event source mapping.
- ``runtime.LocalMode``: all of the above started together (``asyncinfer local up``).
"""
