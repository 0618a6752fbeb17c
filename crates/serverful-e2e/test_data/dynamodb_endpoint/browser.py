# A page on another origin uses the AWS endpoint's DynamoDB from headless Chromium (Debian's
# `chromium` and `chromedriver`, through Selenium), as a single-page app with the JS SDK
# would: a ListTables signed with the endpoint's keys (a preflighted POST with X-Amz-Target
# and the JSON 1.0 content type), an unsigned one (the error must be readable too) and the
# health check. Prints what the page could read as JSON.
#
# argv: the AWS endpoint's URL, a URL on another origin to load the page from, the access
# key id, the secret access key.
import json, sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

endpoint, page, access_key, secret_key = sys.argv[1:5]

body = "{}"
request = AWSRequest(
    method="POST",
    url=endpoint + "/",
    data=body,
    headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
    },
)
SigV4Auth(Credentials(access_key, secret_key), "dynamodb", "us-east-1").add_auth(request)
signed = {name: value for name, value in request.headers.items() if name.lower() != "host"}

options = Options()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]:
    options.add_argument(flag)
driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
driver.set_script_timeout(30)

# A fetch that fails as a network error (the browser found a pooled connection closed
# under it) is tried once more, and counted: a refusal for CORS fails both times.
CALL = """
const [url, init, done] = arguments;
const attempt = (retried) => fetch(url, init).then(async (response) => done({
  status: response.status,
  requestId: response.headers.get("x-amzn-RequestId"),
  crc32: response.headers.get("x-amz-crc32"),
  body: await response.text(),
  retried,
})).catch((error) => retried ? done({ error: String(error), retried }) : attempt(true));
attempt(false);
"""

try:
    driver.get(page)
    seen = {"origin": driver.execute_script("return location.origin")}
    seen["signed"] = driver.execute_async_script(
        CALL, endpoint + "/", {"method": "POST", "headers": signed, "body": body}
    )
    seen["unsigned"] = driver.execute_async_script(
        CALL,
        endpoint + "/",
        {
            "method": "POST",
            "headers": {
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
            },
            "body": body,
        },
    )
    seen["health"] = driver.execute_async_script(CALL, endpoint + "/", {"method": "GET"})
    print(json.dumps(seen))
finally:
    driver.quit()
