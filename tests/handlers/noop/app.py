"""The smallest handler the construct tests stage as an asset."""


def handler(event: dict, context: object) -> dict:
    return {"batchItemFailures": []}
