// The AWS SDK for JavaScript v3's S3 client (path style, as `forcePathStyle: true` asks)
// and lib-storage's multipart `Upload`: it sends bodies aws-chunked with a CRC32 trailer,
// which the server checks. Prints what it saw as JSON for tests/it/s3.rs. The endpoint,
// keys and region come from the environment.
import { createRequire } from "node:module";
import { Readable } from "node:stream";

// ES modules ignore NODE_PATH: resolve the SDK through require, which honours it.
const require = createRequire(import.meta.url);
const s3 = require("@aws-sdk/client-s3");
const { Upload } = require("@aws-sdk/lib-storage");

const client = new s3.S3Client({ forcePathStyle: true, maxAttempts: 1 });
const Bucket = "js-bucket";
const seen = {};

const errorName = async (command) => {
  try {
    await client.send(command);
    return null;
  } catch (error) {
    return [error.name, error.$metadata?.httpStatusCode];
  }
};

await client.send(new s3.CreateBucketCommand({ Bucket }));
const put = await client.send(
  new s3.PutObjectCommand({ Bucket, Key: "hello.txt", Body: "hello from js", ContentType: "text/plain" }),
);
seen.putChecksum = put.ChecksumCRC32 ?? null;
const got = await client.send(new s3.GetObjectCommand({ Bucket, Key: "hello.txt", ChecksumMode: "ENABLED" }));
seen.body = await got.Body.transformToString();
seen.getChecksum = got.ChecksumCRC32 ?? null;

// A stream of unknown length through lib-storage: 11 MiB in 5 MiB parts.
const chunk = Buffer.alloc(1024 * 1024, 7);
const stream = Readable.from((function* () {
  for (let index = 0; index < 11; index += 1) yield chunk;
})());
const upload = new Upload({ client, params: { Bucket, Key: "streamed.bin", Body: stream }, partSize: 5 * 1024 * 1024 });
const done = await upload.done();
seen.uploadETag = /-3"$/.test(done.ETag);
const head = await client.send(new s3.HeadObjectCommand({ Bucket, Key: "streamed.bin" }));
seen.uploadSize = head.ContentLength;
seen.missing = await errorName(new s3.GetObjectCommand({ Bucket, Key: "absent" }));
seen.badRange = await errorName(new s3.GetObjectCommand({ Bucket, Key: "hello.txt", Range: "bytes=500-600" }));
const listed = await client.send(new s3.ListObjectsV2Command({ Bucket }));
seen.keys = listed.Contents.map((item) => item.Key);
console.log(JSON.stringify(seen));
