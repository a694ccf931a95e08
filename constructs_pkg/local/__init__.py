"""Run the library's pipelines on one machine: DynamoDB Local, a local stream runner, failure redrive.

Development tooling, not infrastructure: it needs boto3 (``pip install 'dynamodb-stream-constructs[local]'``).
"""
