//! `podlab ui`'s web server: loopback only, one thread per connection, GET only.
//!
//! - `/` and `/static/*`: the page, embedded in the binary (no CDN, works offline);
//! - `/api/*`, `/apis/*`: proxied to the cluster's Kubernetes API (the one kubectl uses), GETs
//!   and watches only, so nothing in the page can change the cluster; the proxy adds the
//!   kubeconfig's bearer token (the page never sees it);
//! - `/x/*`: read-only kernel views as JSON, answered by the daemon's own verbs (`views.rs`)
//!   and the packet stepper (`stepper.rs`).
//!
//! Requests whose `Host` is not `127.0.0.1:PORT` or `localhost:PORT` get 403 (a page on another
//! site cannot reach the view by pointing its own name at 127.0.0.1: DNS rebinding), and so do
//! connections from another local user (the kernel's socket table, as the API checks; under
//! `sudo`, the user who ran sudo is let in for their browser): the proxy carries the cluster's
//! token, so the view is its user's only.

mod stepper;
mod views;

use anyhow::Result;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// What every request handler needs.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Cluster name.
    pub cluster: String,
    /// The Kubernetes API on loopback and its bearer token, from the kubeconfig.
    pub api: crate::daemon::Endpoint,
    /// The port this server listens on (the only one the `Host` check accepts).
    pub port: u16,
    /// Who connects (only the user running `podlab ui` is answered).
    pub peers: std::sync::Arc<podlab_api_server::peer::PeerCheck>,
}

/// Serves until the process is stopped.
pub fn serve(listener: TcpListener, ctx: Ctx) -> Result<i32> {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            if let Err(e) = handle(conn, &ctx) {
                tracing::debug!("ui request: {e:#}");
            }
        });
    }
    Ok(0)
}

/// One parsed request line and its headers.
struct Req {
    method: String,
    path: String,
    query: HashMap<String, String>,
    raw_target: String,
    host: Option<String>,
}

fn read_request(conn: &TcpStream) -> Result<Req> {
    let mut r = BufReader::new(conn.try_clone()?).take(64 * 1024);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut it = line.split_whitespace();
    let method = it.next().unwrap_or_default().to_string();
    let raw_target = it.next().unwrap_or_default().to_string();
    let mut host = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("host")
        {
            host = Some(v.trim().to_string());
        }
    }
    let (path, q) = raw_target.split_once('?').unwrap_or((&raw_target, ""));
    let query = q
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))).filter(|(k, _)| !k.is_empty()))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    Ok(Req {
        method,
        path: decode(path),
        query,
        raw_target,
        host,
    })
}

/// Percent-decoding (and `+` as space) of a URL component.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `host` names this server on loopback.
fn host_allowed(host: Option<&str>, port: u16) -> bool {
    host.is_some_and(|h| h == format!("127.0.0.1:{port}") || h == format!("localhost:{port}"))
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    Ok(())
}

fn handle(mut conn: TcpStream, ctx: &Ctx) -> Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let from_owner = match (conn.peer_addr(), conn.local_addr()) {
        (Ok(peer), Ok(local)) => ctx.peers.is_owner(peer, local),
        _ => false,
    };
    if !from_owner {
        let msg = "403 Forbidden: podlab ui answers only the user who started it (or ran sudo for it)\n";
        return respond(&mut conn, "403 Forbidden", "text/plain; charset=utf-8", msg.as_bytes());
    }
    let req = read_request(&conn)?;
    if !host_allowed(req.host.as_deref(), ctx.port) {
        let msg = format!(
            "403 Forbidden: podlab ui answers only Host 127.0.0.1:{0} or localhost:{0}\n",
            ctx.port
        );
        return respond(&mut conn, "403 Forbidden", "text/plain; charset=utf-8", msg.as_bytes());
    }
    if req.method != "GET" {
        let msg = "405 Method Not Allowed: the web view only reads; change the cluster with kubectl\n";
        return respond(
            &mut conn,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            msg.as_bytes(),
        );
    }
    let p = req.path.as_str();
    if p == "/api" || p.starts_with("/api/") || p == "/apis" || p.starts_with("/apis/") {
        return proxy(conn, &req.raw_target, ctx);
    }
    if let Some(view) = p.strip_prefix("/x/") {
        let (status, body) = match views::answer(view, &req.query, ctx) {
            Ok(v) => ("200 OK", v),
            Err(e) => (
                "500 Internal Server Error",
                serde_json::json!({"error": crate::error_text(&e)}),
            ),
        };
        return respond(&mut conn, status, "application/json", body.to_string().as_bytes());
    }
    if p == "/favicon.ico" {
        return respond(&mut conn, "204 No Content", "image/x-icon", b"");
    }
    match asset(p) {
        Some((ctype, body)) => respond(&mut conn, "200 OK", ctype, body),
        None => respond(
            &mut conn,
            "404 Not Found",
            "text/plain; charset=utf-8",
            b"404 Not Found\n",
        ),
    }
}

/// The embedded page.
fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", include_bytes!("static/index.html")),
        "/static/app.js" => ("text/javascript; charset=utf-8", include_bytes!("static/app.js")),
        "/static/graph.js" => ("text/javascript; charset=utf-8", include_bytes!("static/graph.js")),
        "/static/style.css" => ("text/css; charset=utf-8", include_bytes!("static/style.css")),
        "/static/cytoscape.min.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("../../vendor/cytoscape/cytoscape.min.js"),
        ),
        _ => return None,
    })
}

/// Passes a GET (or watch) to the Kubernetes API and streams its answer back as it comes.
fn proxy(mut conn: TcpStream, target: &str, ctx: &Ctx) -> Result<()> {
    let mut up = match TcpStream::connect(&ctx.api.address) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!(
                "the cluster's Kubernetes API at {} does not answer: {e}\n",
                ctx.api.address
            );
            return respond(
                &mut conn,
                "502 Bad Gateway",
                "text/plain; charset=utf-8",
                msg.as_bytes(),
            );
        }
    };
    let head = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\n{}Accept: application/json\r\nUser-Agent: podlab-ui\r\nConnection: close\r\n\r\n",
        ctx.api.address,
        ctx.api.authorization()
    );
    up.write_all(head.as_bytes())?;
    conn.set_read_timeout(None)?;
    std::io::copy(&mut up, &mut conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_host_names_pass() {
        assert!(host_allowed(Some("127.0.0.1:8080"), 8080));
        assert!(host_allowed(Some("localhost:8080"), 8080));
        assert!(!host_allowed(Some("evil.example:8080"), 8080));
        assert!(!host_allowed(Some("127.0.0.1:8081"), 8080));
        assert!(!host_allowed(None, 8080));
    }

    #[test]
    fn decodes_url_components() {
        assert_eq!(decode("node%2Fworker-1"), "node/worker-1");
        assert_eq!(decode("db%3A8080"), "db:8080");
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("100%"), "100%");
    }
}
