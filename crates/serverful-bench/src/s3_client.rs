//! The S3 benchmark's client: path-style REST calls signed with SigV4 as the SDKs sign
//! them (`x-amz-content-sha256: UNSIGNED-PAYLOAD` by default, or the body's SHA-256),
//! over one keep-alive connection that is dialled again after a transport error or an
//! answer that closes it. Every answer is checked: an object's ETag must be the MD5 of
//! the bytes sent, a read must give back exactly the bytes written.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::queue_client::{open_sender, Failure, Keys};
use crate::sigv4::Signer;

/// How request bodies are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// `UNSIGNED-PAYLOAD`, as the SDKs send over TLS and presigned PUTs do.
    Unsigned,
    /// The body's SHA-256 in the signature, as the SDKs send over plain HTTP.
    Signed,
}

/// An answer: status, headers, whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

/// One connection to an S3 endpoint.
pub struct S3Client {
    address: SocketAddr,
    host: String,
    signer: Signer,
    payload: Payload,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("address", &self.address)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

/// The MD5 of `bytes` in lower-case hex: S3's ETag of a single-part object.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, `-N`.
pub fn multipart_etag(part_md5s: &[String]) -> String {
    let mut digest = Md5::new();
    for part in part_md5s {
        let mut binary = [0u8; 16];
        for (index, byte) in binary.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&part[index * 2..index * 2 + 2], 16).unwrap_or(0);
        }
        digest.update(binary);
    }
    format!("{}-{}", hex(&digest.finalize()), part_md5s.len())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl S3Client {
    pub fn new(address: SocketAddr, host: &str, keys: &Keys, payload: Payload) -> S3Client {
        S3Client {
            address,
            host: host.to_owned(),
            signer: Signer::new(
                &keys.access_key_id,
                &keys.secret_access_key,
                "us-east-1",
                "s3",
            ),
            payload,
            sender: None,
        }
    }

    /// Sends one signed request and returns the response with its body unread.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Bytes,
    ) -> Result<hyper::Response<hyper::body::Incoming>, Failure> {
        let sender = open_sender(&mut self.sender, self.address).await?;
        let payload_hash = match self.payload {
            Payload::Unsigned => "UNSIGNED-PAYLOAD".to_owned(),
            Payload::Signed => hex(&Sha256::digest(&body)),
        };
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .map(|(name, value)| (uri_encode(name), uri_encode(value)))
            .collect();
        pairs.sort();
        let canonical_query = pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&");
        let signature = self.signer.sign_request(
            method.as_str(),
            &self.host,
            path,
            &canonical_query,
            &[("x-amz-content-sha256", &payload_hash)],
            &payload_hash,
            time::OffsetDateTime::now_utc(),
        );
        let uri = if canonical_query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{canonical_query}")
        };
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, self.host.as_str())
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .header("x-amz-date", signature.amz_date)
            .header("x-amz-content-sha256", payload_hash)
            .header(hyper::header::AUTHORIZATION, signature.authorization)
            .body(Full::new(body))
            .map_err(|error| Failure::wrong(format!("build the request: {error}")))?;
        let sent = async {
            sender.ready().await?;
            sender.send_request(request).await
        }
        .await;
        match sent {
            Ok(response) => {
                // A server that closes its connections is dialled again for the next
                // request: its cost, not an error.
                let closes = response.version() < hyper::Version::HTTP_11
                    || response
                        .headers()
                        .get(hyper::header::CONNECTION)
                        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
                if closes {
                    self.sender = None;
                }
                Ok(response)
            }
            Err(error) => {
                self.sender = None;
                Err(Failure::transport(error))
            }
        }
    }

    /// Sends one request and reads the whole answer; anything but `expected` is a
    /// failure.
    async fn call(
        &mut self,
        operation: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Bytes,
        expected: u16,
    ) -> Result<Answer, Failure> {
        let response = self.send(method, path, query, body).await?;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) => {
                self.sender = None;
                return Err(Failure::transport(error));
            }
        };
        if status != expected {
            return Err(Failure::status(operation, status, &body));
        }
        Ok(Answer {
            status,
            headers: parts.headers,
            body,
        })
    }

    /// `CreateBucket`; a bucket this client already owns is fine.
    pub async fn create_bucket(&mut self, bucket: &str) -> Result<(), Failure> {
        let path = format!("/{bucket}");
        match self
            .call("CreateBucket", Method::PUT, &path, &[], Bytes::new(), 200)
            .await
        {
            Ok(_) => Ok(()),
            Err(failure) if failure.message.contains("BucketAlreadyOwnedByYou") => Ok(()),
            Err(failure) => Err(failure),
        }
    }

    /// `PutObject`; its ETag must be `md5`.
    pub async fn put_object(
        &mut self,
        bucket: &str,
        key: &str,
        body: Bytes,
        md5: &str,
    ) -> Result<(), Failure> {
        let path = format!("/{bucket}/{key}");
        let answer = self
            .call("PutObject", Method::PUT, &path, &[], body, 200)
            .await?;
        check_etag("PutObject", &answer.headers, md5)
    }

    /// `GetObject`; the body must be `expected`.
    pub async fn get_object(
        &mut self,
        bucket: &str,
        key: &str,
        expected: &Bytes,
    ) -> Result<(), Failure> {
        let path = format!("/{bucket}/{key}");
        let answer = self
            .call("GetObject", Method::GET, &path, &[], Bytes::new(), 200)
            .await?;
        if answer.body != *expected {
            return Err(Failure::wrong(format!(
                "GetObject {key}: {} bytes that are not the {} written",
                answer.body.len(),
                expected.len()
            )));
        }
        Ok(())
    }

    /// `GetObject` read as it arrives, never held whole: the size and the answer's ETag.
    pub async fn get_object_counted(
        &mut self,
        bucket: &str,
        key: &str,
    ) -> Result<(u64, String), Failure> {
        let path = format!("/{bucket}/{key}");
        let response = self.send(Method::GET, &path, &[], Bytes::new()).await?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get(hyper::header::ETAG)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned();
        let mut body = response.into_body();
        let mut size = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        size += data.len() as u64;
                    }
                }
                Err(error) => {
                    self.sender = None;
                    return Err(Failure::transport(error));
                }
            }
        }
        if status != 200 {
            return Err(Failure::status("GetObject", status, b""));
        }
        Ok((size, etag))
    }

    /// `CreateMultipartUpload`: the upload id.
    pub async fn create_multipart_upload(
        &mut self,
        bucket: &str,
        key: &str,
    ) -> Result<String, Failure> {
        let path = format!("/{bucket}/{key}");
        let answer = self
            .call(
                "CreateMultipartUpload",
                Method::POST,
                &path,
                &[("uploads", "")],
                Bytes::new(),
                200,
            )
            .await?;
        xml_text(&answer.body, "UploadId").ok_or_else(|| {
            Failure::wrong(format!(
                "CreateMultipartUpload: no UploadId in {}",
                String::from_utf8_lossy(&answer.body)
            ))
        })
    }

    /// `UploadPart`; its ETag must be `md5`.
    pub async fn upload_part(
        &mut self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Bytes,
        md5: &str,
    ) -> Result<(), Failure> {
        let path = format!("/{bucket}/{key}");
        let number = number.to_string();
        let answer = self
            .call(
                "UploadPart",
                Method::PUT,
                &path,
                &[("partNumber", &number), ("uploadId", upload_id)],
                body,
                200,
            )
            .await?;
        check_etag("UploadPart", &answer.headers, md5)
    }

    /// `CompleteMultipartUpload` of parts `1..=md5s.len()`; the object's ETag must be
    /// S3's multipart ETag of them.
    pub async fn complete_multipart_upload(
        &mut self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        md5s: &[String],
    ) -> Result<(), Failure> {
        let path = format!("/{bucket}/{key}");
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (index, md5) in md5s.iter().enumerate() {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>\"{md5}\"</ETag></Part>",
                index + 1
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let answer = self
            .call(
                "CompleteMultipartUpload",
                Method::POST,
                &path,
                &[("uploadId", upload_id)],
                Bytes::from(xml),
                200,
            )
            .await?;
        // S3 may answer 200 with an error in the body.
        if let Some(code) = xml_text(&answer.body, "Code") {
            return Err(Failure::wrong(format!("CompleteMultipartUpload: {code}")));
        }
        let expected = multipart_etag(md5s);
        match xml_text(&answer.body, "ETag") {
            Some(etag) if etag.replace("&quot;", "").trim_matches('"') == expected => Ok(()),
            other => Err(Failure::wrong(format!(
                "CompleteMultipartUpload: ETag {other:?}, not {expected}"
            ))),
        }
    }
}

fn check_etag(operation: &str, headers: &hyper::HeaderMap, md5: &str) -> Result<(), Failure> {
    let etag = headers
        .get(hyper::header::ETAG)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if etag.trim_matches('"') != md5 {
        return Err(Failure::wrong(format!(
            "{operation}: ETag {etag:?}, not the MD5 {md5}"
        )));
    }
    Ok(())
}

/// SigV4's URI encoding of a query name or value: everything but `A-Za-z0-9-_.~`.
fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The text of the first `<name>…</name>` element.
fn xml_text(xml: &[u8], name: &str) -> Option<String> {
    let xml = String::from_utf8_lossy(xml);
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_s3s_etags() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        // Two parts whose MD5s are those of "a" and "b".
        let parts = [md5_hex(b"a"), md5_hex(b"b")];
        let mut digest = Md5::new();
        digest.update(Md5::digest(b"a"));
        digest.update(Md5::digest(b"b"));
        assert_eq!(
            multipart_etag(&parts),
            format!("{}-2", hex(&digest.finalize()))
        );
    }

    #[test]
    fn encodes_query_parts_as_sigv4_does() {
        assert_eq!(uri_encode("a b/c~d"), "a%20b%2Fc~d");
        assert_eq!(uri_encode(""), "");
        assert_eq!(
            xml_text(b"<R><UploadId>x-1</UploadId></R>", "UploadId").as_deref(),
            Some("x-1")
        );
    }
}
