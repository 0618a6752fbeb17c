import os

# The end-to-end test rewrites this line between deploys.
CODE = "v1"


def handler(event, context):
    return {
        "code": CODE,
        "version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"),
    }
