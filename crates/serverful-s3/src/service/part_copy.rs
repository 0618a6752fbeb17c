//! `UploadPartCopy`: a part of a multipart upload copied from (a byte range of) an
//! existing object, as the SDKs' managed copies and `aws s3 cp` between buckets do for
//! large objects. The bytes are read through the body store and written as a new part
//! body, so the part owns its bytes like any uploaded part.

use std::sync::Arc;

use s3s::dto;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use serverful_aws::{Action, Principal, Resource};
use time::OffsetDateTime;

use super::{check_conditions, etag, internal, put_checksums, timestamp, write_error, S3Store};
use crate::backend::{ObjectRecord, Part};
use crate::checksum::Algorithm;

impl S3Store {
    /// The object a copy reads (`x-amz-copy-source`, with its `versionId` if it names
    /// one), once the signer may read it: reading the source is an action of its own on
    /// its bucket. Also the version asked for.
    pub(super) fn copy_source(
        &self,
        principal: Option<Arc<Principal>>,
        source: &dto::CopySource,
    ) -> S3Result<(ObjectRecord, Option<String>)> {
        let (bucket, key, version) = match source {
            dto::CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => (
                bucket.to_string(),
                key.to_string(),
                version_id.as_deref().map(str::to_owned),
            ),
            _ => {
                return Err(s3_error!(
                    NotImplemented,
                    "Copying from an access point is not implemented"
                ))
            }
        };
        let principal = principal.ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))?;
        principal
            .authorize(
                Action::s3("GetObject"),
                Resource::Bucket { name: &bucket },
                &self.region,
            )
            .map_err(|denied| S3Error::with_message(S3ErrorCode::AccessDenied, denied.message))?;
        let record = self.readable_version(&bucket, &key, version.as_deref())?;
        Ok((record, version))
    }

    pub(super) async fn upload_part_copy_of(
        &self,
        request: S3Request<dto::UploadPartCopyInput>,
    ) -> S3Result<S3Response<dto::UploadPartCopyOutput>> {
        let principal = self.principal(&request);
        let input = request.input;
        let upload = self.require_upload(&input.bucket, &input.key, &input.upload_id)?;
        let number = super::part_number(input.part_number)?;
        let (source, source_version) = self.copy_source(principal, &input.copy_source)?;
        check_conditions(
            &source,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
            S3ErrorCode::PreconditionFailed,
            S3ErrorCode::PreconditionFailed,
        )?;
        let (start, length) = copy_range(input.copy_source_range.as_deref(), source.size)?;
        let bytes = self
            .bodies
            .read(&source.body, start, length)
            .await
            .map_err(internal)?;
        let algorithm = upload
            .checksum_algorithm
            .as_deref()
            .and_then(Algorithm::parse);
        let staged = self
            .bodies
            .write(bytes, algorithm)
            .await
            .map_err(write_error)?;
        if staged.size != length {
            return Err(internal(std::io::Error::other(
                "the copy source's body is shorter than its record",
            )));
        }
        let mut checksums = std::collections::BTreeMap::new();
        if let Some((algorithm, value)) = &staged.checksum {
            checksums.insert(algorithm.name().to_owned(), value.clone());
        }
        let part_etag = staged.md5.clone();
        let size = staged.size;
        let last_modified = OffsetDateTime::now_utc();
        let body = staged.keep().await.map_err(internal)?;
        self.keep_part(
            &upload.id,
            Part {
                number,
                size,
                etag: part_etag.clone(),
                last_modified,
                checksums: checksums.clone(),
                body,
            },
        )
        .await?;
        let (checksum_crc32, checksum_crc32c, checksum_crc64nvme, checksum_sha1, checksum_sha256) =
            put_checksums(&checksums);
        Ok(S3Response::new(dto::UploadPartCopyOutput {
            copy_part_result: Some(dto::CopyPartResult {
                e_tag: Some(etag(&part_etag)),
                last_modified: Some(timestamp(last_modified)),
                checksum_crc32,
                checksum_crc32c,
                checksum_crc64nvme,
                checksum_sha1,
                checksum_sha256,
            }),
            copy_source_version_id: source_version,
            ..Default::default()
        }))
    }
}

/// `x-amz-copy-source-range: bytes=first-last` (both inclusive, both required) within
/// an object of `size` bytes: the start and the length. Without one, the whole object.
fn copy_range(range: Option<&str>, size: u64) -> S3Result<(u64, u64)> {
    let Some(range) = range else {
        return Ok((0, size));
    };
    let malformed = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = range
        .trim()
        .strip_prefix("bytes=")
        .and_then(|bounds| bounds.split_once('-'))
        .ok_or_else(malformed)?;
    let first: u64 = first.parse().map_err(|_| malformed())?;
    let last: u64 = last.parse().map_err(|_| malformed())?;
    if first > last || last >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Range specified is not valid for source object of size: {size}"),
        ));
    }
    Ok((first, last - first + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_copy_source_ranges() {
        assert_eq!(copy_range(None, 10).expect("whole"), (0, 10));
        assert_eq!(copy_range(Some("bytes=0-4"), 10).expect("range"), (0, 5));
        assert_eq!(copy_range(Some("bytes=9-9"), 10).expect("range"), (9, 1));
        for malformed in ["bytes=-4", "bytes=3-", "0-4", "bytes=a-b", "bytes=1-2,4-5"] {
            let error = copy_range(Some(malformed), 10).expect_err(malformed);
            assert_eq!(*error.code(), S3ErrorCode::InvalidArgument, "{malformed}");
        }
        for outside in ["bytes=0-10", "bytes=5-4"] {
            let error = copy_range(Some(outside), 10).expect_err(outside);
            assert_eq!(
                error.message(),
                Some("Range specified is not valid for source object of size: 10")
            );
        }
    }
}
