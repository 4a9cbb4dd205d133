//! `usb.device`: class, vendor, device and serial of every USB device; a
//! device of class `00` gives one instance per interface class instead.

use super::{Host, Sink};
use crate::features::Instance;

pub fn discover(host: &Host, sink: &mut Sink) {
    let base = "/sys/bus/usb/devices";
    let devices = match host.list(base) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return sink.warn(format!("USB devices: {base}: {e}")),
    };
    let mut instances = Vec::new();
    for dev in devices {
        let dir = format!("{base}/{dev}");
        if !host.exists(&format!("{dir}/idProduct")) {
            continue;
        }
        let mut attrs = std::collections::BTreeMap::new();
        for (attr, file) in [
            ("class", "bDeviceClass"),
            ("vendor", "idVendor"),
            ("device", "idProduct"),
            ("serial", "serial"),
        ] {
            if let Ok(v) = host.read_trim(&format!("{dir}/{file}"))
                && !v.is_empty()
            {
                attrs.insert(attr.to_string(), v);
            }
        }
        if attrs.get("class").map(String::as_str) != Some("00") {
            instances.push(Instance { attributes: attrs });
            continue;
        }
        for sub in host.list(&dir).unwrap_or_default() {
            if let Ok(class) = host.read_trim(&format!("{dir}/{sub}/bInterfaceClass")) {
                let mut a = attrs.clone();
                a.insert("class".into(), class);
                instances.push(Instance { attributes: a });
            }
        }
    }
    sink.instances("usb.device", instances);
}

#[cfg(test)]
mod tests {
    use crate::sources::{fixture::Tree, map};

    #[test]
    fn usb_devices_and_interfaces() {
        let tree = Tree::new(&[
            ("/sys/bus/usb/devices/1-1/idProduct", "5678\n"),
            ("/sys/bus/usb/devices/1-1/idVendor", "1234\n"),
            ("/sys/bus/usb/devices/1-1/bDeviceClass", "e0\n"),
            ("/sys/bus/usb/devices/1-1/serial", "\n"),
            ("/sys/bus/usb/devices/2-1/idProduct", "0001\n"),
            ("/sys/bus/usb/devices/2-1/idVendor", "abcd\n"),
            ("/sys/bus/usb/devices/2-1/bDeviceClass", "00\n"),
            ("/sys/bus/usb/devices/2-1/2-1:1.0/bInterfaceClass", "03\n"),
            ("/sys/bus/usb/devices/2-1/2-1:1.1/bInterfaceClass", "08\n"),
            ("/sys/bus/usb/devices/2-1:1.0/bInterfaceClass", "03\n"),
        ]);
        let d = crate::sources::discover(&tree.host(), &["usb".to_string()]);
        let inst = &d.features.instances["usb.device"].elements;
        assert_eq!(
            inst[0].attributes,
            map([("class", "e0"), ("vendor", "1234"), ("device", "5678")])
        );
        assert_eq!(
            inst[1].attributes,
            map([("class", "03"), ("vendor", "abcd"), ("device", "0001")])
        );
        assert_eq!(inst[2].attributes["class"], "08");
        assert_eq!(inst.len(), 3);
    }
}
