//! The accept loop of one instance's Runtime API listener: each connection speaks either
//! the HTTP Runtime API (third-party runtime clients, and code that calls it itself) or
//! Serverful's frame channel ([`crate::frames`]), told apart by its first byte.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::api_server::{self, ApiState};
use crate::frames;

/// Serves `listener` until the task is aborted (the instance is dropped).
pub(crate) async fn serve(listener: TcpListener, state: Arc<ApiState>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(
                    function = state.function,
                    "Runtime API listener could not accept: {error}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small messages both ways, each awaited by the other side.
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move { serve_connection(stream, state).await });
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<ApiState>) {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if first[0] == frames::PREFACE[0] => frames::serve(stream, state).await,
        Ok(1) => {
            // One function for the four paths (`api_server::handle`), no router: each
            // request costs an `Arc` clone here.
            let service = hyper::service::service_fn(|request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(api_server::handle(&state, request).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(function = state.function, "Runtime API connection: {error}");
            }
        }
        // Closed before a byte was sent.
        _ => {}
    }
}
