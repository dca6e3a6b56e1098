//! The Kubernetes REST API of a podlab cluster, served on loopback so the real `kubectl` and
//! client libraries (the `kube` crate) work against it. Every request goes through the
//! control-plane library, as the daemon's socket and the scenario runner do.
//!
//! # Layout
//!
//! - this file: [`Api`], [`serve`], the router (loopback-only, bearer token, discovery,
//!   resources).
//! - [`auth`]: who may use the API (the cluster's own user, or its bearer token).
//! - [`peer`]: which user opened a loopback connection (the kernel's socket table).
//! - [`discovery`]: `/version`, `/api`, `/apis`, resource lists, OpenAPI v3.
//! - [`request`]: resource URLs and query parameters.
//! - [`handlers`]: get, list, watch, create, update, patch, delete, `scale`, `log`.
//! - [`objects`]: the store's objects as JSON, and each verb through the control plane.
//! - [`table`]: server-side printing (`meta.k8s.io/v1` Table).
//! - [`watch`]: watch streams.
//! - [`logs`]: the `pods/log` subresource.
//! - [`selectors`]: `labelSelector`, `fieldSelector`.
//! - [`fields`]: `fieldValidation` (unknown fields).
//! - [`protobuf`]: the protobuf bodies of `kubectl create configmap|secret`.
//! - [`status`]: answers and `Status` errors.
//! - [`kinds`]: the resources served and their discovery facts.
//! - [`patch`]: JSON patch, merge patch, strategic merge patch and server-side apply.
//! - [`stream`]: the streaming protocols of `exec`, `attach` and `port-forward`.
//! - [`streaming`]: the `exec` and `portforward` endpoints that drive them.

pub mod auth;
pub mod discovery;
pub mod fields;
pub mod handlers;
pub mod kinds;
pub mod logs;
pub mod objects;
pub mod patch;
pub mod peer;
pub mod protobuf;
pub mod request;
pub mod selectors;
pub mod status;
pub mod stream;
pub mod streaming;
pub mod table;
pub mod watch;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use podlab_control_plane::{ApiError, Cluster};
use serde_json::Value;
use status::{error_response, json_response};
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct Api {
    /// The cluster.
    pub cluster: Arc<Cluster>,
    /// `127.0.0.1:PORT`, as discovery reports it.
    pub server: String,
    /// What watchers last saw, shared.
    pub snapshots: Arc<watch::SnapshotCache>,
    /// The bearer token every request but the public ones must carry.
    pub token: Arc<auth::Token>,
}

/// The API's listener on the machine's loopback, and the means to tell who connects to it.
#[derive(Debug)]
pub struct Loopback {
    /// The listener, on `127.0.0.1` and a free port.
    pub listener: std::net::TcpListener,
    /// The socket table of the listener's network namespace, and the cluster's owner.
    pub peers: peer::PeerCheck,
}

impl Loopback {
    /// `127.0.0.1:PORT`.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Opens the API's listener on the machine's loopback, on a free port, and the socket-table
/// query that tells which user each connection comes from (both before podlab leaves the
/// machine's network namespace).
pub fn bind_loopback() -> std::io::Result<Loopback> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    Ok(Loopback {
        listener,
        peers: peer::PeerCheck::open()?,
    })
}

/// One accepted connection: where from, and whether the cluster's owner opened it.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// Whether the client socket belongs to the user who started the cluster.
    pub owner: bool,
}

/// The listener as axum serves it: each connection is looked up once, when accepted.
struct PeerListener {
    inner: tokio::net::TcpListener,
    peers: Arc<peer::PeerCheck>,
}

impl axum::serve::Listener for PeerListener {
    type Io = tokio::net::TcpStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Peer) {
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => {
                    let owner = io.local_addr().is_ok_and(|local| self.peers.is_owner(addr, local));
                    return (io, Peer { addr, owner });
                }
                Err(e) => {
                    tracing::debug!("accepting an API connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Peer> {
        Ok(Peer {
            addr: self.inner.local_addr()?,
            owner: false,
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, PeerListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, PeerListener>) -> Peer {
        *stream.remote_addr()
    }
}

/// Serves the API on `listener` until the future is dropped, to the cluster's own user and to
/// requests that carry `token` (see [`auth`]).
pub async fn serve(listener: Loopback, cluster: Arc<Cluster>, token: auth::Token) -> std::io::Result<()> {
    let server = listener.local_addr()?.to_string();
    let listener = PeerListener {
        inner: tokio::net::TcpListener::from_std(listener.listener)?,
        peers: Arc::new(listener.peers),
    };
    let api = Api {
        cluster,
        server,
        snapshots: Arc::default(),
        token: Arc::new(token),
    };
    let app = axum::Router::new().fallback(route).with_state(api);
    axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await
}

/// Every request: loopback only, the owner or the bearer token, then discovery or a resource.
async fn route(State(api): State<Api>, ConnectInfo(peer): ConnectInfo<Peer>, req: Request) -> Response {
    if !peer.addr.ip().is_loopback() {
        return error_response(&ApiError::Forbidden {
            message: format!("podlab's API answers only on loopback, not to {}", peer.addr),
        });
    }
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if let Some(refused) = auth::check(&method, &path, req.headers(), &api.token, peer.owner) {
        return refused;
    }
    if method == Method::GET
        && let Some(v) = fixed(&api, &path)
    {
        return match v {
            Some(v) => json_response(StatusCode::OK, &v),
            None => error_response(&not_found(&path)),
        };
    }
    if matches!(path.as_str(), "/healthz" | "/readyz" | "/livez") {
        return (StatusCode::OK, "ok").into_response();
    }
    let target = match request::parse_path(&path) {
        Ok(Some(t)) => t,
        Ok(None) => return error_response(&not_found(&path)),
        Err(e) => return error_response(&e),
    };
    let query = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let (mut parts, body) = req.into_parts();
    if target.kind == kinds::Kind::Pod
        && let (Some(sub @ ("exec" | "attach" | "portforward")), Some(name)) =
            (target.sub.as_deref(), target.name.as_deref())
    {
        let key = (
            target.namespace.clone().unwrap_or_else(|| "default".into()),
            name.to_string(),
        );
        let q = request::Query::new(query);
        use axum::extract::FromRequestParts;
        let ws = match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &api).await {
            Ok(ws) => ws,
            Err(_) => return error_response(&streaming::websocket_required(sub)),
        };
        return match sub {
            "exec" => streaming::exec(api.cluster.clone(), key, q, ws).await,
            "portforward" => streaming::portforward(api.cluster.clone(), key, q, ws).await,
            _ => streaming::attach(api.cluster.clone(), key, q, ws).await,
        };
    }
    let body = match handlers::read_body(body).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let rr = handlers::ResourceRequest {
        method: &parts.method,
        target,
        query: request::Query::new(query),
        headers: &parts.headers,
        body,
    };
    handlers::resource(&api, rr).await
}

fn not_found(path: &str) -> ApiError {
    ApiError::NotFound {
        resource: "the server could not find the requested resource".into(),
        name: path.into(),
        hint: None,
    }
}

/// The discovery documents: `Some(Some(doc))`, `Some(None)` for a known 404 (`/openapi/v2`),
/// `None` for other paths.
fn fixed(api: &Api, path: &str) -> Option<Option<Value>> {
    Some(Some(match path.trim_end_matches('/') {
        "/version" => discovery::version(),
        "/api" => discovery::core_versions(&api.server),
        "/api/v1" => discovery::resources(""),
        "/apis" => discovery::groups(),
        "/apis/apps" => discovery::apps_group(),
        "/apis/apps/v1" => discovery::resources("apps"),
        "/openapi/v3" => discovery::openapi_root(),
        "/openapi/v3/api/v1" => discovery::openapi_group(""),
        "/openapi/v3/apis/apps/v1" => discovery::openapi_group("apps"),
        "/openapi/v2" => return Some(None),
        _ => return None,
    }))
}
