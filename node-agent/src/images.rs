//! The built-in image catalog: podlab runs no container engine and no registry.
//!
//! An image name resolves to a program inside the podlab binary (an HTTP echo server, an
//! nginx-like page server, the book's `luksa/kubia`) or to the "toolbox", which runs the
//! container's `command` with the machine's own binaries. Anything else fails like a missing
//! image does in Kubernetes (ErrImagePull, then ImagePullBackOff).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

/// What a container image runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// HTTP server answering with pod name, pod IP, node and the client's source address.
    Echo,
    /// Static page on :80, like nginx's welcome page.
    Nginx,
    /// The book's kubia app: "You've hit <hostname>" on :8080.
    Kubia,
    /// Runs `command`/`args` with the machine's binaries.
    Toolbox,
}

/// The image names the catalog knows (repository part, without tag), for messages and docs.
pub const CATALOG: &[(&str, &str)] = &[
    (
        "podlab/echo",
        "HTTP echo server on $PORT or the first containerPort (default 8080)",
    ),
    ("nginx", "static welcome page on :80"),
    (
        "luksa/kubia",
        "the book's kubia app: \"You've hit <hostname>\" on :8080",
    ),
    (
        "podlab/toolbox",
        "runs the container's command with the machine's own binaries",
    ),
    ("busybox", "toolbox"),
    ("alpine", "toolbox"),
    ("ubuntu", "toolbox"),
    ("debian", "toolbox"),
    ("curlimages/curl", "toolbox"),
];

/// Split `registry/repo:tag@digest` into the repository path (without docker.io/library) and tag.
pub fn split_image(image: &str) -> (String, String) {
    let no_digest = image.split('@').next().unwrap_or(image);
    let (repo, tag) = match no_digest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (no_digest, "latest"),
    };
    let repo = repo
        .trim_start_matches("docker.io/")
        .trim_start_matches("index.docker.io/")
        .trim_start_matches("library/");
    (repo.to_string(), tag.to_string())
}

/// Every repository the catalog resolves (aliases included) and what it runs.
pub const REPOSITORIES: &[(&str, ImageKind)] = &[
    ("podlab/echo", ImageKind::Echo),
    ("echo", ImageKind::Echo),
    ("echoserver", ImageKind::Echo),
    ("hashicorp/http-echo", ImageKind::Echo),
    ("ealen/echo-server", ImageKind::Echo),
    ("nginx", ImageKind::Nginx),
    ("nginxinc/nginx-unprivileged", ImageKind::Nginx),
    ("luksa/kubia", ImageKind::Kubia),
    ("kubia", ImageKind::Kubia),
    ("podlab/toolbox", ImageKind::Toolbox),
    ("busybox", ImageKind::Toolbox),
    ("alpine", ImageKind::Toolbox),
    ("ubuntu", ImageKind::Toolbox),
    ("debian", ImageKind::Toolbox),
    ("curlimages/curl", ImageKind::Toolbox),
    ("nicolaka/netshoot", ImageKind::Toolbox),
];

/// Look an image up in the catalog.
pub fn resolve(image: &str) -> Option<ImageKind> {
    let (repo, _) = split_image(image);
    REPOSITORIES
        .iter()
        .find(|(r, _)| *r == repo)
        .map(|(_, kind)| kind.clone())
}

/// The name used on the hidden `podlab __image NAME` command line.
pub fn program_name(kind: &ImageKind) -> &'static str {
    match kind {
        ImageKind::Echo => "echo",
        ImageKind::Nginx => "nginx",
        ImageKind::Kubia => "kubia",
        ImageKind::Toolbox => "toolbox",
    }
}

/// SIGTERM ends a built-in server at once, with exit code 0, as nginx's fast shutdown does.
extern "C" fn on_sigterm(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(0) }
}

/// Entry point of `podlab __image NAME`: runs inside the pod's namespaces. Returns the exit code.
///
/// It is its container's PID 1, and PID 1 gets no signal it has no handler for: like a real
/// server it handles SIGTERM, so a deleted pod ends at once instead of after its grace period.
pub fn run_builtin(name: &str) -> i32 {
    // SAFETY: installs an async-signal-safe handler; no other code of this process handles SIGTERM.
    unsafe {
        libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t);
    }
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let port = |default: u16| -> u16 {
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .or_else(|| env("PODLAB_PORTS").split(',').find_map(|p| p.parse().ok()))
            .unwrap_or(default)
    };
    let (port, page): (u16, Page) = match name {
        "echo" => (port(8080), echo_page),
        "nginx" => (80, nginx_page),
        "kubia" => (8080, kubia_page),
        other => {
            eprintln!("podlab: no built-in program {other:?}");
            return 2;
        }
    };
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            // The wording a Go or Node server prints, so a port collision reads as it would in Kubernetes.
            eprintln!("error: listen tcp 0.0.0.0:{port}: bind: {}", io_reason(&e));
            return 1;
        }
    };
    println!(
        "{name}: listening on 0.0.0.0:{port} in pod {} ({})",
        env("POD_NAME"),
        env("POD_IP")
    );
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve(stream, page));
    }
    0
}

fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EADDRINUSE) => "address already in use".into(),
        Some(libc::EACCES) => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Renders a response: (content type, body).
type Page = fn(&Request) -> (String, String);

/// One parsed HTTP request, as much as the built-in servers need.
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target (`/`, `/healthz`).
    pub path: String,
    /// The client's `ip:port`.
    pub client: String,
}

fn serve(stream: TcpStream, page: Page) {
    let client = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.trim().is_empty() => break,
            Ok(_) => {}
        }
    }
    let mut parts = first.split_whitespace();
    let req = Request {
        method: parts.next().unwrap_or("GET").to_string(),
        path: parts.next().unwrap_or("/").to_string(),
        client: client.clone(),
    };
    let (ctype, body) = page(&req);
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if req.method == "HEAD" { "" } else { &body }
    );
    let mut s = stream;
    let _ = s.write_all(resp.as_bytes());
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    println!("{} {} {} from {client}", env("POD_NAME"), req.method, req.path);
}

fn hostname() -> String {
    nix_hostname().unwrap_or_else(|| std::env::var("HOSTNAME").unwrap_or_default())
}

fn nix_hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: buffer and length are valid.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

fn echo_page(req: &Request) -> (String, String) {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let client_ip = req
        .client
        .rsplit_once(':')
        .map(|(ip, _)| ip.to_string())
        .unwrap_or_default();
    let body = format!(
        "pod: {}\nnamespace: {}\npod_ip: {}\nnode: {}\nhostname: {}\nclient: {}\nclient_ip: {}\npath: {}\n",
        env("POD_NAME"),
        env("POD_NAMESPACE"),
        env("POD_IP"),
        env("NODE_NAME"),
        hostname(),
        req.client,
        client_ip,
        req.path
    );
    ("text/plain; charset=utf-8".into(), body)
}

/// Where nginx serves files from (its image's default root).
const NGINX_ROOT: &str = "/usr/share/nginx/html";

/// A file under nginx's root for `path` (`/` is `index.html`), if there is one; `..` never
/// leaves the root.
fn nginx_file(path: &str) -> Option<(String, String)> {
    let rel = path.split('?').next().unwrap_or("").trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    if rel.split('/').any(|p| p == "..") {
        return None;
    }
    let body = std::fs::read_to_string(std::path::Path::new(NGINX_ROOT).join(rel)).ok()?;
    let kind = if rel.ends_with(".html") {
        "text/html"
    } else {
        "text/plain"
    };
    Some((kind.into(), body))
}

/// What is in `/usr/share/nginx/html` (a volume mounted there, as in the book's sidecar
/// example), else nginx's welcome page.
fn nginx_page(req: &Request) -> (String, String) {
    if let Some(found) = nginx_file(&req.path) {
        return found;
    }
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let body = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>Welcome to nginx!</title></head>\n<body>\n<h1>Welcome to nginx!</h1>\n\
         <p>Served by pod {} ({}) on node {}. podlab's built-in nginx stand-in.</p>\n</body>\n</html>\n",
        env("POD_NAME"),
        env("POD_IP"),
        env("NODE_NAME")
    );
    ("text/html".into(), body)
}

fn kubia_page(_req: &Request) -> (String, String) {
    ("text/plain".into(), format!("You've hit {}\n", hostname()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_resolves_docker_style_names() {
        assert_eq!(resolve("nginx"), Some(ImageKind::Nginx));
        assert_eq!(resolve("nginx:1.14.2"), Some(ImageKind::Nginx));
        assert_eq!(resolve("docker.io/library/nginx:latest"), Some(ImageKind::Nginx));
        assert_eq!(resolve("luksa/kubia"), Some(ImageKind::Kubia));
        assert_eq!(resolve("busybox:1.36"), Some(ImageKind::Toolbox));
        assert_eq!(resolve("nosuch/thing:v1"), None);
    }

    #[test]
    fn split_keeps_registry_ports_apart_from_tags() {
        assert_eq!(
            split_image("localhost:5000/app"),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert_eq!(split_image("kubia:v2"), ("kubia".into(), "v2".into()));
    }

    #[test]
    fn the_scenario_loader_knows_the_same_catalog() {
        let ours: Vec<&str> = REPOSITORIES.iter().map(|(r, _)| *r).collect();
        assert_eq!(ours, podlab_scenario::CATALOG_REPOSITORIES);
        assert_eq!(
            crate::pull::IMAGE_RUNS_ANNOTATION,
            podlab_scenario::IMAGE_RUNS_ANNOTATION
        );
    }
}
