//! podlab-scenario: loads podlab scenario files and plain Kubernetes manifests, validates
//! them the way kubectl and the API server would, and returns k8s-openapi objects
//! (Kubernetes 1.34). The only I/O is reading the files it is given.
//!
//! Entry points: [`load`] (a scenario, a manifest file, or a directory of manifests) and
//! [`load_manifests`]. The file format is described in the crate's README.
//!
//! # Layout
//!
//! - `scenario`: which kind of file it is (Scenario or plain manifests), `file:`
//!   references, cross-checks between parts; [`load`] and [`load_manifests`].
//! - `source`, `yaml`: reading a file into a located YAML tree (every node knows its line).
//! - `walk`, `de`: reading that tree by hand (typed getters) or into k8s-openapi types,
//!   with `file:line:col` errors ([`LoadError`], [`Warning`] in `error`).
//! - `cluster`: the `cluster:` part ([`ClusterSpec`]); its node list in `cluster/nodes.rs`.
//! - `steps`: the `steps:` list ([`Step`], [`Action`]); `traffic`: the `compare:` block.
//! - `objects`: the Kubernetes kinds podlab runs, one YAML document each; `validate`: the
//!   API server's checks with kubectl's wording; `names`: name and label checks; `config`:
//!   ConfigMaps and Secrets (a Secret's `stringData` merged on write, keys, sizes, Secret
//!   types, `immutable`); [`fields`]: unknown fields with "did you mean" (files and API
//!   bodies alike); [`unimplemented`]: the fields podlab accepts but does not honour, each
//!   warned about.
//! - `images`: preloaded and registry images; `links`: uplink shaping; `selector`: label
//!   selectors; `duration`, `quantity`: value formats (quantities and image names come
//!   from `podlab-k8s-values`).

mod cluster;
mod config;
mod de;
mod duration;
mod error;
pub mod fields;
mod images;
mod links;
mod names;
mod objects;
mod quantity;
mod scenario;
mod selector;
mod source;
mod steps;
mod traffic;
pub mod unimplemented;
mod validate;
mod walk;
mod yaml;

pub use cluster::{
    ClusterSpec, DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS, SCORE_PLUGINS, SCORING_STRATEGIES, SchedulerSpec,
};
pub use config::{DEFAULT_SECRET_TYPE, MAX_DATA_BYTES, config_key, normalize_secret};
pub use duration::{DurationError, parse_duration};
pub use error::{LoadError, Position, Warning};
pub use images::{
    CATALOG_REPOSITORIES, IMAGE_RUNS_ANNOTATION, ImageSpec, image_repository, image_size_bytes, is_catalog_image,
    normalize_image,
};
pub use links::{LinkSpec, RateError, UPLINK_ANNOTATION, parse_rate};
pub use objects::{Object, Origin, SOURCE_ANNOTATION, SUPPORTED_KINDS};
pub use quantity::{QUANTITY_REGEX, QuantityError, parse_quantity};
pub use scenario::{
    Loaded, SCENARIO_API_VERSION, Scenario, load, load_collecting, load_manifests, load_manifests_collecting,
};
pub use selector::{LabelSelector, Operator, Requirement, SelectorError};
pub use steps::{Action, DEFAULT_EXEC_TIMEOUT, DEFAULT_WAIT_TIMEOUT, Expectation, PodSelector, Step};
pub use traffic::{CompareSpec, Endpoint, MAX_REQUESTS, TiersSpec, TrafficSpec};

/// Name checks with the API server's wording, for other crates (e.g. `podlab run` flags).
pub mod validation {
    pub use crate::names::{dns1123_label, dns1123_subdomain, label_value, qualified_name};

    /// Every validation failure of one object as kube-apiserver words it
    /// (`spec.containers: Required value`), for objects that come from elsewhere than a file
    /// (the Kubernetes API).
    pub fn object_errors(obj: &crate::Object) -> Vec<String> {
        crate::validate::object(obj).iter().map(ToString::to_string).collect()
    }

    /// What an update from `old` to `new` (the same object) may not change, as kube-apiserver
    /// words it (`data: Forbidden: field is immutable when `immutable` is set`); empty when the
    /// update is allowed.
    pub fn update_errors(old: &crate::Object, new: &crate::Object) -> Vec<String> {
        crate::validate::update(old, new)
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}
