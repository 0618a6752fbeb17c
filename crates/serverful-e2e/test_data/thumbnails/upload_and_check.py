# Drives examples/thumbnails as a user would: makes a JPEG photo and a PNG with
# transparency with Pillow, uploads them (and a text file the notifications' suffix filters
# leave alone) to the uploads bucket with boto3, waits for the thumbnails to appear in the
# thumbnails bucket, downloads them and reads them back with Pillow. Prints what it found
# as JSON.
#
# argv: the uploads bucket, the thumbnails bucket.
import io, json, sys, time

import boto3
from PIL import Image

uploads, thumbnails = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3")


def image_bytes(size, mode, color, image_format):
    image = Image.new(mode, size, color)
    # Something besides one flat color, so the encoder has work to do.
    for x in range(0, size[0], 7):
        for y in range(0, size[1], 5):
            image.putpixel((x, y), (x % 256, y % 256, 0) + (() if mode == "RGB" else (255,)))
    out = io.BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


uploaded = {
    "notes.txt": (b"not an image", "text/plain"),
    "photos/beach day.jpg": (image_bytes((640, 480), "RGB", (20, 120, 200), "JPEG"), "image/jpeg"),
    "logo.png": (image_bytes((300, 600), "RGBA", (0, 0, 0, 0), "PNG"), "image/png"),
}
for key, (body, content_type) in uploaded.items():
    s3.put_object(Bucket=uploads, Key=key, Body=body, ContentType=content_type)

found = {}
deadline = time.time() + 90
for key in ["photos/beach day.jpg", "logo.png"]:
    while True:
        try:
            got = s3.get_object(Bucket=thumbnails, Key=key)
            break
        except s3.exceptions.NoSuchKey:
            if time.time() > deadline:
                raise SystemExit(f"no thumbnail of {key} after 90 s")
            time.sleep(0.2)
    body = got["Body"].read()
    with Image.open(io.BytesIO(body)) as image:
        found[key] = {
            "format": image.format,
            "size": list(image.size),
            "mode": image.mode,
            "content_type": got["ContentType"],
            "metadata": got["Metadata"],
            "bytes": len(body),
            "original_bytes": len(uploaded[key][0]),
        }

listed = s3.list_objects_v2(Bucket=thumbnails)
found["listed"] = sorted(item["Key"] for item in listed.get("Contents", []))
print(json.dumps(found))
