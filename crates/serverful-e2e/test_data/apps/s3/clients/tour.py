"""boto3 against Serverful's S3: objects, ranges, conditions, checksums, multipart,
listing, copy, tagging, presigned URLs and S3's errors. Prints what it saw as JSON."""

import base64
import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import botocore.config
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

s3 = boto3.client("s3")
bucket = sys.argv[1]
seen = {}


def error_of(call):
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return [error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]]
    return None


s3.create_bucket(Bucket=bucket)
seen["create_again"] = error_of(lambda: s3.create_bucket(Bucket=bucket))
seen["bad_name"] = error_of(lambda: s3.create_bucket(Bucket="Not_Valid"))
seen["missing_bucket"] = error_of(lambda: s3.get_object(Bucket="no-such-bucket-here", Key="k"))

put = s3.put_object(
    Bucket=bucket,
    Key="hello.txt",
    Body=b"hello world",
    ContentType="text/plain",
    Metadata={"Owner": "me"},
    CacheControl="max-age=60",
    ContentDisposition="inline",
    ContentEncoding="identity",
    Tagging="team=a&env=b",
)
etag = put["ETag"]
seen["etag"] = etag
got = s3.get_object(Bucket=bucket, Key="hello.txt")
seen["get"] = {
    "body": got["Body"].read().decode(),
    "type": got["ContentType"],
    "metadata": got["Metadata"],
    "cache": got["CacheControl"],
    "disposition": got["ContentDisposition"],
    "encoding": got["ContentEncoding"],
    "tags": got.get("TagCount"),
    "etag": got["ETag"],
}
ranged = s3.get_object(Bucket=bucket, Key="hello.txt", Range="bytes=0-4")
seen["range"] = [ranged["Body"].read().decode(), ranged["ContentRange"], ranged["ResponseMetadata"]["HTTPStatusCode"]]
seen["suffix_range"] = s3.get_object(Bucket=bucket, Key="hello.txt", Range="bytes=-5")["Body"].read().decode()
seen["bad_range"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="hello.txt", Range="bytes=100-200"))
seen["if_none_match"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="hello.txt", IfNoneMatch=etag))
seen["if_match"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="hello.txt", IfMatch='"0000"'))
seen["if_match_ok"] = s3.get_object(Bucket=bucket, Key="hello.txt", IfMatch=etag)["ETag"] == etag
seen["unmodified_since"] = error_of(
    lambda: s3.get_object(Bucket=bucket, Key="hello.txt", IfUnmodifiedSince="Sat, 01 Jan 2000 00:00:00 GMT")
)
overridden = s3.get_object(
    Bucket=bucket, Key="hello.txt", ResponseContentType="application/json", ResponseContentDisposition="attachment"
)
seen["override"] = [overridden["ContentType"], overridden["ContentDisposition"]]
seen["missing_key"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="absent"))
# An empty PutObject (Expect: 100-continue, no body) leaves the connection fit for the
# next call: without a retry, a stalled answer would fail within the 5 s.
quick = boto3.client("s3", config=botocore.config.Config(read_timeout=5, retries={"total_max_attempts": 1}))
quick.put_object(Bucket=bucket, Key="empty", Body=b"")
quick.put_object(Bucket=bucket, Key="after-empty", Body=b"x")
seen["after_empty"] = [quick.get_object(Bucket=bucket, Key="empty")["ContentLength"],
                       quick.get_object(Bucket=bucket, Key="after-empty")["Body"].read().decode()]
quick.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "empty"}, {"Key": "after-empty"}]})
# The error's XML names the request, as its x-amz-request-id header does.
try:
    urllib.request.urlopen(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "absent"}))
    seen["missing_key_request_id"] = None
except urllib.error.HTTPError as error:
    seen["missing_key_request_id"] = "<RequestId>%s</RequestId>" % error.headers["x-amz-request-id"] in error.read().decode()
seen["head_missing"] = error_of(lambda: s3.head_object(Bucket=bucket, Key="absent"))

# Checksums: the SDK's own (CRC32 by default in current botocore) and one asked for.
summed = s3.put_object(Bucket=bucket, Key="summed", Body=b"abc", ChecksumAlgorithm="SHA256")
back = s3.get_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED")
seen["sha256"] = [
    summed.get("ChecksumSHA256"),
    back.get("ChecksumSHA256"),
    base64.b64encode(hashlib.sha256(b"abc").digest()).decode(),
]
crc = s3.put_object(Bucket=bucket, Key="crc", Body=b"abc")
seen["crc32_default"] = crc.get("ChecksumCRC32")

# Bad input leaves nothing behind.
wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
seen["bad_md5"] = error_of(lambda: s3.put_object(Bucket=bucket, Key="torn", Body=b"data", ContentMD5=wrong_md5))
seen["bad_md5_left"] = error_of(lambda: s3.head_object(Bucket=bucket, Key="torn"))
seen["long_key"] = error_of(lambda: s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x"))

# Multipart through the transfer manager.
with tempfile.TemporaryDirectory() as folder:
    source = os.path.join(folder, "six.bin")
    data = os.urandom(6 * 1024 * 1024 + 123)
    with open(source, "wb") as file:
        file.write(data)
    config = TransferConfig(multipart_threshold=1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(source, bucket, "big/six.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/six.bin")
    target = os.path.join(folder, "back.bin")
    s3.download_file(bucket, "big/six.bin", target, Config=config)
    with open(target, "rb") as file:
        same = file.read() == data
    seen["multipart"] = [head["ETag"].endswith('-2"'), head["ContentLength"], same]
    # A managed copy of a large object copies it in parts (UploadPartCopy), with ranges.
    s3.copy({"Bucket": bucket, "Key": "big/six.bin"}, bucket, "big/copied.bin", Config=config)
    copied = s3.get_object(Bucket=bucket, Key="big/copied.bin")
    seen["part_copy"] = [copied["ETag"].endswith('-2"'), copied["Body"].read() == data]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big/ranged")["UploadId"]
    seen["part_copy_range"] = error_of(
        lambda: s3.upload_part_copy(Bucket=bucket, Key="big/ranged", UploadId=upload, PartNumber=1,
                                    CopySource={"Bucket": bucket, "Key": "big/six.bin"},
                                    CopySourceRange="bytes=0-%d" % len(data)))
    seen["part_copy_missing"] = error_of(
        lambda: s3.upload_part_copy(Bucket=bucket, Key="big/ranged", UploadId=upload, PartNumber=1,
                                    CopySource={"Bucket": bucket, "Key": "big/absent"}))
    s3.abort_multipart_upload(Bucket=bucket, Key="big/ranged", UploadId=upload)

# Completing with a part that was never uploaded, or out of order, or too small.
upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
part1 = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
part2 = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=2, Body=b"tail")
seen["missing_part"] = error_of(
    lambda: s3.complete_multipart_upload(
        Bucket=bucket,
        Key="parts",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part1["ETag"]}, {"PartNumber": 3, "ETag": part2["ETag"]}]},
    )
)
seen["misordered"] = error_of(
    lambda: s3.complete_multipart_upload(
        Bucket=bucket,
        Key="parts",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": part2["ETag"]}, {"PartNumber": 1, "ETag": part1["ETag"]}]},
    )
)
seen["not_completed"] = error_of(lambda: s3.head_object(Bucket=bucket, Key="parts"))
seen["list_parts"] = [part["PartNumber"] for part in s3.list_parts(Bucket=bucket, Key="parts", UploadId=upload)["Parts"]]
seen["uploads"] = [u["UploadId"] == upload for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
done = s3.complete_multipart_upload(
    Bucket=bucket,
    Key="parts",
    UploadId=upload,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part1["ETag"]}, {"PartNumber": 2, "ETag": part2["ETag"]}]},
)
seen["completed"] = [done["ETag"].endswith('-2"'), s3.head_object(Bucket=bucket, Key="parts")["ContentLength"]]
aborted = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=aborted)
seen["aborted"] = error_of(lambda: s3.list_parts(Bucket=bucket, Key="gone", UploadId=aborted))

# Listing, paginated, with a delimiter.
for key in ["list/a/1", "list/a/2", "list/b/1", "list/c", "list/d", "list/e"]:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
pages = []
for page in s3.get_paginator("list_objects_v2").paginate(
    Bucket=bucket, Prefix="list/", Delimiter="/", PaginationConfig={"PageSize": 2}
):
    pages.append(
        [[item["Key"] for item in page.get("Contents", [])], [item["Prefix"] for item in page.get("CommonPrefixes", [])]]
    )
seen["pages"] = pages
after = s3.list_objects_v2(Bucket=bucket, Prefix="list/", StartAfter="list/c")
seen["start_after"] = [item["Key"] for item in after["Contents"]]
v1 = s3.list_objects(Bucket=bucket, Prefix="list/", Marker="list/b/1", MaxKeys=2)
seen["v1"] = [[item["Key"] for item in v1["Contents"]], v1["IsTruncated"]]

# Copy, keeping or replacing the metadata.
copied = s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "hello.txt"})
kept = s3.head_object(Bucket=bucket, Key="copy.txt")
replaced = s3.copy_object(
    Bucket=bucket,
    Key="copy2.txt",
    CopySource=f"{bucket}/hello.txt",
    MetadataDirective="REPLACE",
    ContentType="text/markdown",
    Metadata={"fresh": "yes"},
)
fresh = s3.head_object(Bucket=bucket, Key="copy2.txt")
seen["copy"] = [
    copied["CopyObjectResult"]["ETag"] == etag,
    kept["ContentType"],
    kept["Metadata"],
    fresh["ContentType"],
    fresh["Metadata"],
    s3.get_object(Bucket=bucket, Key="copy2.txt")["Body"].read().decode(),
]
seen["copy_onto_itself"] = error_of(
    lambda: s3.copy_object(Bucket=bucket, Key="hello.txt", CopySource={"Bucket": bucket, "Key": "hello.txt"})
)

# Tagging.
seen["tags"] = sorted((t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key="hello.txt")["TagSet"])
s3.put_object_tagging(Bucket=bucket, Key="hello.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
seen["tags_put"] = s3.get_object_tagging(Bucket=bucket, Key="hello.txt")["TagSet"]
s3.delete_object_tagging(Bucket=bucket, Key="hello.txt")
seen["tags_deleted"] = s3.get_object_tagging(Bucket=bucket, Key="hello.txt")["TagSet"]

# Presigned URLs: good (SigV2, botocore's default for S3, and SigV4), tampered, expired.
seen["presigned_v2"] = None
v4 = boto3.client("s3", config=botocore.config.Config(signature_version="s3v4"))
url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=60)


def fetch(target):
    try:
        with urllib.request.urlopen(target) as response:
            return [response.status, response.read().decode()]
    except urllib.error.HTTPError as error:
        body = error.read().decode()
        code = body.split("<Code>")[1].split("</Code>")[0] if "<Code>" in body else body
        return [error.code, code]


seen["presigned"] = fetch(url)
seen["presigned_v2"] = fetch(
    s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=60)
)
signature_at = url.index("Signature=") + len("Signature=")
flipped = "0" if url[signature_at] != "0" else "1"
seen["tampered"] = fetch(url[:signature_at] + flipped + url[signature_at + 1 :])
short = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=1)
time.sleep(2)
seen["expired"] = fetch(short)
put_url = v4.generate_presigned_url(
    "put_object", Params={"Bucket": bucket, "Key": "via-url", "ContentType": "text/plain"}, ExpiresIn=60
)
request = urllib.request.Request(put_url, data=b"from a url", method="PUT", headers={"Content-Type": "text/plain"})
with urllib.request.urlopen(request) as response:
    seen["presigned_put"] = response.status
seen["presigned_put_back"] = s3.get_object(Bucket=bucket, Key="via-url")["Body"].read().decode()

# Deleting.
deleted = s3.delete_objects(
    Bucket=bucket, Delete={"Objects": [{"Key": "list/d"}, {"Key": "list/e"}, {"Key": "never-there"}]}
)
seen["delete_objects"] = sorted(item["Key"] for item in deleted["Deleted"])
seen["deleted_gone"] = error_of(lambda: s3.head_object(Bucket=bucket, Key="list/d"))
seen["not_empty"] = error_of(lambda: s3.delete_bucket(Bucket=bucket))
seen["buckets"] = bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

print(json.dumps(seen))
