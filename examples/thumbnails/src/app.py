"""Makes a thumbnail of each image an S3 notification announces.

For every record of the event: read the uploaded image, shrink it to fit a square of
THUMBNAIL_SIZE pixels (keeping its proportions and its format), and write it under the
same key to THUMBNAILS_BUCKET, with the original's size in the object's metadata.
"""

import io
import os
import urllib.parse

import boto3
from PIL import Image, ImageOps

s3 = boto3.client("s3")
THUMBNAILS_BUCKET = os.environ["THUMBNAILS_BUCKET"]
THUMBNAIL_SIZE = int(os.environ.get("THUMBNAIL_SIZE", "128"))


def thumbnail(original: bytes) -> tuple[bytes, str, tuple[int, int], tuple[int, int]]:
    """The thumbnail's bytes, its format, and the original's and the thumbnail's sizes."""
    with Image.open(io.BytesIO(original)) as image:
        image_format = image.format
        original_size = image.size
        # Cameras store portrait photos sideways with an orientation tag: turn them first.
        small = ImageOps.exif_transpose(image)
        small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        if image_format == "JPEG" and small.mode not in ("RGB", "L"):
            small = small.convert("RGB")
        out = io.BytesIO()
        small.save(out, format=image_format)
        return out.getvalue(), image_format, original_size, small.size


def handler(event, context):
    made = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        # S3 sends the key form-encoded: spaces as `+`, other characters as `%XX`.
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        source = s3.get_object(Bucket=bucket, Key=key)
        data, image_format, (width, height), (thumb_width, thumb_height) = thumbnail(
            source["Body"].read()
        )
        s3.put_object(
            Bucket=THUMBNAILS_BUCKET,
            Key=key,
            Body=data,
            ContentType=Image.MIME.get(image_format, "application/octet-stream"),
            Metadata={"original-size": f"{width}x{height}", "source": f"{bucket}/{key}"},
        )
        print(f"{bucket}/{key} {width}x{height} -> {THUMBNAILS_BUCKET}/{key} {thumb_width}x{thumb_height}")
        made.append({"key": key, "width": thumb_width, "height": thumb_height})
    return {"thumbnails": made}
