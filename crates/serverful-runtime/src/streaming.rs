//! Streamed responses as callers receive them: the chunks a function writes through the
//! Runtime API's streaming response mode, in order, then how the invocation ended.
//!
//! The instance that runs the invocation stays busy until the stream ends; the function's
//! timeout covers the whole stream.

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};

use crate::InvokeError;

/// What a function answered: [`Runtime::invoke_streaming`](crate::Runtime::invoke_streaming).
#[derive(Debug)]
pub enum Response {
    /// The whole result, once the function returned.
    Buffered(Bytes),
    /// The result as the function writes it.
    Streamed(ResponseStream),
}

/// A response a function streams.
#[derive(Debug)]
pub struct ResponseStream {
    /// The `Content-Type` the function declared for its stream.
    pub content_type: Option<String>,
    chunks: mpsc::Receiver<Bytes>,
    end: Option<oneshot::Receiver<Result<(), InvokeError>>>,
}

impl ResponseStream {
    pub(crate) fn new(
        content_type: Option<String>,
        chunks: mpsc::Receiver<Bytes>,
        end: oneshot::Receiver<Result<(), InvokeError>>,
    ) -> ResponseStream {
        ResponseStream {
            content_type,
            chunks,
            end: Some(end),
        }
    }

    /// The next chunk; after the last one, the error that ended the stream if it failed
    /// (then `None`), or `None` at once if it ended well.
    pub async fn next(&mut self) -> Option<Result<Bytes, InvokeError>> {
        if let Some(chunk) = self.chunks.recv().await {
            return Some(Ok(chunk));
        }
        let end = self.end.take()?;
        match end.await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(Err(error)),
            // The invocation's task ends every stream it starts; it is gone only if it
            // panicked.
            Err(_) => Some(Err(InvokeError::FunctionError(crate::logs::error_json(
                "Runtime.Unknown",
                "The invocation failed inside Serverful",
            )))),
        }
    }

    /// Every chunk in one buffer, as Lambda answers a caller that does not stream: at most
    /// `limit` bytes, [`InvokeError::PayloadTooLarge`] past that.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, InvokeError> {
        let mut collected = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if collected.len() + chunk.len() > limit {
                return Err(InvokeError::PayloadTooLarge);
            }
            collected.extend_from_slice(&chunk);
        }
        Ok(collected.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_come_before_the_end() {
        let (chunk_sender, chunks) = mpsc::channel(4);
        let (end_sender, end) = oneshot::channel();
        let mut stream = ResponseStream::new(None, chunks, end);
        chunk_sender
            .send(Bytes::from_static(b"a"))
            .await
            .expect("open");
        chunk_sender
            .send(Bytes::from_static(b"b"))
            .await
            .expect("open");
        drop(chunk_sender);
        end_sender.send(Err(InvokeError::Timeout)).expect("open");
        assert_eq!(stream.next().await.expect("a").expect("ok"), "a");
        assert_eq!(stream.next().await.expect("b").expect("ok"), "b");
        assert!(matches!(
            stream.next().await,
            Some(Err(InvokeError::Timeout))
        ));
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn collecting_stops_at_the_limit() {
        let (chunk_sender, chunks) = mpsc::channel(4);
        let (end_sender, end) = oneshot::channel();
        chunk_sender
            .send(Bytes::from_static(b"abc"))
            .await
            .expect("open");
        drop(chunk_sender);
        end_sender.send(Ok(())).expect("open");
        let stream = ResponseStream::new(None, chunks, end);
        assert!(matches!(
            stream.collect(2).await,
            Err(InvokeError::PayloadTooLarge)
        ));
    }
}
