import json
import os
import platform


def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"executionEnv": os.environ["AWS_EXECUTION_ENV"], "python": platform.python_version()}),
    }
