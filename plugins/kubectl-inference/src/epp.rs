//! What an endpoint picker's Deployment says about itself: the pool it
//! serves and where its EndpointPickerConfig comes from (`--config-text`,
//! or `--config-file` and the ConfigMap volume mounted over that path).
//! Pure functions of the Pod template; the commands fetch the objects.

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// Where the EPP reads its EndpointPickerConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Neither flag: the loader's built-in default profile.
    Default,
    /// `--config-text`, inline.
    Text(String),
    /// `--config-file PATH`, and the ConfigMap and key mounted there, when
    /// a ConfigMap volume is.
    File {
        path: String,
        config_map: Option<(String, String)>,
    },
}

/// The value of `--name` in a Go (pflag) argument list: `--name=v`,
/// `--name v`, and the single-dash forms Go's flag package also accepts.
/// The last occurrence wins, as in pflag.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let bare = a.strip_prefix("--").or_else(|| a.strip_prefix('-'));
        if let Some(rest) = bare.and_then(|b| b.strip_prefix(name)) {
            if let Some(value) = rest.strip_prefix('=') {
                found = Some(value);
            } else if rest.is_empty() {
                found = args.get(i + 1).map(String::as_str);
                i += 1;
            }
        }
        i += 1;
    }
    found
}

/// The container of `spec` that runs the picker: the first whose arguments
/// name a pool, else the first container.
pub fn picker_container(spec: &PodSpec) -> Option<&Container> {
    spec.containers
        .iter()
        .find(|c| flag(&arguments(c), "pool-name").is_some())
        .or(spec.containers.first())
}

/// A container's command line after the executable: `command[1..]` and
/// `args`, as the kubelet joins them.
pub fn arguments(c: &Container) -> Vec<String> {
    let command = c.command.iter().flatten().skip(1);
    command.chain(c.args.iter().flatten()).cloned().collect()
}

/// Where the picker of `spec` reads its configuration.
pub fn config_source(spec: &PodSpec) -> ConfigSource {
    let Some(container) = picker_container(spec) else {
        return ConfigSource::Default;
    };
    let args = arguments(container);
    if let Some(text) = flag(&args, "config-text") {
        return ConfigSource::Text(text.to_string());
    }
    let Some(path) = flag(&args, "config-file") else {
        return ConfigSource::Default;
    };
    ConfigSource::File {
        path: path.to_string(),
        config_map: mounted_config_map(spec, container, path),
    }
}

/// The ConfigMap and key that a volume mount of `container` puts at `path`.
fn mounted_config_map(
    spec: &PodSpec,
    container: &Container,
    path: &str,
) -> Option<(String, String)> {
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| {
            path == m.mount_path
                || path.starts_with(&format!("{}/", m.mount_path.trim_end_matches('/')))
        })
        .max_by_key(|m| m.mount_path.len())?;
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)?;
    let cm = volume.config_map.as_ref()?;
    // With subPath the mount is one file: the key is the subPath (or the
    // item projected to it). Without, the file under the mount is a key or
    // an item's path.
    let relative = match &mount.sub_path {
        Some(sub) if path == mount.mount_path => sub.clone(),
        _ => path
            .strip_prefix(mount.mount_path.trim_end_matches('/'))?
            .trim_start_matches('/')
            .to_string(),
    };
    let key = cm
        .items
        .iter()
        .flatten()
        .find(|item| item.path == relative)
        .map_or(relative, |item| item.key.clone());
    Some((cm.name.clone(), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_in_every_go_form() {
        let a = args(&[
            "--pool-name",
            "chat",
            "-config-file=/etc/epp/c.yaml",
            "--v=4",
        ]);
        assert_eq!(flag(&a, "pool-name"), Some("chat"));
        assert_eq!(flag(&a, "config-file"), Some("/etc/epp/c.yaml"));
        assert_eq!(flag(&a, "config"), None);
        assert_eq!(flag(&args(&["--pool-name"]), "pool-name"), None);
        let twice = args(&["--pool-name=a", "--pool-name=b"]);
        assert_eq!(flag(&twice, "pool-name"), Some("b"));
    }

    fn spec(yaml: &str) -> PodSpec {
        kplug::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn a_config_file_is_traced_to_its_config_map_key() {
        let s = spec(
            "containers:
- name: epp
  args: [--pool-name, chat, --config-file, /config/epp.yaml]
  volumeMounts: [{name: cfg, mountPath: /config}]
volumes:
- name: cfg
  configMap: {name: epp-config}",
        );
        assert_eq!(
            config_source(&s),
            ConfigSource::File {
                path: "/config/epp.yaml".into(),
                config_map: Some(("epp-config".into(), "epp.yaml".into()))
            }
        );
    }

    #[test]
    fn items_and_sub_paths_rename_the_key() {
        let s = spec(
            "containers:
- name: sidecar
- name: epp
  command: [/epp, --pool-name=chat]
  args: [--config-file=/etc/c.yaml, --config-file=/etc/x/plugins.yaml]
  volumeMounts:
  - {name: one, mountPath: /etc/c.yaml, subPath: default}
  - {name: many, mountPath: /etc/x}
volumes:
- {name: one, configMap: {name: single}}
- name: many
  configMap: {name: projected, items: [{key: real-key, path: plugins.yaml}]}",
        );
        let ConfigSource::File { config_map, .. } = config_source(&s) else {
            panic!("a file")
        };
        assert_eq!(config_map, Some(("projected".into(), "real-key".into())));
        let one = spec(
            "containers:
- name: epp
  args: [--pool-name=chat, --config-file=/etc/c.yaml]
  volumeMounts: [{name: one, mountPath: /etc/c.yaml, subPath: default}]
volumes: [{name: one, configMap: {name: single}}]",
        );
        let ConfigSource::File { config_map, .. } = config_source(&one) else {
            panic!("a file")
        };
        assert_eq!(config_map, Some(("single".into(), "default".into())));
    }

    #[test]
    fn text_wins_and_nothing_means_the_default() {
        let s = spec("containers: [{name: epp, args: [--pool-name=p, '--config-text=kind: X']}]");
        assert_eq!(config_source(&s), ConfigSource::Text("kind: X".into()));
        let none = spec("containers: [{name: epp, args: [--pool-name=p]}]");
        assert_eq!(config_source(&none), ConfigSource::Default);
        let file_only = spec("containers: [{name: epp, args: [--config-file=/x.yaml]}]");
        assert_eq!(
            config_source(&file_only),
            ConfigSource::File {
                path: "/x.yaml".into(),
                config_map: None
            }
        );
    }
}
