import json

import aws_lambda_powertools
from aws_lambda_powertools import Logger

logger = Logger(service="layers-test")


def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "powertoolsFile": aws_lambda_powertools.__file__,
                "logger": type(logger).__name__,
            }
        ),
    }
