//! `system.osrelease`, `system.dmiid`, `system.name`.

use std::collections::BTreeMap;

use super::{Host, Sink, map};
use crate::catalogue::DMI_KEYS as DMI;

pub fn discover(host: &Host, sink: &mut Sink) {
    sink.attributes("system.name", map([("nodename", host.node_name.as_str())]));
    match host.read("/etc/os-release") {
        Ok(text) => sink.attributes("system.osrelease", parse_os_release(&text)),
        Err(e) => sink.warn(format!("os-release: /etc/os-release: {e}")),
    }
    let mut dmi = BTreeMap::new();
    let mut missing = 0;
    for name in DMI {
        match host.read_trim(&format!("/sys/devices/virtual/dmi/id/{name}")) {
            Ok(v) => {
                dmi.insert(name.to_string(), v);
            }
            Err(_) => missing += 1,
        }
    }
    if !dmi.is_empty() {
        sink.attributes("system.dmiid", dmi);
    }
    if missing == DMI.len() {
        sink.warn("DMI: /sys/devices/virtual/dmi/id is not readable");
    }
}

/// `KEY=value` lines (`\w+` keys), quotes trimmed, plus `VERSION_ID.major`
/// and `VERSION_ID.minor` when `VERSION_ID` looks like a version.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty()
            || !key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            || value.is_empty()
        {
            continue;
        }
        out.insert(key.to_string(), value.trim_matches(['"', '\'']).to_string());
    }
    if let Some(v) = out.get("VERSION_ID").cloned() {
        // ^(\d+)(\.(\d+))?(\..*)?$
        let mut parts = v.splitn(3, '.');
        let major = parts.next().unwrap_or_default();
        let minor = parts.next();
        let numeric = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
        if numeric(major) {
            out.insert("VERSION_ID.major".into(), major.into());
            if let Some(m) = minor.filter(|m| numeric(m)) {
                out.insert("VERSION_ID.minor".into(), m.into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixture::Tree;

    #[test]
    fn os_release() {
        let r = parse_os_release(
            "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n# comment\nBAD KEY=x\nEMPTY=\nPRETTY_NAME='Ubuntu 22.04.4 LTS'\n",
        );
        assert_eq!(r["NAME"], "Ubuntu");
        assert_eq!(r["VERSION_ID.major"], "22");
        assert_eq!(r["VERSION_ID.minor"], "04");
        assert_eq!(r["PRETTY_NAME"], "Ubuntu 22.04.4 LTS");
        assert!(!r.contains_key("EMPTY") && !r.contains_key("BAD KEY"));
        let r = parse_os_release("VERSION_ID=12\n");
        assert_eq!(r["VERSION_ID.major"], "12");
        assert!(!r.contains_key("VERSION_ID.minor"));
        assert!(!parse_os_release("VERSION_ID=rolling\n").contains_key("VERSION_ID.major"));
        let r = parse_os_release("VERSION_ID=22.x\n");
        assert_eq!(
            (r["VERSION_ID.major"].as_str(), r.get("VERSION_ID.minor")),
            ("22", None)
        );
    }

    #[test]
    fn dmi_and_node_name() {
        let tree = Tree::new(&[
            ("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            ("/sys/devices/virtual/dmi/id/sys_vendor", "Dell Inc.\n"),
            (
                "/sys/devices/virtual/dmi/id/product_name",
                "PowerEdge R750\n",
            ),
        ]);
        let d = crate::sources::discover(&tree.host(), &["system".to_string()]);
        let a = &d.features.attributes;
        assert_eq!(a["system.name"].elements["nodename"], "node-a");
        assert_eq!(
            a["system.dmiid"].elements,
            map([
                ("product_name", "PowerEdge R750"),
                ("sys_vendor", "Dell Inc.")
            ])
        );
        assert_eq!(a["system.osrelease"].elements["ID"], "debian");
        assert!(d.warnings.is_empty());
    }
}
