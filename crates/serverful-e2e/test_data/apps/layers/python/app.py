import json
import os
import subprocess

import greeting
import inflection
import settings


def handler(event, context):
    tool = subprocess.run(["layer-hello"], capture_output=True, text=True, check=True)
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "greeting": greeting.GREETING,
                "settings": settings.NAME,
                "settingsFile": settings.__file__,
                "camelized": inflection.camelize("layers_work"),
                "tool": tool.stdout.strip(),
                "pythonPath": os.environ.get("PYTHONPATH", ""),
            }
        ),
    }
