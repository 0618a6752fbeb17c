//! The accept loop of one instance's Runtime API listener: each connection speaks either
//! the HTTP Runtime API (third-party runtime clients, and code that calls it itself) or
//! Serverful's frame channel ([`crate::frames`]), told apart by its first byte.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

use crate::api_server::{self, ApiState};
use crate::frames;

/// Serves `listener` until the task is aborted (the instance is dropped).
pub(crate) async fn serve(listener: TcpListener, state: Arc<ApiState>) {
    let router = api_server::router(state.clone());
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
        let router = router.clone();
        tokio::spawn(async move { serve_connection(stream, state, router).await });
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<ApiState>, router: axum::Router) {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if first[0] == frames::PREFACE[0] => frames::serve(stream, state).await,
        Ok(1) => {
            let service = TowerToHyperService::new(router);
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
