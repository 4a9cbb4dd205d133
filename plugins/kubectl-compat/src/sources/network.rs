//! `network.device` (interfaces with a `device` link) and `network.virtual`.

use super::{Host, Sink, map};
use crate::features::Instance;

const DEVICE_ATTRS: [&str; 5] = [
    "operstate",
    "speed",
    "device/sriov_numvfs",
    "device/sriov_totalvfs",
    "mtu",
];
const VIRTUAL_ATTRS: [&str; 3] = ["operstate", "speed", "mtu"];

pub fn discover(host: &Host, sink: &mut Sink) {
    let base = "/sys/class/net";
    let names = match host.list(base) {
        Ok(n) => n,
        Err(e) => return sink.warn(format!("network interfaces: {base}: {e}")),
    };
    let (mut devices, mut virtuals) = (Vec::new(), Vec::new());
    for name in names.iter().filter(|n| *n != "bonding_masters") {
        let dir = format!("{base}/{name}");
        let physical = host.exists(&format!("{dir}/device"));
        let attrs = if physical {
            &DEVICE_ATTRS[..]
        } else {
            &VIRTUAL_ATTRS[..]
        };
        let mut inst = map([("name", name.as_str())]);
        for a in attrs {
            // Reading `speed` of a down link fails with EINVAL: skipped, as NFD does.
            if let Ok(v) = host.read_trim(&format!("{dir}/{a}")) {
                inst.insert(a.rsplit('/').next().unwrap_or(a).to_string(), v);
            }
        }
        let inst = Instance { attributes: inst };
        if physical {
            devices.push(inst)
        } else {
            virtuals.push(inst)
        }
    }
    sink.instances("network.device", devices);
    sink.instances("network.virtual", virtuals);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixture::Tree;

    #[test]
    fn devices_and_virtual_interfaces() {
        let tree = Tree::new(&[
            ("/sys/devices/pci0/eth0/operstate", "up\n"),
            ("/sys/devices/pci0/eth0/speed", "10000\n"),
            ("/sys/devices/pci0/eth0/mtu", "1500\n"),
            ("/sys/devices/pci0/eth0/device/sriov_totalvfs", "64\n"),
            ("/sys/devices/pci0/eth0/device/sriov_numvfs", "4\n"),
            ("/sys/devices/virtual/lo/operstate", "unknown\n"),
            ("/sys/devices/virtual/lo/mtu", "65536\n"),
            ("/sys/class/net/bonding_masters", "\n"),
        ]);
        tree.symlink("/sys/devices/pci0/eth0", "/sys/class/net/eth0");
        tree.symlink("/sys/devices/virtual/lo", "/sys/class/net/lo");
        let d = crate::sources::discover(&tree.host(), &["network".to_string()]);
        let dev = &d.features.instances["network.device"].elements;
        assert_eq!(
            dev[0].attributes,
            map([
                ("name", "eth0"),
                ("operstate", "up"),
                ("speed", "10000"),
                ("mtu", "1500"),
                ("sriov_totalvfs", "64"),
                ("sriov_numvfs", "4")
            ])
        );
        let virt = &d.features.instances["network.virtual"].elements;
        assert_eq!(virt.len(), 1);
        assert_eq!(
            virt[0].attributes,
            map([("name", "lo"), ("operstate", "unknown"), ("mtu", "65536")])
        );
    }

    #[test]
    fn no_sysfs_is_a_warning() {
        let tree = Tree::new(&[]);
        let d = crate::sources::discover(&tree.host(), &["network".to_string()]);
        assert!(d.features.instances.is_empty());
        assert_eq!(d.warnings.len(), 1);
    }
}
