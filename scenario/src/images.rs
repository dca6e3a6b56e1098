//! Container images in a scenario: a node's preloaded images (`cluster.nodes[].images`) and
//! the extra images of the simulated registry (`cluster.registry`), with their checks.
//!
//! podlab runs no container engine: an image is a name plus the built-in catalog program it
//! runs. A bare name must be a catalog image; `{name, runs}` is a locally built image that
//! runs a catalog program (the book's `docker build -t kubia .`).

use crate::error::LoadError;
use crate::objects::Ctx;
use crate::walk::{self, Map};
use crate::yaml::{Node, Value};
pub use podlab_k8s_values::{image_repository, normalize_image};

/// An image known to a node or to the simulated registry: its name and the catalog image
/// whose program it runs (for a catalog image, `runs` is its own repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The image name as written, e.g. `kubia:v1` or `mycorp/app:2`.
    pub name: String,
    /// The catalog image it runs, e.g. `luksa/kubia`.
    pub runs: String,
}

/// Repositories of podlab's built-in image catalog (the node agent resolves exactly these;
/// `podlab images` describes them). Tags do not matter.
pub const CATALOG_REPOSITORIES: &[&str] = &[
    "podlab/echo",
    "echo",
    "echoserver",
    "hashicorp/http-echo",
    "ealen/echo-server",
    "nginx",
    "nginxinc/nginx-unprivileged",
    "luksa/kubia",
    "kubia",
    "podlab/toolbox",
    "busybox",
    "alpine",
    "ubuntu",
    "debian",
    "curlimages/curl",
    "nicolaka/netshoot",
];

/// Node annotation listing preloaded images that run another catalog image, as
/// comma-separated `name=runs` pairs (`kubia:latest=luksa/kubia`). The node agent reads it to
/// know what a locally built image runs; `status.images` only holds names.
pub const IMAGE_RUNS_ANNOTATION: &str = "podlab.dev/image-runs";

/// Whether `name` (any tag) is in the built-in catalog.
pub fn is_catalog_image(name: &str) -> bool {
    CATALOG_REPOSITORIES.contains(&image_repository(name).as_str())
}

/// A plausible size for an image running `runs` (for `status.images[].sizeBytes`, which the
/// scheduler's ImageLocality weighs): close to the real images' sizes.
pub fn image_size_bytes(runs: &str) -> i64 {
    const MB: i64 = 1024 * 1024;
    match image_repository(runs).as_str() {
        "nginx" | "nginxinc/nginx-unprivileged" => 187 * MB,
        "luksa/kubia" | "kubia" => 660 * MB,
        "busybox" => 4 * MB,
        "alpine" => 8 * MB,
        "ubuntu" => 78 * MB,
        "debian" => 117 * MB,
        "curlimages/curl" => 24 * MB,
        "nicolaka/netshoot" => 460 * MB,
        _ => 12 * MB,
    }
}

/// Reads a list of images: each a catalog image name, or `{name, runs}`. With
/// `allow_bare: false` (the registry) every entry needs `runs:`, since catalog images are in
/// the registry anyway.
pub(crate) fn parse_list(
    node: &Node,
    path: &str,
    allow_bare: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<ImageSpec>, LoadError> {
    let Value::Seq(items) = &node.value else {
        return Err(walk::mismatch(
            node,
            path,
            "a list of images like [\"nginx:1.25\", {name: \"kubia:v1\", runs: luksa/kubia}]",
            ctx,
        ));
    };
    let mut out: Vec<ImageSpec> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let (spec, at) = match &item.value {
            Value::Str(name) if allow_bare => {
                check_name(name, item, &ipath, ctx)?;
                if !is_catalog_image(name) {
                    return Err(walk::error(
                        item,
                        &ipath,
                        &format!(
                            "{name:?} is not a built-in catalog image; for a locally built image say what it runs, e.g. {{name: {name:?}, runs: luksa/kubia}} (catalog: {})",
                            catalog_list()
                        ),
                        ctx,
                    ));
                }
                (
                    ImageSpec {
                        name: name.clone(),
                        runs: image_repository(name),
                    },
                    item,
                )
            }
            Value::Map(_) => {
                let m = Map::new(item, &ipath, ctx)?;
                m.warn_unknown(&["name", "runs"], ctx);
                let name_node = m.get("name").ok_or_else(|| {
                    walk::error(
                        item,
                        &format!("{ipath}.name"),
                        "Required value: the image name, e.g. \"kubia:v1\"",
                        ctx,
                    )
                })?;
                let name = walk::string(name_node, &format!("{ipath}.name"), ctx)?;
                check_name(&name, name_node, &format!("{ipath}.name"), ctx)?;
                let runs_node = m.get("runs").ok_or_else(|| {
                    walk::error(
                        item,
                        &format!("{ipath}.runs"),
                        "Required value: the catalog image this image runs, e.g. luksa/kubia",
                        ctx,
                    )
                })?;
                let runs = walk::string(runs_node, &format!("{ipath}.runs"), ctx)?;
                if !is_catalog_image(&runs) {
                    return Err(walk::error(
                        runs_node,
                        &format!("{ipath}.runs"),
                        &format!(
                            "Unsupported value: {runs:?}: runs must name a built-in catalog image: {}",
                            catalog_list()
                        ),
                        ctx,
                    ));
                }
                (ImageSpec { name, runs }, name_node)
            }
            _ if allow_bare => {
                return Err(walk::mismatch(item, &ipath, "an image name or {name, runs}", ctx));
            }
            _ => {
                return Err(walk::mismatch(
                    item,
                    &ipath,
                    "{name, runs}, e.g. {name: \"mycorp/app:2\", runs: podlab/echo} (catalog images are always in the registry)",
                    ctx,
                ));
            }
        };
        let key = normalize_image(&spec.name);
        if out.iter().any(|o| normalize_image(&o.name) == key) {
            return Err(walk::error(at, &ipath, &format!("image {key:?} is listed twice"), ctx));
        }
        out.push(spec);
    }
    Ok(out)
}

fn check_name(name: &str, node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<(), LoadError> {
    let bad = name.is_empty()
        || name.trim() != name
        || name.chars().any(|c| c.is_whitespace() || c.is_uppercase())
        || image_repository(name).is_empty();
    if bad {
        return Err(walk::error(
            node,
            path,
            &format!(
                "Invalid value: {name:?}: an image name is lower case without spaces, like \"kubia\", \"kubia:v1\" or \"mycorp/app:2\""
            ),
            ctx,
        ));
    }
    Ok(())
}

fn catalog_list() -> String {
    [
        "podlab/echo",
        "nginx",
        "luksa/kubia",
        "podlab/toolbox",
        "busybox",
        "alpine",
        "…",
    ]
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_matches_the_scheduler() {
        assert_eq!(normalize_image("kubia"), "kubia:latest");
        assert_eq!(normalize_image("kubia:v1"), "kubia:v1");
        assert_eq!(normalize_image("localhost:5000/app"), "localhost:5000/app:latest");
    }

    #[test]
    fn repository_drops_tag_and_docker_hub_prefix() {
        assert_eq!(image_repository("docker.io/library/nginx:1.25"), "nginx");
        assert_eq!(image_repository("luksa/kubia"), "luksa/kubia");
        assert!(is_catalog_image("busybox:1.36"));
        assert!(!is_catalog_image("mycorp/app:2"));
    }
}
