"""The HTTP job API: submit, status, results, listings and uploads over API Gateway (REST),
one Lambda function behind every method (Powertools' REST event handler)."""
