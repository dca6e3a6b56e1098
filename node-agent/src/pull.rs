//! Image pulls as the kubelet does them: `imagePullPolicy` (and its default), a per-node image
//! cache and podlab's simulated registry.
//!
//! The registry serves the built-in catalog (except images the book builds locally, such as
//! bare `kubia`) plus the scenario's `cluster.registry`; a node's cache starts with the node's
//! `status.images` and grows with every successful pull. No bytes move: an image is a name and
//! the catalog program it runs.

use crate::images::{self, ImageKind};
use k8s_openapi::api::core::v1::{Container, Node};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Node annotation naming what locally built preloaded images run (`kubia:latest=luksa/kubia`,
/// comma-separated); written by the scenario loader next to `status.images`.
pub const IMAGE_RUNS_ANNOTATION: &str = "podlab.dev/image-runs";

/// Catalog repositories that no registry serves: in *Kubernetes in Action* `kubia` is built
/// locally (`docker build -t kubia .`) and only `luksa/kubia` is pushed.
pub const LOCAL_ONLY: &[&str] = &["kubia"];

/// A container's `imagePullPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    /// Always ask the registry (the default for `:latest` and untagged images).
    Always,
    /// Use the node's copy if there is one, else pull (the default for other tags).
    IfNotPresent,
    /// Never pull: the image must be on the node.
    Never,
}

impl PullPolicy {
    /// Kubernetes' default: `Always` when the tag is `latest` or missing, else `IfNotPresent`.
    /// An image pinned by digest defaults to `IfNotPresent`.
    pub fn default_for(image: &str) -> PullPolicy {
        if image.contains('@') {
            return PullPolicy::IfNotPresent;
        }
        if images::split_image(image).1 == "latest" {
            PullPolicy::Always
        } else {
            PullPolicy::IfNotPresent
        }
    }

    /// The container's `imagePullPolicy`, or the default for its image.
    pub fn of(container: &Container) -> PullPolicy {
        let image = container.image.as_deref().unwrap_or_default();
        match container.image_pull_policy.as_deref() {
            Some("Always") => PullPolicy::Always,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            Some("Never") => PullPolicy::Never,
            _ => PullPolicy::default_for(image),
        }
    }

    /// The policy as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// The canonical `repository:tag` of an image (`docker.io/library/nginx` → `nginx:latest`),
/// used to compare names in the cache and the registry.
pub fn image_key(image: &str) -> String {
    let (repo, tag) = images::split_image(image);
    format!("{repo}:{tag}")
}

/// An image in `cluster.registry` or in a node's images names no catalog program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("image {name:?} runs {runs:?}, which is not in podlab's built-in image catalog (see `podlab images`)")]
pub struct UnknownImage {
    /// The image name.
    pub name: String,
    /// What it was said to run.
    pub runs: String,
}

/// podlab's simulated registry: the built-in catalog (minus [`LOCAL_ONLY`]) and extra images.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    extra: BTreeMap<String, ImageKind>,
}

impl Registry {
    /// A registry serving the catalog plus `extra` images, each `(name, runs)` where `runs`
    /// is a catalog image.
    pub fn new<'a>(extra: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Registry, UnknownImage> {
        let mut map = BTreeMap::new();
        for (name, runs) in extra {
            let kind = images::resolve(runs).ok_or_else(|| UnknownImage {
                name: name.to_owned(),
                runs: runs.to_owned(),
            })?;
            map.insert(image_key(name), kind);
        }
        Ok(Registry { extra: map })
    }

    /// What pulling `image` from the registry gives, or None if the registry has no such image.
    pub fn lookup(&self, image: &str) -> Option<ImageKind> {
        if let Some(kind) = self.extra.get(&image_key(image)) {
            return Some(kind.clone());
        }
        let (repo, _) = images::split_image(image);
        if LOCAL_ONLY.contains(&repo.as_str()) {
            return None;
        }
        images::resolve(image)
    }
}

/// The images present on one node, shared by all of its pods (clones share the same cache).
#[derive(Clone, Debug, Default)]
pub struct ImageCache {
    images: Arc<Mutex<BTreeMap<String, ImageKind>>>,
}

impl ImageCache {
    /// A cache holding the node's `status.images`; what a locally built image runs comes from
    /// the [`IMAGE_RUNS_ANNOTATION`] annotation, other names are catalog images. Names that
    /// resolve to nothing are left out.
    pub fn from_node(node: &Node) -> ImageCache {
        let runs: BTreeMap<String, String> = node
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(IMAGE_RUNS_ANNOTATION))
            .map(|v| {
                v.split(',')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(n, r)| (image_key(n.trim()), r.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let cache = ImageCache::default();
        for name in node
            .status
            .iter()
            .flat_map(|s| s.images.iter().flatten())
            .flat_map(|i| i.names.iter().flatten())
        {
            let key = image_key(name);
            let kind = match runs.get(&key) {
                Some(r) => images::resolve(r),
                None => images::resolve(name),
            };
            if let Some(kind) = kind {
                cache.insert(name, kind);
            }
        }
        cache
    }

    /// The node's copy of `image`, if it has one.
    pub fn get(&self, image: &str) -> Option<ImageKind> {
        crate::lock_unpoisoned(&self.images).get(&image_key(image)).cloned()
    }

    /// Records that `image` is now on the node.
    pub fn insert(&self, image: &str, kind: ImageKind) {
        crate::lock_unpoisoned(&self.images).insert(image_key(image), kind);
    }

    /// The images on the node (`repository:tag`), sorted.
    pub fn names(&self) -> Vec<String> {
        crate::lock_unpoisoned(&self.images).keys().cloned().collect()
    }
}

/// What the kubelet decided for one container's image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The node has the image and the policy lets it be used without pulling.
    Present(ImageKind),
    /// The image must be pulled from the registry, which has it.
    Pull(ImageKind),
    /// The registry does not have the image: ErrImagePull, then ImagePullBackOff.
    PullFails {
        /// Kubernetes-style message for the ErrImagePull state and the Failed event.
        message: String,
    },
    /// `Never` and not on the node: ErrImageNeverPull.
    NeverPull {
        /// `Container image "x" is not present with pull policy of Never`.
        message: String,
    },
}

/// The kubelet's pull decision for `image` under `policy` (does not change the cache; call
/// [`ImageCache::insert`] once a pull has completed).
pub fn decide(image: &str, policy: PullPolicy, cache: &ImageCache, registry: &Registry) -> Decision {
    let cached = cache.get(image);
    match (policy, cached) {
        (PullPolicy::IfNotPresent | PullPolicy::Never, Some(kind)) => Decision::Present(kind),
        (PullPolicy::Never, None) => Decision::NeverPull {
            message: format!("Container image \"{image}\" is not present with pull policy of Never"),
        },
        (PullPolicy::Always | PullPolicy::IfNotPresent, cached) => match registry.lookup(image) {
            Some(kind) => Decision::Pull(kind),
            None => Decision::PullFails {
                message: pull_failure(image, policy, cached.is_some()),
            },
        },
    }
}

fn pull_failure(image: &str, policy: PullPolicy, cached: bool) -> String {
    let key = image_key(image);
    let mut msg = format!(
        "Failed to pull image \"{image}\": podlab's simulated registry has no image {key}: pull access denied, repository does not exist or may require authorization"
    );
    if cached {
        msg.push_str(&format!(
            " (the node has {key}, but imagePullPolicy {} always asks the registry; {} is the default for the tag \"latest\" or no tag; set imagePullPolicy: IfNotPresent to use the node's copy)",
            policy.as_str(),
            PullPolicy::Always.as_str()
        ));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerImage, NodeStatus};

    fn node_with(names: &[&str], runs: Option<&str>) -> Node {
        let mut n = Node {
            status: Some(NodeStatus {
                images: Some(
                    names
                        .iter()
                        .map(|n| ContainerImage {
                            names: Some(vec![n.to_string()]),
                            size_bytes: Some(1),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Some(r) = runs {
            n.metadata.annotations = Some([(IMAGE_RUNS_ANNOTATION.to_string(), r.to_string())].into());
        }
        n
    }

    #[test]
    fn default_policy_follows_the_tag() {
        assert_eq!(PullPolicy::default_for("kubia"), PullPolicy::Always);
        assert_eq!(PullPolicy::default_for("kubia:latest"), PullPolicy::Always);
        assert_eq!(PullPolicy::default_for("kubia:v1"), PullPolicy::IfNotPresent);
        assert_eq!(PullPolicy::default_for("localhost:5000/app"), PullPolicy::Always);
        let c = Container {
            image: Some("kubia".into()),
            image_pull_policy: Some("IfNotPresent".into()),
            ..Default::default()
        };
        assert_eq!(PullPolicy::of(&c), PullPolicy::IfNotPresent);
    }

    #[test]
    fn locally_built_kubia_is_not_in_the_registry() {
        let r = Registry::default();
        assert_eq!(r.lookup("kubia"), None);
        assert_eq!(r.lookup("luksa/kubia"), Some(ImageKind::Kubia));
        assert_eq!(r.lookup("docker.io/library/nginx:1.25"), Some(ImageKind::Nginx));
        let r = Registry::new([("mycorp/app:2", "podlab/echo")]).unwrap();
        assert_eq!(r.lookup("mycorp/app:2"), Some(ImageKind::Echo));
        assert_eq!(r.lookup("mycorp/app:3"), None);
        assert!(Registry::new([("x:1", "node:7")]).is_err());
    }

    #[test]
    fn the_books_story() {
        let node = node_with(&["kubia:latest", "nginx:1.25"], Some("kubia:latest=luksa/kubia"));
        let cache = ImageCache::from_node(&node);
        let reg = Registry::default();
        // Untagged → Always → the registry has no kubia.
        match decide("kubia", PullPolicy::default_for("kubia"), &cache, &reg) {
            Decision::PullFails { message } => {
                assert!(
                    message.starts_with(
                        "Failed to pull image \"kubia\": podlab's simulated registry has no image kubia:latest"
                    ),
                    "{message}"
                );
                assert!(message.contains("IfNotPresent"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // IfNotPresent uses the preloaded copy.
        assert_eq!(
            decide("kubia", PullPolicy::IfNotPresent, &cache, &reg),
            Decision::Present(ImageKind::Kubia)
        );
        assert_eq!(
            decide("nginx:1.25", PullPolicy::Never, &cache, &reg),
            Decision::Present(ImageKind::Nginx)
        );
    }

    #[test]
    fn never_and_pull_then_cache() {
        let cache = ImageCache::default();
        let reg = Registry::default();
        assert_eq!(
            decide("busybox", PullPolicy::Never, &cache, &reg),
            Decision::NeverPull {
                message: "Container image \"busybox\" is not present with pull policy of Never".into()
            }
        );
        assert_eq!(
            decide("busybox:1.36", PullPolicy::IfNotPresent, &cache, &reg),
            Decision::Pull(ImageKind::Toolbox)
        );
        let shared = cache.clone();
        shared.insert("busybox:1.36", ImageKind::Toolbox);
        assert_eq!(
            decide("docker.io/library/busybox:1.36", PullPolicy::IfNotPresent, &cache, &reg),
            Decision::Present(ImageKind::Toolbox)
        );
        assert_eq!(cache.names(), ["busybox:1.36"]);
        // Always pulls even when present.
        assert_eq!(
            decide("busybox:1.36", PullPolicy::Always, &cache, &reg),
            Decision::Pull(ImageKind::Toolbox)
        );
    }
}
