//! `GET /metrics`: the server's Prometheus metrics in the text format, on the admin API's
//! listener, behind the admin token unless the server makes them public.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serverful_metrics::Metrics;

/// The path Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";

/// What `/metrics` serves and who may read it.
#[derive(Clone, Debug, Default)]
pub struct MetricsAccess {
    /// The server's metrics; disabled ones make `/metrics` a 404 that says so.
    pub metrics: Metrics,
    /// Served without the admin token (`--metrics-public`).
    pub public: bool,
}

#[derive(Clone)]
struct Scrape {
    access: MetricsAccess,
    token: Arc<str>,
}

/// The `/metrics` route, outside the token check of the other admin paths: it checks the
/// token itself unless `access` is public, and answers in plain text, as Prometheus shows
/// a failed scrape's body.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    access: MetricsAccess,
    token: Arc<str>,
) -> Router<S> {
    Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(Scrape { access, token })
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"serverful\""),
        );
    }
    response
}

async fn scrape(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if !scrape.access.metrics.is_enabled() {
        return text(
            StatusCode::NOT_FOUND,
            "metrics are off: this server runs with --no-metrics (or SERVERFUL_NO_METRICS); start it without to serve /metrics\n".to_owned(),
        );
    }
    if !scrape.access.public {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let problem = match presented {
            Some(presented)
                if crate::server::constant_time_equal(
                    presented.as_bytes(),
                    scrape.token.as_bytes(),
                ) =>
            {
                None
            }
            Some(_) => Some("the admin token is wrong"),
            None => Some("no admin token: send Authorization: Bearer TOKEN"),
        };
        if let Some(problem) = problem {
            return text(
                StatusCode::UNAUTHORIZED,
                format!("{problem}; in Prometheus, give the scrape job `authorization: {{credentials_file: /path/to/admin-token}}` (the server's DATA/admin-token or SERVERFUL_ADMIN_TOKEN), or start the server with --metrics-public\n"),
            );
        }
    }
    let metrics = scrape.access.metrics.clone();
    // Reading /proc and formatting every series is blocking work, kept off the async
    // threads that serve requests.
    match tokio::task::spawn_blocking(move || metrics.encode()).await {
        Ok(Some(body)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, serverful_metrics::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Ok(None) | Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to encode the metrics\n".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    /// `GET /metrics` with `token` against `access`: (status, content type, body).
    async fn scrape(access: MetricsAccess, token: Option<&str>) -> (u16, String, String) {
        let router: Router = routes(access, Arc::from("sft_right"));
        let mut request = Request::get(METRICS_PATH);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = router
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    /// Metrics on, with one function's series (a family without series is not written).
    fn on(public: bool) -> MetricsAccess {
        let metrics = Metrics::new();
        let _function = metrics.function("app", "Hello");
        MetricsAccess { metrics, public }
    }

    #[tokio::test]
    async fn the_token_is_needed_unless_public() {
        let (status, content_type, body) = scrape(on(false), Some("sft_right")).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, serverful_metrics::CONTENT_TYPE);
        assert!(body.contains("# TYPE serverful_lambda_invocations_total counter"));

        let (status, _, body) = scrape(on(false), Some("sft_wrong")).await;
        assert_eq!(status, 401);
        assert!(body.starts_with("the admin token is wrong; "), "{body}");
        assert!(body.contains("credentials_file"), "{body}");
        assert_eq!(body.lines().count(), 1, "{body}");

        let (status, _, body) = scrape(on(false), None).await;
        assert_eq!(status, 401);
        assert!(body.starts_with("no admin token"), "{body}");

        let (status, _, _) = scrape(on(true), None).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn metrics_turned_off_answer_404_saying_so() {
        let off = MetricsAccess {
            metrics: Metrics::disabled(),
            public: false,
        };
        let (status, _, body) = scrape(off, Some("sft_right")).await;
        assert_eq!(status, 404);
        assert!(body.contains("--no-metrics"), "{body}");
    }
}
