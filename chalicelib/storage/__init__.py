"""AWS adapters: DynamoDB, SQS and S3 behind small interfaces with in-memory twins."""
