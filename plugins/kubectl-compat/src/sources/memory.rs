//! `memory.numa`, `memory.swap`, `memory.nv`, `memory.hugepages`.

use std::collections::BTreeMap;

use super::{Host, Sink, go_bool, map};
use crate::features::Instance;

pub fn discover(host: &Host, sink: &mut Sink) {
    match host.list("/sys/bus/node/devices") {
        Ok(nodes) => sink.attributes(
            "memory.numa",
            map([
                ("is_numa", go_bool(nodes.len() > 1)),
                ("node_count", nodes.len().to_string()),
            ]),
        ),
        Err(e) => sink.warn(format!("NUMA nodes: /sys/bus/node/devices: {e}")),
    }
    match host.read("/proc/swaps") {
        Ok(text) => {
            let lines = text.split('\n').filter(|l| !l.trim().is_empty()).count();
            sink.attributes("memory.swap", map([("enabled", go_bool(lines > 1))]));
        }
        Err(e) => sink.warn(format!("swap: /proc/swaps: {e}")),
    }
    match host.list("/sys/bus/nd/devices") {
        Ok(devices) => {
            let instances = devices
                .iter()
                .map(|d| {
                    let mut attrs = map([("name", d.as_str())]);
                    for a in ["devtype", "mode"] {
                        if let Ok(v) = host.read_trim(&format!("/sys/bus/nd/devices/{d}/{a}")) {
                            attrs.insert(a.into(), v);
                        }
                    }
                    Instance { attributes: attrs }
                })
                .collect();
            sink.instances("memory.nv", instances);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            sink.instances("memory.nv", Vec::new())
        }
        Err(e) => sink.warn(format!("nvdimm devices: {e}")),
    }
    match hugepages(host) {
        Ok(attrs) => sink.attributes("memory.hugepages", attrs),
        Err(e) => sink.warn(format!("huge pages: {e}")),
    }
}

fn hugepages(host: &Host) -> Result<BTreeMap<String, String>, String> {
    let mut out = map([("enabled", "false")]);
    let base = "/sys/kernel/mm/hugepages";
    let dirs = match host.list(base) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{base}: {e}")),
    };
    for dir in dirs {
        if !host.is_dir(&format!("{base}/{dir}")) {
            continue;
        }
        let total = host
            .read_trim(&format!("{base}/{dir}/nr_hugepages"))
            .unwrap_or_default();
        let size = dir.trim_start_matches("hugepages-").trim_end_matches("kB");
        let Ok(kib) = size.parse::<u64>() else {
            continue;
        };
        if total.parse::<i64>().is_ok_and(|n| n > 0) {
            out.insert("enabled".into(), "true".into());
        }
        out.insert(format!("hugepages-{}", binary_quantity(kib)), total);
    }
    Ok(out)
}

/// A size in KiB as Kubernetes prints the quantity: the largest binary suffix
/// that keeps it whole (`2048` → `2Mi`, `1048576` → `1Gi`).
pub fn binary_quantity(kib: u64) -> String {
    if kib == 0 {
        return "0".into();
    }
    let mut value = kib;
    let mut suffix = 0;
    const SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    while value.is_multiple_of(1024) && suffix + 1 < SUFFIXES.len() {
        value /= 1024;
        suffix += 1;
    }
    format!("{value}{}", SUFFIXES[suffix])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixture::Tree;

    #[test]
    fn memory_from_a_tree() {
        let tree = Tree::new(&[
            (
                "/proc/swaps",
                "Filename Type Size Used Priority\n/swap file 100 0 -2\n",
            ),
            (
                "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
                "16\n",
            ),
            (
                "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
                "0\n",
            ),
            ("/sys/bus/nd/devices/region0/devtype", "nd_pmem\n"),
            ("/sys/bus/nd/devices/region0/mode", "fsdax\n"),
        ]);
        tree.mkdir("/sys/bus/node/devices/node0");
        tree.mkdir("/sys/bus/node/devices/node1");
        let d = crate::sources::discover(&tree.host(), &["memory".to_string()]);
        let a = &d.features.attributes;
        assert_eq!(
            a["memory.numa"].elements,
            map([("is_numa", "true"), ("node_count", "2")])
        );
        assert_eq!(a["memory.swap"].elements["enabled"], "true");
        assert_eq!(
            a["memory.hugepages"].elements,
            map([
                ("enabled", "true"),
                ("hugepages-2Mi", "16"),
                ("hugepages-1Gi", "0")
            ])
        );
        let nv = &d.features.instances["memory.nv"].elements;
        assert_eq!(
            nv[0].attributes,
            map([
                ("name", "region0"),
                ("devtype", "nd_pmem"),
                ("mode", "fsdax")
            ])
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn missing_memory_files() {
        let tree = Tree::new(&[("/proc/swaps", "Filename Type Size Used Priority\n")]);
        let d = crate::sources::discover(&tree.host(), &["memory".to_string()]);
        assert_eq!(
            d.features.attributes["memory.swap"].elements["enabled"],
            "false"
        );
        assert_eq!(
            d.features.attributes["memory.hugepages"].elements,
            map([("enabled", "false")])
        );
        assert!(d.features.instances["memory.nv"].elements.is_empty());
        assert_eq!(d.warnings.len(), 1, "NUMA: {:?}", d.warnings);
    }

    #[test]
    fn quantities() {
        assert_eq!(binary_quantity(2048), "2Mi");
        assert_eq!(binary_quantity(1048576), "1Gi");
        assert_eq!(binary_quantity(64), "64Ki");
        assert_eq!(binary_quantity(1536), "1536Ki");
    }
}
