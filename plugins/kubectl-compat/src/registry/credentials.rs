//! Credentials from the files users already log in with: docker's
//! `config.json` (`auths`, `credsStore`, `credHelpers`) and podman's
//! `auth.json`.

use docker_credential::DockerCredential;

use super::client::Auth;
use super::reference::DOCKER_HUB;

/// The key docker uses for a registry (Docker Hub keeps its v1 URL).
fn server_key(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        registry
    }
}

fn auth(c: DockerCredential) -> Auth {
    match c {
        DockerCredential::UsernamePassword(username, password) => {
            Auth::Basic { username, password }
        }
        DockerCredential::IdentityToken(token) => Auth::Bearer(token),
    }
}

/// Credentials for `registry` from a config document (tests, and `--registry-config`).
pub fn from_config(config: impl std::io::Read, registry: &str) -> Option<Auth> {
    docker_credential::get_credential_from_reader(config, server_key(registry))
        .ok()
        .map(auth)
}

/// Credentials for `registry` from `$DOCKER_CONFIG/config.json` (or
/// `~/.docker/config.json`), then podman's `auth.json`; `None` when the user
/// has not logged in there.
pub fn from_user_files(registry: &str) -> Option<Auth> {
    let key = server_key(registry);
    docker_credential::get_credential(key)
        .or_else(|_| docker_credential::get_podman_credential(key))
        .ok()
        .map(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_config_auths() {
        // "kplug:s3cret" in base64.
        let config = r#"{"auths": {"127.0.0.1:5000": {"auth": "a3BsdWc6czNjcmV0"}, "https://index.docker.io/v1/": {"auth": "aHViOmh1Yg=="}}}"#;
        match from_config(config.as_bytes(), "127.0.0.1:5000") {
            Some(Auth::Basic { username, password }) => {
                assert_eq!((username.as_str(), password.as_str()), ("kplug", "s3cret"))
            }
            _ => panic!("expected basic credentials"),
        }
        assert!(matches!(
            from_config(config.as_bytes(), "docker.io"),
            Some(Auth::Basic { .. })
        ));
        assert!(from_config(config.as_bytes(), "ghcr.io").is_none());
        assert!(from_config("not json".as_bytes(), "ghcr.io").is_none());
    }
}
