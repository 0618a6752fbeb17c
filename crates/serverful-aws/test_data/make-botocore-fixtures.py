"""Regenerates botocore-signatures.json: requests signed by botocore's own SigV4 signer.

Run: python3 test_data/make-botocore-fixtures.py > test_data/botocore-signatures.json
"""
import datetime
import json

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 11, 23, 8, 0, 0)
botocore.auth.get_current_datetime = lambda: FIXED
CREDENTIALS = Credentials("AKSFEXAMPLEKEY000001", "serverful/test+secret/key0000000000000000")

CASES = [
    ("dynamodb-put-item", "dynamodb", "POST", "http://127.0.0.1:4566/",
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem"},
     '{"TableName":"Ünïcode","Item":{"pk":{"S":"a  b"}}}'),
    ("dynamodb-signed-with-date-header", "dynamodb", "POST", "http://127.0.0.1:4566/",
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables",
      "Date": "replaced by botocore"},
     '{}'),
    ("streams-describe", "dynamodb", "POST", "http://localhost:4566/",
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDBStreams_20120810.DescribeStream"},
     '{"StreamArn":"arn:aws:dynamodb:eu-west-1:000000000000:table/t/stream/2026"}'),
    ("lambda-invoke-arn-path", "lambda", "POST",
     "http://127.0.0.1:4566/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Amy-fn/invocations?Qualifier=%24LATEST",
     {"X-Amz-Invocation-Type": "RequestResponse", "X-Amz-Log-Type": "None"},
     '{"hello": "world"}'),
    ("apigw-post-to-connection", "execute-api", "POST",
     "http://127.0.0.1:4566/@connections/abc%3D%3D",
     {}, 'message with spaces'),
]

PRESIGNED = [
    ("dynamodb-presigned-list-tables", "dynamodb", "POST", "http://127.0.0.1:4566/",
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"},
     '{}'),
]

out = []
for presigned, cases in ((False, CASES), (True, PRESIGNED)):
  for name, service, method, url, headers, body in cases:
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body.encode())
    if presigned:
        botocore.auth.SigV4QueryAuth(CREDENTIALS, service, "eu-west-1", expires=300).add_auth(request)
    else:
        botocore.auth.SigV4Auth(CREDENTIALS, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    out.append({
        "presigned": presigned,
        "name": name,
        "service": service,
        "method": method,
        "url": prepared.url,
        "headers": [[k, v if isinstance(v, str) else v.decode()] for k, v in prepared.headers.items()],
        # Presigning moves a body's parameters into the query string: record what is sent.
        "body": (prepared.body or b"").decode() if isinstance(prepared.body or b"", bytes) else prepared.body,
    })
print(json.dumps({
    "source": "botocore " + __import__("botocore").__version__ + " SigV4Auth, clock fixed at " + FIXED.strftime("%Y%m%dT%H%M%SZ"),
    "access_key_id": CREDENTIALS.access_key,
    "secret_access_key": CREDENTIALS.secret_key,
    "now": FIXED.strftime("%Y%m%dT%H%M%SZ"),
    "tests": out,
}, indent=1, ensure_ascii=False))
