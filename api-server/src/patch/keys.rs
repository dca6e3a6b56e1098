//! The strategic-merge metadata of the kinds podlab serves: which lists are merged (and by which
//! key) instead of replaced, as k8s.io/api declares it with the `patchStrategy` and
//! `patchMergeKey` struct tags (core/v1, apps/v1 and meta/v1 at Kubernetes 1.34).
//!
//! The table is a small static schema: a [`Schema`] is the list of the fields of one Go struct
//! that matter to a strategic merge (a merged list, or a struct holding one further down). A
//! field that is not listed is merged as in a JSON merge patch: maps recursively, lists replaced.
//! `retainKeys` strategies need no entry: the `$retainKeys` directive is honoured wherever it
//! appears, as kube-apiserver does; the tag only tells kubectl when to generate it.

/// How a list field is combined with the list of a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListStrategy {
    /// The patch's list replaces the live one (no `patchStrategy` tag).
    Replace,
    /// `patchStrategy:"merge"` on a list of primitives: the union of both lists.
    MergePrimitives,
    /// `patchStrategy:"merge"` with `patchMergeKey`: elements with equal keys are merged.
    MergeByKey(&'static str),
}

/// The fields of one struct type that matter to a strategic merge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema(&'static [Field]);

/// One field of a [`Schema`].
#[derive(Debug)]
pub(crate) struct Field {
    name: &'static str,
    list: ListStrategy,
    /// The schema of the field's value (for a list: of its elements).
    child: Option<Schema>,
}

/// What the table knows about one field: its list strategy and the schema below it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldMeta {
    /// How the field is merged when it is a list.
    pub list: ListStrategy,
    /// The schema of the field's value, or of its elements for a list.
    pub child: Option<Schema>,
}

impl FieldMeta {
    /// A field the table does not know: lists replaced, no schema below.
    pub const UNKNOWN: FieldMeta = FieldMeta {
        list: ListStrategy::Replace,
        child: None,
    };

    /// The merge key of a list merged by key.
    pub fn merge_key(&self) -> Option<&'static str> {
        match self.list {
            ListStrategy::MergeByKey(key) => Some(key),
            _ => None,
        }
    }
}

impl Schema {
    /// The metadata of the field `name` (the [`FieldMeta::UNKNOWN`] default if not listed).
    pub fn field(schema: Option<Schema>, name: &str) -> FieldMeta {
        schema
            .and_then(|Schema(fields)| fields.iter().find(|f| f.name == name))
            .map_or(FieldMeta::UNKNOWN, |f| FieldMeta {
                list: f.list,
                child: f.child,
            })
    }

    /// The schema of a top-level object of `kind`. Kinds not in the table get the generic
    /// object schema (only `metadata` is known), which merges like a JSON merge patch below.
    pub fn for_kind(kind: &str) -> Schema {
        match kind {
            "Pod" => POD,
            "Deployment" => DEPLOYMENT,
            "ReplicaSet" => REPLICA_SET,
            "Node" => NODE,
            "Namespace" => NAMESPACE,
            _ => OBJECT,
        }
    }
}

const fn merged_by(name: &'static str, key: &'static str, child: Option<Schema>) -> Field {
    Field {
        name,
        list: ListStrategy::MergeByKey(key),
        child,
    }
}

const fn primitives(name: &'static str) -> Field {
    Field {
        name,
        list: ListStrategy::MergePrimitives,
        child: None,
    }
}

const fn nested(name: &'static str, child: Schema) -> Field {
    Field {
        name,
        list: ListStrategy::Replace,
        child: Some(child),
    }
}

/// meta/v1 ObjectMeta.
const OBJECT_META: Schema = Schema(&[primitives("finalizers"), merged_by("ownerReferences", "uid", None)]);

/// core/v1 Container and EphemeralContainer (they share these fields).
const CONTAINER: Schema = Schema(&[
    merged_by("ports", "containerPort", None),
    merged_by("env", "name", None),
    merged_by("volumeMounts", "mountPath", None),
    merged_by("volumeDevices", "devicePath", None),
]);

/// core/v1 PodSpec. `tolerations` and `readinessGates` have no strategy: replaced.
const POD_SPEC: Schema = Schema(&[
    merged_by("volumes", "name", None),
    merged_by("initContainers", "name", Some(CONTAINER)),
    merged_by("containers", "name", Some(CONTAINER)),
    merged_by("ephemeralContainers", "name", Some(CONTAINER)),
    merged_by("imagePullSecrets", "name", None),
    merged_by("hostAliases", "ip", None),
    merged_by("topologySpreadConstraints", "topologyKey", None),
    merged_by("schedulingGates", "name", None),
    merged_by("resourceClaims", "name", None),
]);

/// core/v1 PodStatus. `containerStatuses` and friends have no strategy: replaced.
const POD_STATUS: Schema = Schema(&[
    merged_by("conditions", "type", None),
    merged_by("hostIPs", "ip", None),
    merged_by("podIPs", "ip", None),
    merged_by("resourceClaimStatuses", "name", None),
]);

/// core/v1 PodTemplateSpec.
const POD_TEMPLATE: Schema = Schema(&[nested("metadata", OBJECT_META), nested("spec", POD_SPEC)]);

/// Status types whose only merged list is `conditions` by `type` (Deployment, ReplicaSet,
/// Namespace).
const CONDITIONS_STATUS: Schema = Schema(&[merged_by("conditions", "type", None)]);

/// apps/v1 DeploymentSpec and ReplicaSetSpec (`strategy` is `retainKeys`: see the module doc).
const WORKLOAD_SPEC: Schema = Schema(&[nested("template", POD_TEMPLATE)]);

/// core/v1 NodeSpec: `podCIDRs` merged, `taints` replaced (no strategy).
const NODE_SPEC: Schema = Schema(&[primitives("podCIDRs")]);

/// core/v1 NodeStatus.
const NODE_STATUS: Schema = Schema(&[
    merged_by("conditions", "type", None),
    merged_by("addresses", "type", None),
]);

const OBJECT: Schema = Schema(&[nested("metadata", OBJECT_META)]);
const POD: Schema = Schema(&[
    nested("metadata", OBJECT_META),
    nested("spec", POD_SPEC),
    nested("status", POD_STATUS),
]);
const DEPLOYMENT: Schema = Schema(&[
    nested("metadata", OBJECT_META),
    nested("spec", WORKLOAD_SPEC),
    nested("status", CONDITIONS_STATUS),
]);
const REPLICA_SET: Schema = DEPLOYMENT;
const NODE: Schema = Schema(&[
    nested("metadata", OBJECT_META),
    nested("spec", NODE_SPEC),
    nested("status", NODE_STATUS),
]);
const NAMESPACE: Schema = Schema(&[nested("metadata", OBJECT_META), nested("status", CONDITIONS_STATUS)]);

#[cfg(test)]
mod tests {
    use super::*;

    fn path(kind: &str, fields: &[&str]) -> FieldMeta {
        let mut meta = FieldMeta {
            list: ListStrategy::Replace,
            child: Some(Schema::for_kind(kind)),
        };
        for name in fields {
            meta = Schema::field(meta.child, name);
        }
        meta
    }

    #[test]
    fn pod_template_path_differs_by_kind() {
        assert_eq!(path("Pod", &["spec", "containers"]).merge_key(), Some("name"));
        for kind in ["Deployment", "ReplicaSet"] {
            let containers = path(kind, &["spec", "template", "spec", "containers"]);
            assert_eq!(containers.merge_key(), Some("name"));
            assert_eq!(path(kind, &["spec", "containers"]).merge_key(), None);
        }
    }

    #[test]
    fn container_lists_have_their_keys() {
        let p = |f| path("Pod", &["spec", "containers", f]).merge_key();
        assert_eq!(p("ports"), Some("containerPort"));
        assert_eq!(p("env"), Some("name"));
        assert_eq!(p("volumeMounts"), Some("mountPath"));
        assert_eq!(p("volumeDevices"), Some("devicePath"));
        assert_eq!(p("args"), None);
    }

    #[test]
    fn unlisted_lists_are_replaced() {
        assert_eq!(path("Pod", &["spec", "tolerations"]).list, ListStrategy::Replace);
        assert_eq!(path("Node", &["spec", "taints"]).list, ListStrategy::Replace);
        assert_eq!(path("Node", &["spec", "podCIDRs"]).list, ListStrategy::MergePrimitives);
        assert_eq!(
            path("Event", &["metadata", "finalizers"]).list,
            ListStrategy::MergePrimitives
        );
        assert_eq!(path("Event", &["involvedObject"]).child.map(|_| ()), None);
    }
}
