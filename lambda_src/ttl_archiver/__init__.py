"""TtlArchiver's handler: the items DynamoDB's time to live deletes, written to S3 as compressed JSON Lines."""
