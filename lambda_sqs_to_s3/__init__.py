"""The batcher: drains the queue into the lake. AWS Lambda entry point: handler.lambda_handler."""
