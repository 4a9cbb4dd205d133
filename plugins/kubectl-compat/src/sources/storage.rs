//! `storage.block`: queue attributes of every block device.

use super::{Host, Sink, map};
use crate::features::Instance;

pub fn discover(host: &Host, sink: &mut Sink) {
    let devices = match host.list("/sys/block") {
        Ok(d) => d,
        Err(e) => return sink.warn(format!("block devices: /sys/block: {e}")),
    };
    let instances = devices
        .iter()
        .map(|dev| {
            let mut attrs = map([("name", dev.as_str())]);
            for a in ["dax", "rotational", "nr_zones", "zoned"] {
                if let Ok(v) = host.read_trim(&format!("/sys/block/{dev}/queue/{a}")) {
                    attrs.insert(a.into(), v);
                }
            }
            Instance { attributes: attrs }
        })
        .collect();
    sink.instances("storage.block", instances);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixture::Tree;

    #[test]
    fn block_devices() {
        let tree = Tree::new(&[
            ("/sys/block/nvme0n1/queue/rotational", "0\n"),
            ("/sys/block/nvme0n1/queue/zoned", "none\n"),
            ("/sys/block/sda/queue/rotational", "1\n"),
        ]);
        let d = crate::sources::discover(&tree.host(), &["storage".to_string()]);
        let b = &d.features.instances["storage.block"].elements;
        assert_eq!(
            b[0].attributes,
            map([("name", "nvme0n1"), ("rotational", "0"), ("zoned", "none")])
        );
        assert_eq!(b[1].attributes, map([("name", "sda"), ("rotational", "1")]));
    }
}
