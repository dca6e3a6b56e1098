//! Typed errors of the control plane. [`ApiError`] maps one-to-one to a Kubernetes `Status`
//! reason and HTTP code, so every front end (the daemon's socket, an HTTP API, the runner)
//! can answer as kube-apiserver would without parsing strings. [`UpError`] is what can go
//! wrong while a cluster is being built.

use podlab_netplugin::NetError;

/// An API request that cannot be carried out, as kube-apiserver would refuse it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The object does not exist (`404 NotFound`). `resource` is the plural resource name
    /// (`pods`, `namespaces`, `deployments.apps`), as in kube-apiserver's message.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// Plural resource name, e.g. `pods`.
        resource: String,
        /// The object's name.
        name: String,
        /// What the user can do about it (not part of the Kubernetes message).
        hint: Option<String>,
    },
    /// An object of that name exists already (`409 AlreadyExists`).
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// Plural resource name.
        resource: String,
        /// The object's name.
        name: String,
    },
    /// The request conflicts with the object's current state (`409 Conflict`).
    #[error("{message}")]
    Conflict {
        /// The whole message, e.g. kubectl's "'overwrite' is false but ...".
        message: String,
    },
    /// The object is not valid (`422 Invalid`).
    #[error("{resource} \"{name}\" is invalid: {message}")]
    Invalid {
        /// Plural resource name.
        resource: String,
        /// The object's name.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// The request is understood but not allowed (`403 Forbidden`).
    #[error("{message}")]
    Forbidden {
        /// The whole message, as kube-apiserver words it.
        message: String,
    },
    /// The verb is not supported on this resource (`405 MethodNotAllowed`).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request body's media type is not understood (`415 UnsupportedMediaType`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request body is too large (`413 RequestEntityTooLarge`).
    #[error("{0}")]
    TooLarge(String),
    /// The request itself is malformed (`400 BadRequest`).
    #[error("{0}")]
    BadRequest(String),
    /// Something failed inside podlab (`500 InternalError`).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A `NotFound` without a hint.
    pub fn not_found(resource: &str, name: &str) -> Self {
        ApiError::NotFound {
            resource: resource.into(),
            name: name.into(),
            hint: None,
        }
    }

    /// The Kubernetes `Status.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Internal(_) => "InternalError",
        }
    }

    /// The HTTP status code kube-apiserver answers with.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Forbidden { .. } => 403,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Internal(_) => 500,
        }
    }

    /// The line kubectl prints for this error. Server-side refusals read
    /// `Error from server (NotFound): pods "x" not found`; the checks kubectl itself makes
    /// (a label that would be overwritten) read `error: ...`.
    pub fn kubectl_message(&self) -> String {
        match self {
            ApiError::Conflict { message } => format!("error: {message}"),
            ApiError::NotFound { hint: Some(h), .. } => {
                format!("Error from server ({}): {self} ({h})", self.reason())
            }
            _ => format!("Error from server ({}): {self}", self.reason()),
        }
    }
}

/// The store's lock was poisoned by a panic elsewhere: an internal error, never silence.
pub(crate) fn poisoned() -> ApiError {
    ApiError::Internal("the cluster's state is unusable after an internal panic".into())
}

/// What stopped a cluster from coming up. Everything built before the failure is removed.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    // The reason is part of the message and not also a `source`: anyhow's `{:#}` prints a
    // source after the message, so it read twice ("...: no netem qdisc ...: no netem qdisc").
    /// A network object could not be made.
    #[error("{what}: {reason}")]
    Network {
        /// What was being built, e.g. "setting up the network of node worker-1".
        what: String,
        /// The netplugin's error.
        reason: NetError,
    },
    /// A process, namespace or file could not be made.
    #[error("{what}: {reason}")]
    Io {
        /// What was being built.
        what: String,
        /// The system's error.
        reason: std::io::Error,
    },
    /// The cluster's description cannot be used as it is.
    #[error("{0}")]
    Config(String),
    /// The runtime directory cannot be claimed (e.g. a cluster of that name runs).
    #[error(transparent)]
    RunDir(#[from] crate::rundir::RunDirError),
}

impl UpError {
    pub(crate) fn net(what: impl Into<String>) -> impl FnOnce(NetError) -> UpError {
        let what = what.into();
        move |reason| UpError::Network { what, reason }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> UpError {
        let what = what.into();
        move |reason| UpError::Io { what, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_as_kubectl_prints_it() {
        let e = ApiError::not_found("pods", "web");
        assert_eq!(
            e.kubectl_message(),
            "Error from server (NotFound): pods \"web\" not found"
        );
        assert_eq!((e.code(), e.reason()), (404, "NotFound"));
    }

    #[test]
    fn every_reason_has_its_kubernetes_code() {
        let cases = [
            (
                ApiError::AlreadyExists {
                    resource: "pods".into(),
                    name: "a".into(),
                },
                409,
                "AlreadyExists",
            ),
            (ApiError::Conflict { message: "x".into() }, 409, "Conflict"),
            (
                ApiError::Invalid {
                    resource: "pods".into(),
                    name: "a".into(),
                    message: "bad".into(),
                },
                422,
                "Invalid",
            ),
            (ApiError::BadRequest("b".into()), 400, "BadRequest"),
            (ApiError::Internal("i".into()), 500, "InternalError"),
        ];
        for (e, code, reason) in cases {
            assert_eq!((e.code(), e.reason()), (code, reason), "{e:?}");
        }
    }
}
