//! The HTTP side of the service: the JSON API, the status page and its forms, and
//! `/metrics`. Reading needs the token only when the service listens beyond loopback;
//! changing anything needs it always (a bearer token, or the page's sign-in cookie).

use std::sync::Arc;

use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::page::{self, SignIn};
use super::view::run_json;
use super::{NotStarted, Service, Triggered};
use crate::state::RunId;

type Shared = State<Arc<Service>>;

/// Runs per page of `GET /api/runs` unless `limit` says; at most [`MAX_LIMIT`].
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 500;

pub fn router(service: Arc<Service>) -> Router {
    let changes = Router::new()
        .route("/api/syncs/{name}/run", post(api_run))
        .route("/api/syncs/{name}/pause", post(api_pause))
        .route("/api/syncs/{name}/resume", post(api_resume))
        .route("/api/reload", post(api_reload))
        .route("/syncs/{name}/{action}", post(form_action))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&service),
            must_sign_in,
        ));
    let reads = Router::new()
        .route("/api/syncs", get(api_syncs))
        .route("/api/runs", get(api_runs))
        .route("/api/runs/{id}", get(api_run_report))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&service),
            may_read,
        ));
    Router::new()
        .route("/", get(status_page))
        .route("/sign-in", post(sign_in))
        .merge(changes)
        .merge(reads)
        .with_state(service)
}

/// Whether the request carries the token (bearer header or sign-in cookie).
fn signed_in(service: &Service, headers: &HeaderMap) -> bool {
    let Some(token) = service.token() else {
        return false;
    };
    let header_text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    header_text(header::AUTHORIZATION).is_some_and(|value| token.accepts_header(value))
        || header_text(header::COOKIE).is_some_and(|value| token.accepts_cookies(value))
}

/// Reading needs the token only beyond loopback.
fn may_read_unsigned(service: &Service) -> bool {
    service.listen.ip().is_loopback()
}

fn refused(why: &str) -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, Json(json!({ "error": why }))).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

fn no_token_yet(service: &Service) -> Option<Response> {
    service.token().is_none().then(|| {
        refused(&format!(
            "changing anything needs a token, and none is set: set token_env or token_file in \
             [service] (or the {} variable) and reload",
            crate::config::DEFAULT_TOKEN_ENV
        ))
    })
}

async fn must_sign_in(State(service): Shared, request: Request, next: Next) -> Response {
    if let Some(refusal) = no_token_yet(&service) {
        return refusal;
    }
    if !signed_in(&service, request.headers()) {
        return refused("a valid token is required: Authorization: Bearer TOKEN");
    }
    if !same_origin(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "cross-site request refused"})),
        )
            .into_response();
    }
    next.run(request).await
}

/// A browser's form post names its origin; one from another site is refused (with the
/// cookie's SameSite=Strict, a second guard against cross-site requests).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        (Some(_), None) => false,
    }
}

async fn may_read(State(service): Shared, request: Request, next: Next) -> Response {
    if may_read_unsigned(&service) || signed_in(&service, request.headers()) {
        return next.run(request).await;
    }
    refused(
        "this service listens beyond loopback: a valid token is required (Authorization: Bearer TOKEN)",
    )
}

fn internal(error: impl std::fmt::Display) -> Response {
    let body = Json(json!({ "error": error.to_string() }));
    (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
}

fn not_found(why: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": why }))).into_response()
}

/// `work` on the blocking pool: it reads the state store, which blocks, and the runtime's
/// threads drive the runs.
async fn blocking(
    service: Arc<Service>,
    work: impl FnOnce(&Service) -> Response + Send + 'static,
) -> Response {
    tokio::task::spawn_blocking(move || work(&service))
        .await
        .unwrap_or_else(internal)
}

async fn api_syncs(State(service): Shared) -> Response {
    blocking(service, |service| match service.summaries() {
        Ok(syncs) => Json(json!({ "syncs": syncs })).into_response(),
        Err(error) => internal(error),
    })
    .await
}

#[derive(Deserialize)]
struct RunsQuery {
    sync: Option<String>,
    limit: Option<usize>,
    /// Only runs older than this id (the `next` of the page before).
    before: Option<i64>,
}

async fn api_runs(State(service): Shared, Query(query): Query<RunsQuery>) -> Response {
    blocking(service, move |service| runs_page(service, &query)).await
}

fn runs_page(service: &Service, query: &RunsQuery) -> Response {
    let config = service.config();
    if let Some(sync) = &query.sync
        && let Err(error) = config.sync(sync)
    {
        return not_found(error.to_string());
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let before = query.before.map(RunId);
    let runs = service.with_store(|store| store.runs_before(query.sync.as_deref(), before, limit));
    match runs {
        Ok(runs) => {
            let next = (runs.len() == limit)
                .then(|| runs.last().map(|run| run.id.0))
                .flatten();
            let reports: Vec<_> = runs.iter().map(|run| run_json(run, &[])).collect();
            Json(json!({ "runs": reports, "next": next })).into_response()
        }
        Err(error) => internal(error),
    }
}

async fn api_run_report(State(service): Shared, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        let why = "a run is named by its number, as /api/runs lists it";
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response();
    };
    blocking(service, move |service| run_report(service, id)).await
}

fn run_report(service: &Service, id: i64) -> Response {
    let read = service.with_store(|store| {
        let Some(record) = store.run(RunId(id))? else {
            return Ok(None);
        };
        let outcomes = store.outcomes(record.id)?;
        Ok(Some(run_json(&record, &outcomes)))
    });
    match read {
        Ok(Some(report)) => Json(report).into_response(),
        Ok(None) => not_found(format!("there is no run {id}")),
        Err(error) => internal(error),
    }
}

async fn api_run(State(service): Shared, Path(name): Path<String>) -> Response {
    match service.trigger(&name).await {
        Ok(Triggered::Started(run)) => (StatusCode::ACCEPTED, Json(json!({ "run": run }))),
        Ok(Triggered::Queued) => (StatusCode::ACCEPTED, Json(json!({ "queued": true }))),
        Err(NotStarted::Unknown(why)) => (StatusCode::NOT_FOUND, Json(json!({ "error": why }))),
        Err(NotStarted::Refused(why)) => (StatusCode::CONFLICT, Json(json!({ "error": why }))),
    }
    .into_response()
}

async fn api_pause(state: Shared, name: Path<String>) -> Response {
    pause(state, name, true)
}

async fn api_resume(state: Shared, name: Path<String>) -> Response {
    pause(state, name, false)
}

fn pause(State(service): Shared, Path(name): Path<String>, paused: bool) -> Response {
    match service.set_paused(&name, paused) {
        Ok(()) => Json(json!({ "sync": name, "paused": paused })).into_response(),
        Err(why) => not_found(why),
    }
}

async fn api_reload(State(service): Shared) -> Response {
    match service.reload() {
        Ok(()) => Json(json!({ "reloaded": true })).into_response(),
        Err(why) => {
            let body =
                json!({ "reloaded": false, "error": why, "kept": "the config loaded before" });
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

async fn metrics(State(service): Shared) -> Response {
    let content_type = super::metrics::CONTENT_TYPE;
    (
        [(header::CONTENT_TYPE, content_type)],
        service.metrics.encode(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct PageQuery {
    /// What a form just did (a fixed word: the page says it in its own words).
    done: Option<String>,
    sync: Option<String>,
    run: Option<i64>,
}

async fn status_page(
    State(service): Shared,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let signed = signed_in(&service, &headers);
    let sign_in = match (service.token().is_some(), signed) {
        (_, true) => SignIn::SignedIn,
        (true, false) => SignIn::Needed,
        (false, false) => SignIn::NotNeeded,
    };
    let (sign_in, notice, hide) = match signed || may_read_unsigned(&service) {
        true => (sign_in, notice(&service, &query), false),
        false => (
            SignIn::Needed,
            Some("sign in to see the syncs".into()),
            true,
        ),
    };
    blocking(service, move |service| {
        page_response(service, sign_in, notice, hide)
    })
    .await
}

fn page_response(
    service: &Service,
    sign_in: SignIn,
    notice: Option<String>,
    hide: bool,
) -> Response {
    // Nothing of the syncs is read for a viewer who must sign in first.
    let view = match hide {
        true => Ok(super::view::sign_in_page(notice)),
        false => service.page(sign_in, notice),
    };
    let view = match view {
        Ok(view) => view,
        Err(error) => return internal(error),
    };
    Html(page::render(&view)).into_response()
}

/// The page's words for what a form did; the sync must be one the config names.
fn notice(service: &Service, query: &PageQuery) -> Option<String> {
    let sync = query
        .sync
        .as_deref()
        .filter(|name| service.config().syncs.contains_key(*name));
    let done = query.done.as_deref()?;
    Some(match (done, sync, query.run) {
        ("started", Some(sync), Some(run)) => format!("run {run} of {sync} started"),
        ("queued", Some(sync), _) => format!("{sync} is running; it runs again when this run ends"),
        ("paused", Some(sync), _) => {
            format!("{sync} is paused: no scheduled run starts until it is resumed")
        }
        ("resumed", Some(sync), _) => format!("{sync} runs on its schedule again"),
        ("failed", Some(sync), _) => format!("{sync} could not start; see its last error"),
        ("signed-in", _, _) => "signed in".to_string(),
        _ => return None,
    })
}

#[derive(Deserialize)]
struct SignInForm {
    token: String,
}

async fn sign_in(State(service): Shared, Form(form): Form<SignInForm>) -> Response {
    let Some(token) = service.token() else {
        return page_response(
            &service,
            SignIn::NotNeeded,
            Some("no token is set: nothing to sign in to".into()),
            false,
        );
    };
    if !token.accepts(form.token.trim()) {
        let mut response = page_response(
            &service,
            SignIn::Needed,
            Some("the token was refused".into()),
            !may_read_unsigned(&service),
        );
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    }
    let mut response = Redirect::to("/?done=signed-in").into_response();
    if let Ok(cookie) = header::HeaderValue::from_str(&token.set_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The page's buttons: run now, pause, resume; back to the page, saying what was done.
async fn form_action(
    State(service): Shared,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let encoded = page::path_segment(&name);
    let done = match action.as_str() {
        "run" => match service.trigger(&name).await {
            Ok(Triggered::Started(run)) => {
                return Redirect::to(&format!("/?done=started&sync={encoded}&run={run}"))
                    .into_response();
            }
            Ok(Triggered::Queued) => "queued",
            Err(_) => "failed",
        },
        "pause" | "resume" => match service.set_paused(&name, action == "pause") {
            Ok(()) if action == "pause" => "paused",
            Ok(()) => "resumed",
            Err(why) => return not_found(why),
        },
        _ => return not_found(format!("no action {action:?}: run, pause or resume")),
    };
    Redirect::to(&format!("/?done={done}&sync={encoded}")).into_response()
}
