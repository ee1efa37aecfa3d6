//! The HTTP routes over one [`App`]: `/metrics`, `/healthz`, `/readyz`, `/api/v1/snapshot`
//! and `/api/v1/incidents`, with the bearer token checked in constant time when one is set.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatewatch_app::{App, AppError};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::condition::{NotReady, not_ready};
use crate::guard::{GuardedListener, Limits};

#[derive(Clone)]
struct Shared {
    app: App,
    token: Option<String>,
}

/// The routes over `app`; with `token`, every route but `/healthz` requires it.
pub fn router(app: App, token: Option<String>) -> Router {
    let shared = Shared { app, token };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/incidents", get(incidents))
        .route_layer(middleware::from_fn_with_state(shared.clone(), authorize))
        .route("/healthz", get(healthz))
        .with_state(shared)
}

/// Serves `router` on `listener` within the default [`Limits`] until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_within(listener, router, Limits::default(), shutdown).await
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes.
pub async fn serve_within(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(GuardedListener::new(listener, limits), router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn authorize(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let Some(token) = &shared.token else {
        return next.run(request).await;
    };
    if bearer_matches(request.headers(), token) {
        return next.run(request).await;
    }
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this endpoint needs the bearer token: Authorization: Bearer <token>",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"gatewatch\""),
    );
    response
}

/// Whether the request carries `Bearer <token>`, compared in constant time (only the
/// length of a wrong token can show through the timing).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
    let Some((scheme, given)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": code, "message": message })),
    )
        .into_response()
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "alive" }))
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let readings = shared.app.readings();
    let now = gatewatch_supervisor::state::now_ms();
    let text = crate::exposition::render(readings, crate::process::read(), now);
    (
        [(header::CONTENT_TYPE, crate::exposition::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

/// `/readyz`'s body.
#[derive(Debug, Serialize, Deserialize)]
pub struct Readiness {
    /// Every watched gateway is ready.
    pub ready: bool,
    /// How many gateways are watched.
    pub gateways: usize,
    /// The ones that are not, and why.
    pub not_ready: Vec<NotReadyBody>,
}

/// One gateway that is not ready, as `/readyz` says it.
#[derive(Debug, Serialize, Deserialize)]
pub struct NotReadyBody {
    /// The profile's id.
    pub gateway: String,
    /// The profile's name.
    pub name: String,
    /// Its condition (`down`, `zombie`, `overdue`, `degraded`, …).
    pub state: String,
    /// Why.
    pub reason: String,
}

impl From<NotReady> for NotReadyBody {
    fn from(n: NotReady) -> Self {
        Self {
            gateway: n.gateway,
            name: n.name,
            state: n.state.name().to_owned(),
            reason: n.reason,
        }
    }
}

async fn readyz(State(shared): State<Shared>) -> Response {
    let readings = shared.app.readings();
    let not_ready: Vec<NotReadyBody> = readings
        .iter()
        .filter_map(not_ready)
        .map(Into::into)
        .collect();
    let ready = not_ready.is_empty() && !readings.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(Readiness {
            ready,
            gateways: readings.len(),
            not_ready,
        }),
    )
        .into_response()
}

async fn snapshot(State(shared): State<Shared>) -> Response {
    axum::Json(shared.app.snapshot()).into_response()
}

#[derive(Debug, Deserialize)]
struct IncidentQuery {
    since: Option<String>,
    gateway: Option<String>,
}

/// `since`: epoch milliseconds, an RFC 3339 time, or a span back from now (`90m`, `24h`,
/// `7d`); 24 h when absent.
pub fn parse_since(since: Option<&str>, now_ms: u64) -> Result<u64, String> {
    let Some(text) = since.map(str::trim) else {
        return Ok(now_ms.saturating_sub(24 * 3600 * 1000));
    };
    // The database counts in i64 milliseconds: a later `since` is "from the far future".
    const LATEST: u64 = i64::MAX as u64;
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms.min(LATEST));
    }
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return u64::try_from(at.as_millisecond())
            .map_err(|_| format!("since: {text} is before 1970"));
    }
    humantime::parse_duration(text)
        .map(|span: Duration| now_ms.saturating_sub(span.as_millis() as u64))
        .map_err(|_| {
            format!(
                "since: `{text}` is neither epoch milliseconds, an RFC 3339 time (2026-11-29T18:00:00Z) nor a span back from now (24h, 7d)"
            )
        })
}

async fn incidents(State(shared): State<Shared>, Query(query): Query<IncidentQuery>) -> Response {
    let now = gatewatch_supervisor::state::now_ms();
    let since = match parse_since(query.since.as_deref(), now) {
        Ok(since) => since,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    match shared.app.incidents(query.gateway, since).await {
        Ok(list) => axum::Json(list).into_response(),
        Err(e) => app_error(e),
    }
}

fn app_error(e: AppError) -> Response {
    let status = match e.code.as_str() {
        "no_history" => StatusCode::SERVICE_UNAVAILABLE,
        "unknown_gateway" => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, axum::Json(e)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_epoch_ms_rfc3339_and_spans() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_since(None, now), Ok(now - 86_400_000));
        assert_eq!(
            parse_since(Some("1700000000000"), now),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_since(Some("7d"), now), Ok(now - 7 * 86_400_000));
        assert_eq!(
            parse_since(Some("18446744073709551615"), now),
            Ok(i64::MAX as u64),
            "beyond what the database counts is the far future, not the past"
        );
        assert_eq!(parse_since(Some("90m"), now), Ok(now - 5_400_000));
        assert_eq!(
            parse_since(Some("2026-11-29T18:00:00Z"), now),
            Ok(1_795_975_200_000)
        );
        let bad = parse_since(Some("yesterday"), now).unwrap_err();
        assert!(bad.starts_with("since: `yesterday`"), "{bad}");
    }

    #[test]
    fn the_bearer_token_must_match_exactly() {
        let token = "0123456789abcdef";
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            h
        };
        assert!(bearer_matches(&with("Bearer 0123456789abcdef"), token));
        assert!(bearer_matches(&with("bearer 0123456789abcdef"), token));
        assert!(bearer_matches(&with("BEARER  0123456789abcdef "), token));
        assert!(!bearer_matches(&with("Basic 0123456789abcdef"), token));
        assert!(!bearer_matches(&with("Bearer 0123456789ABCDEF"), token));
        assert!(!bearer_matches(&with("Bearer 0123456789abcdeX"), token));
        assert!(!bearer_matches(&with("Bearer 0123456789abcde"), token));
        assert!(!bearer_matches(&with("0123456789abcdef"), token));
        assert!(!bearer_matches(&HeaderMap::new(), token));
    }
}
