//! Image references (`registry/repo:tag@digest`): the normalised name kube-scheduler and a
//! Node's `status.images` use, and the repository/tag split used to compare images.

/// kube-scheduler's `normalizedImageName`: adds `:latest` when the image has no tag
/// (`nginx` → `nginx:latest`, `localhost:5000/app` → `localhost:5000/app:latest`); a name
/// with a tag or a digest is returned as it is. This is the form in a Node's `status.images`.
pub fn normalize_image(name: &str) -> String {
    let colon = name.rfind(':');
    let slash = name.rfind('/');
    let has_tag = match (colon, slash) {
        (Some(c), Some(s)) => c > s,
        (Some(_), None) => true,
        _ => false,
    };
    if has_tag || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// Splits `registry/repo:tag@digest` into the repository path (without `docker.io/`,
/// `index.docker.io/` or `library/`) and the tag (`latest` when there is none); the digest
/// is dropped. `docker.io/library/nginx` → (`nginx`, `latest`).
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

/// The repository part of an image name, without tag, digest or `docker.io/library/`
/// (the first half of [`split_image`]).
pub fn image_repository(name: &str) -> String {
    split_image(name).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_names_get_latest() {
        assert_eq!(normalize_image("nginx"), "nginx:latest");
        assert_eq!(normalize_image("kubia"), "kubia:latest");
        assert_eq!(normalize_image("nginx:1.25"), "nginx:1.25");
        assert_eq!(normalize_image("kubia:v1"), "kubia:v1");
        assert_eq!(normalize_image("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalize_image("app@sha256:abc"), "app@sha256:abc");
    }

    #[test]
    fn repository_and_tag() {
        assert_eq!(
            split_image("docker.io/library/nginx"),
            ("nginx".into(), "latest".into())
        );
        assert_eq!(split_image("nginx:1.25@sha256:abc"), ("nginx".into(), "1.25".into()));
        assert_eq!(
            split_image("localhost:5000/app"),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert_eq!(image_repository("index.docker.io/luksa/kubia:v1"), "luksa/kubia");
    }
}
