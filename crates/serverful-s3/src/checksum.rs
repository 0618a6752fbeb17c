//! The digests S3 computes over a body: the MD5 of its ETag and the checksum an SDK
//! asked for (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`), printed in base64 of
//! their big-endian bytes as S3 prints them.

use base64::Engine as _;
use md5::Digest as _;

/// A checksum algorithm S3 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    /// From S3's name (`CRC32`, `crc32c`, ...), any case.
    pub fn parse(name: &str) -> Option<Algorithm> {
        match name.to_ascii_uppercase().as_str() {
            "CRC32" => Some(Algorithm::Crc32),
            "CRC32C" => Some(Algorithm::Crc32c),
            "CRC64NVME" => Some(Algorithm::Crc64Nvme),
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    /// S3's name of it.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The header that carries it: `x-amz-checksum-crc32`.
    pub fn header(self) -> String {
        format!("x-amz-checksum-{}", self.name().to_ascii_lowercase())
    }

    /// The checksum of `bytes`, in base64.
    pub fn of(self, bytes: &[u8]) -> String {
        let mut hasher = Hasher::new(self);
        hasher.update(bytes);
        hasher.finish()
    }
}

/// A running checksum.
#[derive(Clone)]
pub enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Hasher::Crc32c(0),
            Algorithm::Crc64Nvme => Hasher::Crc64Nvme(crc64fast_nvme::Digest::new()),
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Crc32(hasher) => hasher.update(bytes),
            Hasher::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, bytes),
            Hasher::Crc64Nvme(digest) => digest.write(bytes),
            Hasher::Sha1(hasher) => hasher.update(bytes),
            Hasher::Sha256(hasher) => hasher.update(bytes),
        }
    }

    /// The checksum in base64.
    pub fn finish(self) -> String {
        let bytes = match self {
            Hasher::Crc32(hasher) => hasher.finalize().to_be_bytes().to_vec(),
            Hasher::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            Hasher::Crc64Nvme(digest) => digest.sum64().to_be_bytes().to_vec(),
            Hasher::Sha1(hasher) => hasher.finalize().to_vec(),
            Hasher::Sha256(hasher) => hasher.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// The ETag of a multipart upload: the MD5 of its parts' binary MD5s, then `-N`.
pub fn multipart_etag(part_etags: &[&str]) -> String {
    let mut hasher = md5::Md5::new();
    for etag in part_etags {
        if let Ok(bytes) = hex::decode(etag) {
            hasher.update(bytes);
        }
    }
    format!("{}-{}", hex::encode(hasher.finalize()), part_etags.len())
}

/// A multipart upload's composite checksum: the checksum of its parts' decoded
/// checksums, then `-N`.
pub fn composite_checksum(algorithm: Algorithm, part_checksums: &[&str]) -> Option<String> {
    let mut hasher = Hasher::new(algorithm);
    for checksum in part_checksums {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(checksum)
            .ok()?;
        hasher.update(&bytes);
    }
    Some(format!("{}-{}", hasher.finish(), part_checksums.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_print_as_s3_prints_them() {
        // S3's documented example values for the body "Hello World" are not given, so
        // these are the algorithms' standard check values of "123456789".
        let check = |algorithm: Algorithm| {
            let encoded = algorithm.of(b"123456789");
            hex::encode(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .expect("base64"),
            )
        };
        assert_eq!(check(Algorithm::Crc32), "cbf43926");
        assert_eq!(check(Algorithm::Crc32c), "e3069283");
        assert_eq!(check(Algorithm::Crc64Nvme), "ae8b14860a799888");
        assert_eq!(
            check(Algorithm::Sha1),
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
        );
    }

    #[test]
    fn a_multipart_etag_hashes_the_parts_md5s() {
        let part = hex::encode(md5::Md5::digest(b"a"));
        let expected = hex::encode(md5::Md5::digest(
            [
                md5::Md5::digest(b"a").to_vec(),
                md5::Md5::digest(b"a").to_vec(),
            ]
            .concat(),
        ));
        assert_eq!(multipart_etag(&[&part, &part]), format!("{expected}-2"));
    }
}
