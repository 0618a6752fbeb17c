"""Hand-made, correctly signed requests that SDKs do not send but other tools do: the
query protocol as a GET, a form POSTed to the queue's own URL, unknown actions and
malformed JSON. Prints status, headers and bodies as JSON for tests/it/sqs.rs."""

import json
import os

import botocore.credentials
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
import urllib.request
import urllib.error

endpoint = os.environ["AWS_ENDPOINT_URL"]
credentials = botocore.session.get_session().get_credentials()
seen = {}


def send(method, path, body=b"", headers=None, signed_with=None):
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    SigV4Auth(signed_with or credentials, "sqs", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(endpoint + path, data=body or None, method=method, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


form = {"Content-Type": "application/x-www-form-urlencoded"}
status, _, body = send("POST", "/", b"Action=CreateQueue&QueueName=raw&Version=2012-11-05", form)
seen["create"] = [status, "<QueueUrl>" in body and "/123456789012/raw</QueueUrl>" in body]
status, _, body = send("GET", "/?Action=ListQueues&QueueNamePrefix=raw&Version=2012-11-05")
seen["get_list"] = [status, "/123456789012/raw</QueueUrl>" in body, 'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"' in body]
status, _, body = send("POST", "/123456789012/raw", b"Action=SendMessage&MessageBody=to+the+path&Version=2012-11-05", form)
seen["send_to_path"] = [status, "<MD5OfMessageBody>" in body]
status, _, body = send("POST", "/123456789012/raw", b"Action=ReceiveMessage&Version=2012-11-05", form)
seen["receive_from_path"] = [status, "<Body>to the path</Body>" in body]
status, _, body = send("POST", "/", b"Action=Frobnicate&Version=2012-11-05", form)
seen["unknown_action"] = [status, "<Code>InvalidAction</Code>" in body]
status, _, body = send("POST", "/", b"Action=GetQueueUrl&QueueName=nope&Version=2012-11-05", form)
seen["missing_queue_xml"] = [status, "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in body, "<RequestId>" in body]
status, _, body = send("POST", "/", b"Action=SendMessage&Version=2012-11-05", form)
seen["missing_parameter"] = [status, "<Code>MissingParameter</Code>" in body]
wrong = botocore.credentials.Credentials(credentials.access_key, "not-the-secret")
status, _, body = send("POST", "/", b"Action=ListQueues&Version=2012-11-05", form, signed_with=wrong)
seen["bad_signature_xml"] = [status, "<Code>SignatureDoesNotMatch</Code>" in body]

amz = {"Content-Type": "application/x-amz-json-1.0"}
status, headers, body = send("POST", "/", b'{"QueueName":"nope"}', {**amz, "X-Amz-Target": "AmazonSQS.GetQueueUrl"})
lowered = {key.lower(): value for key, value in headers.items()}
seen["json_missing_queue"] = [status, json.loads(body).get("__type"), lowered.get("x-amzn-query-error")]
status, _, body = send("POST", "/", b"{not json", {**amz, "X-Amz-Target": "AmazonSQS.ListQueues"})
seen["json_malformed"] = [status, json.loads(body).get("__type")]
status, _, body = send("POST", "/", b"{}", {**amz, "X-Amz-Target": "AmazonSQS.Frobnicate"})
seen["json_unknown"] = [status, json.loads(body).get("__type")]
status, _, body = send("POST", "/", b'{"QueueUrl":"http://elsewhere/123456789012/raw","MaxNumberOfMessages":"ten"}', {**amz, "X-Amz-Target": "AmazonSQS.ReceiveMessage"})
seen["json_wrong_type"] = [status, json.loads(body).get("__type")]
print(json.dumps(seen))
