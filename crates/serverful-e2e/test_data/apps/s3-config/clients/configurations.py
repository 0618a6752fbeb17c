# Bucket configurations through boto3 (tests/it/s3_config.rs): each kind missing, set,
# read back and deleted, with S3's errors for what is missing or malformed.
import json
import sys
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.exceptions

bucket = sys.argv[1]
s3 = boto3.client("s3")
seen = {}


def error(call, **kwargs):
    try:
        call(Bucket=bucket, **kwargs)
        return None
    except botocore.exceptions.ClientError as failure:
        return [failure.response["Error"]["Code"], failure.response["ResponseMetadata"]["HTTPStatusCode"]]


def raw_put(query, body):
    """PUT a raw XML body, signed, to the bucket's subresource: what a broken client sends."""
    url = f"{s3.meta.endpoint_url}/{bucket}?{query}"
    request = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=body.encode())
    credentials = boto3.Session().get_credentials()
    botocore.auth.S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, data=body.encode(), method="PUT", headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared) as response:
            return [response.status, response.read().decode()]
    except urllib.error.HTTPError as failure:
        text = failure.read().decode()
        code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else text
        return [failure.code, code]


s3.create_bucket(Bucket=bucket)
seen["missing"] = {
    "cors": error(s3.get_bucket_cors),
    "policy": error(s3.get_bucket_policy),
    "website": error(s3.get_bucket_website),
    "tagging": error(s3.get_bucket_tagging),
    "lifecycle": error(s3.get_bucket_lifecycle_configuration),
}
seen["no_bucket"] = error(lambda Bucket: s3.get_bucket_cors(Bucket=Bucket + "-missing"))
seen["versioning_unset"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")
notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
notifications.pop("ResponseMetadata")
seen["notifications"] = notifications

cors = {
    "CORSRules": [
        {
            "ID": "web",
            "AllowedOrigins": ["https://*.example.com"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": 600,
        }
    ]
}
s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)
seen["cors"] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
seen["cors_bad_method"] = error(
    s3.put_bucket_cors,
    CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]},
)
seen["cors_malformed"] = raw_put("cors", "<CORSConfiguration><CORSRule><AllowedOrigin>")

policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    ],
}
seen["policy_malformed"] = error(s3.put_bucket_policy, Policy="this is not JSON")
s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
seen["policy"] = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy

s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "web"}]})
seen["tagging"] = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]

s3.put_bucket_website(
    Bucket=bucket,
    WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "oops.html"}},
)
website = s3.get_bucket_website(Bucket=bucket)
website.pop("ResponseMetadata")
seen["website"] = website
seen["website_bad"] = error(
    s3.put_bucket_website,
    WebsiteConfiguration={"ErrorDocument": {"Key": "oops.html"}},
)

s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
seen["versioning"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")
seen["versioning_malformed"] = raw_put(
    "versioning", "<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>"
)

s3.put_bucket_lifecycle_configuration(
    Bucket=bucket,
    LifecycleConfiguration={
        "Rules": [
            {
                "ID": "tmp",
                "Status": "Enabled",
                "Filter": {"Prefix": "tmp/"},
                "Expiration": {"Days": 1},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 2},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
            }
        ]
    },
)
seen["lifecycle"] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
seen["lifecycle_no_action"] = error(
    s3.put_bucket_lifecycle_configuration,
    LifecycleConfiguration={"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}}]},
)

print(json.dumps(seen))
