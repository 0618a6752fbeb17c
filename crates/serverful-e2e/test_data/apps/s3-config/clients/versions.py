# Object versions through boto3 (tests/it/s3_config.rs): versioned writes, reads and
# copies by version, delete markers, permanent deletes, ListObjectVersions pages and
# DeleteObjects with versions, and a suspended bucket writing the null version.
import json
import sys

import boto3
import botocore.exceptions

bucket = sys.argv[1]
s3 = boto3.client("s3")
seen = {}


def error(call, **kwargs):
    try:
        call(Bucket=bucket, **kwargs)
        return None
    except botocore.exceptions.ClientError as failure:
        response = failure.response
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        return [
            response["Error"]["Code"],
            response["ResponseMetadata"]["HTTPStatusCode"],
            headers.get("x-amz-delete-marker"),
        ]


def body(**kwargs):
    return s3.get_object(Bucket=bucket, **kwargs)["Body"].read().decode()


s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="k", Body=b"before")
seen["unversioned_put"] = s3.put_object(Bucket=bucket, Key="k", Body=b"zero").get("VersionId")
s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
seen["ids_differ"] = v1 != v2 and len(v1) == 32
seen["get"] = [body(Key="k"), s3.get_object(Bucket=bucket, Key="k")["VersionId"] == v2]
seen["get_v1"] = body(Key="k", VersionId=v1)
seen["get_null"] = body(Key="k", VersionId="null")
seen["head_v1"] = s3.head_object(Bucket=bucket, Key="k", VersionId=v1)["ContentLength"]
copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
seen["copy"] = [body(Key="copy"), copied["CopySourceVersionId"] == v1, len(copied["VersionId"])]

# Tags belong to one version.
s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})
seen["tags"] = [
    s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["TagSet"],
    s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"],
    s3.get_object_tagging(Bucket=bucket, Key="k")["VersionId"] == v2,
]

deleted = s3.delete_object(Bucket=bucket, Key="k")
marker = deleted["VersionId"]
seen["delete"] = [deleted["DeleteMarker"], marker not in (v1, v2)]
seen["get_deleted"] = error(s3.get_object, Key="k")
seen["get_marker"] = error(s3.get_object, Key="k", VersionId=marker)
seen["bad_version"] = error(s3.get_object, Key="k", VersionId="bogus")
seen["missing_version"] = error(s3.get_object, Key="k", VersionId="0" * 32)
listed = s3.list_object_versions(Bucket=bucket, Prefix="k")
seen["listed"] = {
    "versions": [[v["Key"], v["VersionId"] == v2, v["VersionId"] == v1, v["IsLatest"], v["Size"]] for v in listed["Versions"]],
    "markers": [[m["Key"], m["VersionId"] == marker, m["IsLatest"]] for m in listed["DeleteMarkers"]],
}
# Deleting the marker brings the key back; deleting a version removes it for good.
removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
seen["delete_marker_version"] = [removed.get("DeleteMarker"), removed["VersionId"] == marker]
seen["after_marker_deleted"] = body(Key="k")
s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
seen["after_version_deleted"] = body(Key="k")
seen["deleted_version"] = error(s3.get_object, Key="k", VersionId=v2)

# Pages of versions, by key and version markers.
for key, count in (("p/a", 3), ("p/b", 2), ("q", 1)):
    for n in range(count):
        s3.put_object(Bucket=bucket, Key=key, Body=f"{key}{n}".encode())
pages = []
kwargs = {"Prefix": "p/", "MaxKeys": 2}
while True:
    page = s3.list_object_versions(Bucket=bucket, **kwargs)
    pages.append([[v["Key"], v["IsLatest"]] for v in page.get("Versions", [])])
    if not page["IsTruncated"]:
        break
    kwargs["KeyMarker"] = page["NextKeyMarker"]
    kwargs["VersionIdMarker"] = page["NextVersionIdMarker"]
seen["pages"] = pages
rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
seen["delimited"] = [
    [p["Prefix"] for p in rolled.get("CommonPrefixes", [])],
    sorted({v["Key"] for v in rolled.get("Versions", [])}),
]

a_versions = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix="p/a")["Versions"]]
result = s3.delete_objects(
    Bucket=bucket,
    Delete={"Objects": [{"Key": "p/a", "VersionId": a_versions[-1]}, {"Key": "p/b"}, {"Key": "q", "VersionId": "bogus"}]},
)
seen["delete_objects"] = {
    "deleted": sorted(
        [d["Key"], d.get("VersionId") == a_versions[-1], d.get("DeleteMarker", False)] for d in result["Deleted"]
    ),
    "errors": [[e["Key"], e["Code"]] for e in result.get("Errors", [])],
}
seen["p_a_versions"] = len(s3.list_object_versions(Bucket=bucket, Prefix="p/a")["Versions"])

upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
part = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 10)
completed = s3.complete_multipart_upload(
    Bucket=bucket,
    Key="big",
    UploadId=upload["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
)
seen["multipart_version"] = len(completed["VersionId"])

s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
seen["suspended_put"] = s3.put_object(Bucket=bucket, Key="s", Body=b"x")["VersionId"]
s3.put_object(Bucket=bucket, Key="s", Body=b"y")
seen["suspended_versions"] = [
    [v["VersionId"], v["IsLatest"]] for v in s3.list_object_versions(Bucket=bucket, Prefix="s")["Versions"]
]
seen["suspended_body"] = body(Key="s")
suspended_delete = s3.delete_object(Bucket=bucket, Key="s")
seen["suspended_delete"] = [suspended_delete["DeleteMarker"], suspended_delete["VersionId"]]
seen["bucket_not_empty"] = error(lambda Bucket: s3.delete_bucket(Bucket=Bucket))

print(json.dumps(seen))
