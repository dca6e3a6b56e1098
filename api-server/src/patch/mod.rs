//! Patches: JSON patch (RFC 6902), merge patch (RFC 7386), Kubernetes strategic merge patch.
