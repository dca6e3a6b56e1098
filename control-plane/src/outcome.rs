//! What a successful write did, as data: kubectl's one-line answers ("pod/web created",
//! `pod "web" deleted`) are made from it by `Display`, but a front end can also read the
//! verb (an HTTP API answers 201 for `Created`, 200 otherwise).

use std::fmt;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// It did not exist and now does.
    Created,
    /// It existed and was changed.
    Configured,
    /// It existed and already was as asked.
    Unchanged,
    /// It was deleted (or is being deleted).
    Deleted,
    /// Its labels were changed.
    Labeled,
    /// Its replica count was changed.
    Scaled,
}

impl Verb {
    /// kubectl's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Created => "created",
            Verb::Configured => "configured",
            Verb::Unchanged => "unchanged",
            Verb::Deleted => "deleted",
            Verb::Labeled => "labeled",
            Verb::Scaled => "scaled",
        }
    }
}

/// The result of one write to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// kubectl's singular resource name with its group: `pod`, `namespace`,
    /// `deployment.apps`, `replicaset.apps`.
    pub resource: &'static str,
    /// The object's name.
    pub name: String,
    /// What happened.
    pub verb: Verb,
}

impl Outcome {
    /// An outcome for `resource/name`.
    pub fn new(resource: &'static str, name: impl Into<String>, verb: Verb) -> Self {
        Outcome {
            resource,
            name: name.into(),
            verb,
        }
    }
}

impl fmt::Display for Outcome {
    /// `pod/web created`; deletions read as kubectl prints them: `pod "web" deleted`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verb {
            Verb::Deleted => write!(f, "{} \"{}\" deleted", self.resource, self.name),
            v => write!(f, "{}/{} {}", self.resource, self.name, v.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_kubectl_answers() {
        assert_eq!(Outcome::new("pod", "web", Verb::Created).to_string(), "pod/web created");
        assert_eq!(
            Outcome::new("deployment.apps", "nginx", Verb::Scaled).to_string(),
            "deployment.apps/nginx scaled"
        );
        assert_eq!(
            Outcome::new("pod", "web", Verb::Deleted).to_string(),
            "pod \"web\" deleted"
        );
        assert_eq!(
            Outcome::new("deployment.apps", "nginx", Verb::Deleted).to_string(),
            "deployment.apps \"nginx\" deleted"
        );
    }
}
