//! The features NFD discovers on Linux, their type and (where fixed) their
//! element names, for lint and init.

/// How a feature's elements are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Flag,
    Attribute,
    Instance,
    /// Flags and attributes (`cpu.cpuid`).
    FlagAttribute,
}

/// A known feature: name, kind, and its element names when they are fixed
/// (`None` for open sets like kernel.config or cpu.cpuid flags).
pub struct Feature {
    pub name: &'static str,
    pub kind: Kind,
    pub keys: Option<&'static [&'static str]>,
}

const fn f(name: &'static str, kind: Kind, keys: Option<&'static [&'static str]>) -> Feature {
    Feature { name, kind, keys }
}

/// The DMI attributes NFD reads from `/sys/devices/virtual/dmi/id`.
pub const DMI_KEYS: [&str; 16] = [
    "bios_date",
    "bios_vendor",
    "bios_version",
    "board_asset_tag",
    "board_name",
    "board_vendor",
    "board_version",
    "chassis_asset_tag",
    "chassis_type",
    "chassis_vendor",
    "chassis_version",
    "product_family",
    "product_name",
    "product_sku",
    "product_version",
    "sys_vendor",
];

pub const FEATURES: &[Feature] = &[
    f("cpu.cpuid", Kind::FlagAttribute, None),
    f(
        "cpu.model",
        Kind::Attribute,
        Some(&["vendor_id", "family", "id", "hypervisor"]),
    ),
    f("cpu.cstate", Kind::Attribute, Some(&["enabled"])),
    f(
        "cpu.pstate",
        Kind::Attribute,
        Some(&["status", "turbo", "scaling_governor"]),
    ),
    f(
        "cpu.rdt",
        Kind::Attribute,
        Some(&[
            "RDTMON",
            "RDTCMT",
            "RDTMBM",
            "RDTL3CA",
            "RDTL2CA",
            "RDTMBA",
            "RDTL3CA_NUM_CLOSID",
        ]),
    ),
    f(
        "cpu.security",
        Kind::Attribute,
        Some(&[
            "sgx.enabled",
            "sgx.epc",
            "se.enabled",
            "tdx.enabled",
            "tdx.total_keys",
            "tdx.protected",
            "sev.enabled",
            "sev.es.enabled",
            "sev.snp.enabled",
            "sev.asids",
            "sev.encrypted_state_ids",
        ]),
    ),
    f("cpu.sst", Kind::Attribute, Some(&["bf.enabled"])),
    f(
        "cpu.topology",
        Kind::Attribute,
        Some(&["hardware_multithreading", "socket_count"]),
    ),
    f("cpu.coprocessor", Kind::Attribute, Some(&["nx_gzip"])),
    f("kernel.config", Kind::Attribute, None),
    f("kernel.loadedmodule", Kind::Flag, None),
    f("kernel.enabledmodule", Kind::Flag, None),
    f("kernel.selinux", Kind::Attribute, Some(&["enabled"])),
    f("kernel.kvm", Kind::Attribute, Some(&["enabled"])),
    f(
        "kernel.version",
        Kind::Attribute,
        Some(&["full", "major", "minor", "revision"]),
    ),
    f(
        "memory.numa",
        Kind::Attribute,
        Some(&["is_numa", "node_count"]),
    ),
    f("memory.swap", Kind::Attribute, Some(&["enabled"])),
    f(
        "memory.nv",
        Kind::Instance,
        Some(&["name", "devtype", "mode"]),
    ),
    f("memory.hugepages", Kind::Attribute, None),
    f(
        "network.device",
        Kind::Instance,
        Some(&[
            "name",
            "operstate",
            "speed",
            "sriov_numvfs",
            "sriov_totalvfs",
            "mtu",
        ]),
    ),
    f(
        "network.virtual",
        Kind::Instance,
        Some(&["name", "operstate", "speed", "mtu"]),
    ),
    f(
        "pci.device",
        Kind::Instance,
        Some(&[
            "class",
            "vendor",
            "device",
            "subsystem_vendor",
            "subsystem_device",
            "sriov_totalvfs",
            "iommu_group/type",
            "iommu/intel-iommu/version",
        ]),
    ),
    f(
        "usb.device",
        Kind::Instance,
        Some(&["class", "vendor", "device", "serial"]),
    ),
    f(
        "storage.block",
        Kind::Instance,
        Some(&["name", "dax", "rotational", "nr_zones", "zoned"]),
    ),
    f("system.osrelease", Kind::Attribute, None),
    f("system.dmiid", Kind::Attribute, Some(&DMI_KEYS)),
    f("system.name", Kind::Attribute, Some(&["nodename"])),
    f("local.label", Kind::Attribute, None),
    f("local.feature", Kind::Attribute, None),
    f("rule.matched", Kind::Attribute, None),
];

pub fn find(name: &str) -> Option<&'static Feature> {
    FEATURES.iter().find(|f| f.name == name)
}

/// Edit distance, for "did you mean".
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a small distance (case-insensitive first).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if c.to_lowercase() == lower {
            0
        } else {
            distance(&lower, &c.to_lowercase())
        };
        if d <= 2.max(word.len() / 4) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            suggest("matchExpresions", ["matchExpressions", "matchName"]),
            Some("matchExpressions")
        );
        assert_eq!(
            suggest("VENDOR_ID", ["vendor_id", "family"]),
            Some("vendor_id")
        );
        assert_eq!(suggest("zzz", ["vendor_id"]), None);
        assert_eq!(find("pci.device").unwrap().kind, Kind::Instance);
    }
}
