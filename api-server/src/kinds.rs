//! The resources podlab serves and what kube-apiserver's discovery says of each: group,
//! version, kind, plural and singular names, short names, whether namespaced, verbs,
//! categories and subresources.

/// One resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `v1` Pod.
    Pod,
    /// `v1` Node.
    Node,
    /// `v1` Namespace.
    Namespace,
    /// `v1` Event.
    Event,
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `v1` ConfigMap.
    ConfigMap,
    /// `v1` Secret.
    Secret,
}

/// Every kind podlab serves.
pub const ALL: [Kind; 8] = [
    Kind::Pod,
    Kind::Node,
    Kind::Namespace,
    Kind::Event,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::ConfigMap,
    Kind::Secret,
];

impl Kind {
    /// The API group ("" for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Deployment | Kind::ReplicaSet => "apps",
            _ => "",
        }
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(self) -> &'static str {
        match self.group() {
            "" => "v1",
            _ => "apps/v1",
        }
    }

    /// The `kind` field.
    pub fn kind(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Node => "Node",
            Kind::Namespace => "Namespace",
            Kind::Event => "Event",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }

    /// The plural resource name in URLs.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Node => "nodes",
            Kind::Namespace => "namespaces",
            Kind::Event => "events",
            Kind::Deployment => "deployments",
            Kind::ReplicaSet => "replicasets",
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
        }
    }

    /// The plural with its group, as kube-apiserver names it in messages (`deployments.apps`).
    pub fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_string(),
            g => format!("{}.{g}", self.plural()),
        }
    }

    /// kubectl's short names.
    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::Pod => &["po"],
            Kind::Node => &["no"],
            Kind::Namespace => &["ns"],
            Kind::Event => &["ev"],
            Kind::Deployment => &["deploy"],
            Kind::ReplicaSet => &["rs"],
            Kind::ConfigMap => &["cm"],
            Kind::Secret => &[],
        }
    }

    /// Whether objects live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Node | Kind::Namespace)
    }

    /// The verbs discovery lists.
    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Kind::Event => &["get", "list", "watch"],
            Kind::Node => &["get", "list", "patch", "update", "watch"],
            _ => &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
        }
    }

    /// The `all` category (`kubectl get all`).
    pub fn categories(self) -> &'static [&'static str] {
        match self {
            Kind::Pod | Kind::Deployment | Kind::ReplicaSet => &["all"],
            _ => &[],
        }
    }

    /// Subresources and their verbs.
    pub fn subresources(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            Kind::Pod => &[
                ("log", &["get"]),
                ("exec", &["create", "get"]),
                ("attach", &["create", "get"]),
                ("portforward", &["create", "get"]),
                ("status", &["get"]),
            ],
            Kind::Deployment | Kind::ReplicaSet => &[("scale", &["get", "patch", "update"]), ("status", &["get"])],
            Kind::Node | Kind::Namespace => &[("status", &["get"])],
            Kind::Event | Kind::ConfigMap | Kind::Secret => &[],
        }
    }

    /// The kind served under `group`/`plural`, if any.
    pub fn from_plural(group: &str, plural: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.group() == group && k.plural() == plural)
    }
}
