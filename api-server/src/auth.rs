//! Who may use the API: the user who started the cluster, and whoever holds its bearer token.
//! Another local user reaching `127.0.0.1:PORT` gets `401 Unauthorized`, as from
//! kube-apiserver.
//!
//! - **The cluster's own user**: a connection whose client socket belongs to the uid that
//!   started the cluster ([`crate::peer`], the kernel's socket table) is that user's. This is
//!   what kubectl relies on: client-go sends a kubeconfig's credentials (token, client
//!   certificate, exec plugin) only over TLS, never to an `http://` server, and podlab's API is
//!   plain HTTP on loopback.
//! - **The bearer token**: the daemon makes a random [`Token`] at every start and writes it into
//!   the kubeconfig's user (mode 0600 in the 0700 runtime directory: only its owner, and root,
//!   can read it). Clients that send it over HTTP (the `kube` crate, curl, podlab's own) are
//!   let in from any uid, as kube-apiserver's static token authenticator does.
//!
//! As kube-apiserver 1.34 decides (authenticators, then anonymous, whose default RBAC binding
//! `system:public-info-viewer` allows only a few paths):
//! - a wrong bearer token: `401` everywhere, health paths too, even from the owner
//!   (kube-apiserver fails a request whose credentials it cannot verify; no fallback);
//! - the right token, or no token from the owner: every request;
//! - no token from another user: only `GET`/`HEAD` of `/healthz`, `/livez`, `/readyz` and
//!   `/version` (and `/version/`); anything else is `401` (kube-apiserver with anonymous
//!   authentication limited to those paths; its default of `403 Forbidden` for
//!   `system:anonymous` would tell a stranger which resources exist).
//!
//! The token comparison takes the same time wherever the first wrong byte is.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Random bytes in a token: 256 bits, written as 64 hex digits.
const TOKEN_BYTES: usize = 32;

/// The cluster's bearer token.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The operating system had no random bytes to give.
#[derive(Debug, thiserror::Error)]
#[error("making the API's bearer token: the system's random source failed: {0}")]
pub struct TokenError(String);

impl Token {
    /// A new token from the operating system's random source (256 bits, hex).
    pub fn random() -> Result<Token, TokenError> {
        use rand::TryRng;
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| TokenError(e.to_string()))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token as the kubeconfig holds it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Token {
    /// A token given by the caller (tests, a fixed kubeconfig).
    fn from(s: String) -> Token {
        Token(s)
    }
}

/// What a request's `Authorization` header proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// No bearer token (no header, or another scheme): an anonymous request.
    Anonymous,
    /// The cluster's token.
    Valid,
    /// A bearer token that is not the cluster's.
    Invalid,
}

/// Reads the request's bearer token as kube-apiserver does (`Bearer` in any case, then the
/// token up to the next space) and compares it with `token` in constant time.
pub fn credentials(headers: &HeaderMap, token: &Token) -> Credentials {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credentials::Anonymous;
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    let mut parts = value.trim().splitn(3, ' ');
    let (Some(scheme), Some(given)) = (parts.next(), parts.next()) else {
        return Credentials::Anonymous;
    };
    if !scheme.eq_ignore_ascii_case("bearer") || given.is_empty() {
        return Credentials::Anonymous;
    }
    if constant_time_eq(given.as_bytes(), token.0.as_bytes()) {
        Credentials::Valid
    } else {
        Credentials::Invalid
    }
}

/// Whether `a == b`, looking at every byte whatever the first difference (the length, the same
/// for every token podlab makes, is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Whether an anonymous request may have `path` (kube-apiserver's `system:public-info-viewer`).
pub fn public(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && matches!(path, "/healthz" | "/livez" | "/readyz" | "/version" | "/version/")
}

/// `None` if the request may go on, else the `401` to answer; `owner`: the connection comes
/// from the cluster's own user.
pub fn check(method: &Method, path: &str, headers: &HeaderMap, token: &Token, owner: bool) -> Option<Response> {
    match credentials(headers, token) {
        Credentials::Valid => None,
        Credentials::Anonymous if owner || public(method, path) => None,
        Credentials::Anonymous | Credentials::Invalid => Some(unauthorized()),
    }
}

/// kube-apiserver's answer to a request it cannot authenticate, byte for byte (its field
/// order); kubectl prints `error: You must be logged in to the server (Unauthorized)`.
pub const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

/// The `401` response with [`UNAUTHORIZED`].
pub fn unauthorized() -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, UNAUTHORIZED).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn the_refusal_is_kube_apiservers_status() {
        let v: serde_json::Value = serde_json::from_str(UNAUTHORIZED).unwrap();
        assert_eq!((v["kind"].as_str(), v["code"].as_u64()), (Some("Status"), Some(401)));
        assert_eq!(unauthorized().status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn tokens_are_256_random_bits_in_hex() {
        let (a, b) = (Token::random().unwrap(), Token::random().unwrap());
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(format!("{a:?}"), "Token(…)");
    }

    #[test]
    fn only_the_clusters_bearer_token_is_valid() {
        let t = Token::from("s3cret".to_string());
        assert_eq!(credentials(&with("Bearer s3cret"), &t), Credentials::Valid);
        assert_eq!(credentials(&with("bearer s3cret"), &t), Credentials::Valid);
        assert_eq!(credentials(&with("Bearer s3cres"), &t), Credentials::Invalid);
        assert_eq!(credentials(&with("Bearer s3cret2"), &t), Credentials::Invalid);
        assert_eq!(credentials(&with("Bearer"), &t), Credentials::Anonymous);
        assert_eq!(credentials(&with("Basic czNjcmV0"), &t), Credentials::Anonymous);
        assert_eq!(credentials(&HeaderMap::new(), &t), Credentials::Anonymous);
    }

    #[test]
    fn strangers_without_the_token_reach_only_health_and_version() {
        let t = Token::from("s3cret".to_string());
        let none = HeaderMap::new();
        for owner in [false, true] {
            for p in ["/healthz", "/livez", "/readyz", "/version"] {
                assert!(check(&Method::GET, p, &none, &t, owner).is_none(), "{p}");
                let wrong = check(&Method::GET, p, &with("Bearer nope"), &t, owner).unwrap();
                assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{p}");
            }
        }
        for p in ["/api", "/apis", "/openapi/v3", "/api/v1/namespaces/default/pods"] {
            let refused = check(&Method::GET, p, &none, &t, false).unwrap();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
            assert!(check(&Method::GET, p, &none, &t, true).is_none(), "{p}");
        }
        assert!(check(&Method::POST, "/healthz", &none, &t, false).is_some());
        let pod = "/api/v1/namespaces/default/pods/x";
        assert!(check(&Method::DELETE, pod, &with("Bearer s3cret"), &t, false).is_none());
        assert!(check(&Method::DELETE, pod, &with("Bearer s3cres"), &t, true).is_some());
    }
}
