//! `pci.device`: every PCI function's class (first four hex digits), vendor,
//! device and subsystem ids, plus optional SR-IOV and IOMMU attributes.

use std::collections::BTreeMap;

use super::{Host, Sink};
use crate::features::Instance;

const MANDATORY: [&str; 5] = [
    "class",
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem_device",
];
const OPTIONAL: [&str; 3] = [
    "sriov_totalvfs",
    "iommu_group/type",
    "iommu/intel-iommu/version",
];

pub fn discover(host: &Host, sink: &mut Sink) {
    let base = "/sys/bus/pci/devices";
    let devices = match host.list(base) {
        Ok(d) => d,
        Err(e) => return sink.warn(format!("PCI devices: {base}: {e}")),
    };
    let mut instances = Vec::new();
    for dev in devices {
        match read_device(host, &format!("{base}/{dev}")) {
            Ok(attrs) => instances.push(Instance { attributes: attrs }),
            Err(e) => sink.warn(format!("PCI device {dev}: {e}")),
        }
    }
    sink.instances("pci.device", instances);
}

fn read_attr(host: &Host, dir: &str, name: &str) -> std::io::Result<String> {
    let raw = host.read(&format!("{dir}/{name}"))?;
    let mut v = raw.strip_prefix("0x").unwrap_or(&raw).trim().to_string();
    if name == "class" && v.len() > 4 {
        v.truncate(4);
    }
    Ok(v)
}

fn read_device(host: &Host, dir: &str) -> Result<BTreeMap<String, String>, String> {
    let mut attrs = BTreeMap::new();
    for a in MANDATORY {
        let v = read_attr(host, dir, a).map_err(|e| format!("{a}: {e}"))?;
        attrs.insert(a.to_string(), v);
    }
    for a in OPTIONAL {
        if let Ok(v) = read_attr(host, dir, a) {
            attrs.insert(a.to_string(), v);
        }
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use crate::sources::{fixture::Tree, map};

    #[test]
    fn pci_devices() {
        let d = "/sys/bus/pci/devices/0000:3b:00.0";
        let tree = Tree::new(&[
            (&format!("{d}/class"), "0x030200\n"),
            (&format!("{d}/vendor"), "0x10de\n"),
            (&format!("{d}/device"), "0x20b5\n"),
            (&format!("{d}/subsystem_vendor"), "0x10de\n"),
            (&format!("{d}/subsystem_device"), "0x1533\n"),
            (&format!("{d}/sriov_totalvfs"), "16\n"),
            (&format!("{d}/iommu_group/type"), "DMA\n"),
            ("/sys/bus/pci/devices/0000:00:00.0/class", "0x060000\n"),
        ]);
        let found = crate::sources::discover(&tree.host(), &["pci".to_string()]);
        let inst = &found.features.instances["pci.device"].elements;
        assert_eq!(inst.len(), 1, "the incomplete device is skipped");
        assert_eq!(
            inst[0].attributes,
            map([
                ("class", "0302"),
                ("vendor", "10de"),
                ("device", "20b5"),
                ("subsystem_vendor", "10de"),
                ("subsystem_device", "1533"),
                ("sriov_totalvfs", "16"),
                ("iommu_group/type", "DMA")
            ])
        );
        assert_eq!(found.warnings.len(), 1);
    }
}
