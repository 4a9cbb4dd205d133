//! `cpu.cpuid`, `cpu.model`, `cpu.cstate`, `cpu.pstate`, `cpu.rdt`,
//! `cpu.security`, `cpu.sst`, `cpu.topology`, `cpu.coprocessor`.

use std::collections::{BTreeMap, BTreeSet};

use super::cpuid::{self, Cpu};
use super::{Host, Sink, go_bool, map};

pub fn discover(host: &Host, sink: &mut Sink) {
    let cpu = cpuid::detect();
    if cpu.is_none() {
        sink.warn("CPUID flags are only read on x86_64 in this version");
    }
    discover_with(host, cpu.as_ref(), sink);
}

/// Discovery with a given CPU (tests pass a recorded one).
pub fn discover_with(host: &Host, cpu: Option<&Cpu>, sink: &mut Sink) {
    let empty = Cpu::default();
    let cpu = cpu.unwrap_or(&empty);
    let mut flags: Vec<String> = cpu.flags.iter().map(|f| f.to_string()).collect();
    let level = cpuid::x64_level(&cpu.flags);
    flags.extend((1..=level).map(|l| format!("X86_64_V{l}")));
    sink.flags("cpu.cpuid", flags);
    let mut attrs = BTreeMap::new();
    if cpu.avx10_level > 0 {
        attrs.insert("AVX10_VERSION".to_string(), cpu.avx10_level.to_string());
    }
    sink.attributes("cpu.cpuid", attrs);
    let mut model = map([
        ("vendor_id", cpu.vendor.clone()),
        ("family", cpu.family.to_string()),
        ("id", cpu.model.to_string()),
    ]);
    model.insert(
        "hypervisor".into(),
        cpu.hypervisor.clone().unwrap_or_else(|| "none".into()),
    );
    sink.attributes("cpu.model", model);
    match cstate(host) {
        Ok(c) => sink.attributes("cpu.cstate", c),
        Err(e) => sink.warn(format!("cstate: {e}")),
    }
    match pstate(host) {
        Ok(p) => sink.attributes("cpu.pstate", p),
        Err(e) => {
            sink.warn(format!("pstate: {e}"));
            sink.attributes("cpu.pstate", BTreeMap::new());
        }
    }
    sink.attributes("cpu.rdt", rdt(host, cpu));
    sink.attributes("cpu.security", security(host, cpu));
    match sst(host, cpu) {
        Ok(s) => sink.attributes("cpu.sst", s),
        Err(e) => {
            sink.warn(format!("SST-BF: {e}"));
            sink.attributes("cpu.sst", BTreeMap::new());
        }
    }
    match topology(host) {
        Ok(t) => sink.attributes("cpu.topology", t),
        Err(e) => {
            sink.warn(format!("topology: {e}"));
            sink.attributes("cpu.topology", BTreeMap::new());
        }
    }
    let mut coprocessor = BTreeMap::new();
    if let Ok(v) = host.read_trim("/sys/devices/vio/ibm,compression-v1/nx_gzip_caps") {
        coprocessor.insert("nx_gzip".to_string(), go_bool(!v.is_empty()));
    }
    sink.attributes("cpu.coprocessor", coprocessor);
}

fn cstate(host: &Host) -> Result<BTreeMap<String, String>, String> {
    let base = "/sys/devices/system/cpu";
    if !host.exists(base) {
        return Err(format!("{base} does not exist"));
    }
    if !host.exists(&format!("{base}/cpuidle")) {
        return Ok(BTreeMap::new());
    }
    let driver = host
        .read_trim(&format!("{base}/cpuidle/current_driver"))
        .map_err(|e| format!("cpuidle driver: {e}"))?;
    if driver != "intel_idle" {
        return Ok(BTreeMap::new());
    }
    let max = host
        .read_trim("/sys/module/intel_idle/parameters/max_cstate")
        .map_err(|e| format!("max_cstate: {e}"))?;
    let n: i64 = max
        .parse()
        .map_err(|_| format!("non-integer max_cstate {max:?}"))?;
    Ok(map([("enabled", go_bool(n > 0))]))
}

fn pstate(host: &Host) -> Result<BTreeMap<String, String>, String> {
    let base = "/sys/devices/system/cpu";
    if !host.exists(base) {
        return Err(format!("{base} does not exist"));
    }
    let dir = format!("{base}/intel_pstate");
    if !host.exists(&dir) {
        return Ok(BTreeMap::new());
    }
    let status = host
        .read_trim(&format!("{dir}/status"))
        .map_err(|e| e.to_string())?;
    if status == "off" {
        return Ok(BTreeMap::new());
    }
    let mut out = map([("status", status.clone())]);
    if let Ok(no_turbo) = host.read(&format!("{dir}/no_turbo")) {
        out.insert("turbo".into(), go_bool(no_turbo.starts_with('0')));
    }
    if status != "active" {
        return Ok(out);
    }
    let Ok(policies) = host.list(&format!("{base}/cpufreq")) else {
        return Ok(out);
    };
    let mut governor: Option<String> = None;
    for p in policies {
        let cpus = host
            .read_trim(&format!("{base}/cpufreq/{p}/affected_cpus"))
            .unwrap_or_default();
        if cpus.is_empty() {
            continue;
        }
        let Ok(g) = host.read_trim(&format!("{base}/cpufreq/{p}/scaling_governor")) else {
            continue;
        };
        match &governor {
            Some(prev) if *prev != g => {
                governor = None;
                break;
            }
            _ => governor = Some(g),
        }
    }
    if let Some(g) = governor.filter(|g| !g.is_empty()) {
        out.insert("scaling_governor".into(), g);
    }
    Ok(out)
}

fn rdt(host: &Host, cpu: &Cpu) -> BTreeMap<String, String> {
    let [b7, mon, l3mon, alloc] = cpu.rdt;
    let bit = |r: u32, n: u32| r & (1 << n) != 0;
    let mut out = BTreeMap::new();
    let mut yes = |k: &str| {
        out.insert(k.to_string(), "true".to_string());
    };
    if bit(b7, 12) && bit(mon, 1) {
        yes("RDTMON");
        if bit(l3mon, 0) {
            yes("RDTCMT");
        }
        if bit(l3mon, 1) && bit(l3mon, 2) {
            yes("RDTMBM");
        }
    }
    if bit(b7, 15) {
        if bit(alloc, 1) {
            yes("RDTL3CA");
            // resctrl mounted at its usual place.
            if let Ok(n) = host
                .read_trim("/sys/fs/resctrl/info/L3/num_closids")
                .map(|s| s.parse::<i64>())
                && let Ok(n) = n
            {
                out.insert("RDTL3CA_NUM_CLOSID".into(), (n - 1).to_string());
            }
        }
        if bit(alloc, 2) {
            out.insert("RDTL2CA".into(), "true".into());
        }
        if bit(alloc, 3) {
            out.insert("RDTMBA".into(), "true".into());
        }
    }
    out
}

fn misc_capacity(host: &Host, resource: &str) -> Option<i64> {
    for path in [
        "/sys/fs/cgroup/misc.capacity",
        "/sys/fs/cgroup/misc/misc.capacity",
    ] {
        if let Ok(text) = host.read(path) {
            return text
                .lines()
                .find(|l| l.starts_with(resource))
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|v| v.parse().ok());
        }
    }
    None
}

fn security(host: &Host, cpu: &Cpu) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        out.insert(k.to_string(), v);
    };
    if cpu.flags.contains("SGX") && cpu.sgx_epc > 0 {
        put("sgx.enabled", "true".into());
        put("sgx.epc", cpu.sgx_epc.to_string());
    }
    if host
        .read("/sys/module/kvm_intel/parameters/tdx")
        .is_ok_and(|c| c == "Y\n")
    {
        put("tdx.enabled", "true".into());
        if let Some(n) = misc_capacity(host, "tdx") {
            put("tdx.total_keys", n.to_string());
        }
    }
    if cpu.flags.contains("TDX_GUEST") {
        put("tdx.protected", "true".into());
    }
    let sev = |p: &str| {
        host.read_bytes(&format!("/sys/module/kvm_amd/parameters/{p}"), 64)
            .is_ok_and(|c| matches!(c.first(), Some(b'1' | b'Y')))
    };
    if sev("sev") {
        put("sev.enabled", "true".into());
        if let Some(n) = misc_capacity(host, "sev") {
            put("sev.asids", n.to_string());
        }
    }
    if sev("sev_es") {
        put("sev.es.enabled", "true".into());
        if let Some(n) = misc_capacity(host, "sev_es") {
            put("sev.encrypted_state_ids", n.to_string());
        }
    }
    if sev("sev_snp") {
        put("sev.snp.enabled", "true".into());
    }
    out
}

fn sst(host: &Host, cpu: &Cpu) -> Result<BTreeMap<String, String>, String> {
    let cpus = host
        .list("/sys/bus/cpu/devices")
        .map_err(|e| format!("/sys/bus/cpu/devices: {e}"))?;
    for c in cpus {
        let Ok(text) = host.read_trim(&format!("/sys/bus/cpu/devices/{c}/cpufreq/base_frequency"))
        else {
            continue;
        };
        let khz: i64 = text
            .parse()
            .map_err(|_| format!("non-integer base_frequency {text:?}"))?;
        if cpu.base_mhz == 0 {
            return Err("nominal base frequency info is missing".into());
        }
        if khz / 1000 > i64::from(cpu.base_mhz) {
            return Ok(map([("bf.enabled", "true")]));
        }
    }
    Ok(BTreeMap::new())
}

fn topology(host: &Host) -> Result<BTreeMap<String, String>, String> {
    let cpus = host
        .list("/sys/bus/cpu/devices")
        .map_err(|e| format!("/sys/bus/cpu/devices: {e}"))?;
    let mut ht = false;
    let mut packages = BTreeSet::new();
    for c in cpus {
        let dir = format!("/sys/bus/cpu/devices/{c}/topology");
        let siblings = host
            .read(&format!("{dir}/thread_siblings_list"))
            .map_err(|e| format!("{c}: {e}"))?;
        ht |= siblings.contains([',', '-']);
        let package = host
            .read_trim(&format!("{dir}/physical_package_id"))
            .map_err(|e| format!("{c}: {e}"))?;
        packages.insert(package);
    }
    Ok(map([
        ("hardware_multithreading", go_bool(ht)),
        ("socket_count", packages.len().to_string()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{Discovery, fixture::Tree};

    fn run(tree: &Tree, cpu: &Cpu) -> Discovery {
        let mut out = Discovery::default();
        let mut sink = Sink {
            source: "cpu",
            out: &mut out,
            needed: &std::sync::OnceLock::new(),
            coming: false,
        };
        discover_with(&tree.host(), Some(cpu), &mut sink);
        out
    }

    #[test]
    fn sysfs_attributes() {
        let tree = Tree::new(&[
            (
                "/sys/devices/system/cpu/cpuidle/current_driver",
                "intel_idle\n",
            ),
            ("/sys/module/intel_idle/parameters/max_cstate", "9\n"),
            ("/sys/devices/system/cpu/intel_pstate/status", "active\n"),
            ("/sys/devices/system/cpu/intel_pstate/no_turbo", "0\n"),
            (
                "/sys/devices/system/cpu/cpufreq/policy0/affected_cpus",
                "0\n",
            ),
            (
                "/sys/devices/system/cpu/cpufreq/policy0/scaling_governor",
                "performance\n",
            ),
            (
                "/sys/devices/system/cpu/cpufreq/policy1/affected_cpus",
                "1\n",
            ),
            (
                "/sys/devices/system/cpu/cpufreq/policy1/scaling_governor",
                "performance\n",
            ),
            (
                "/sys/bus/cpu/devices/cpu0/topology/thread_siblings_list",
                "0,2\n",
            ),
            (
                "/sys/bus/cpu/devices/cpu0/topology/physical_package_id",
                "0\n",
            ),
            (
                "/sys/bus/cpu/devices/cpu0/cpufreq/base_frequency",
                "2700000\n",
            ),
            (
                "/sys/bus/cpu/devices/cpu1/topology/thread_siblings_list",
                "1,3\n",
            ),
            (
                "/sys/bus/cpu/devices/cpu1/topology/physical_package_id",
                "1\n",
            ),
            ("/sys/module/kvm_amd/parameters/sev", "Y\n"),
            ("/sys/fs/cgroup/misc.capacity", "sev 509\nsev_es 10\n"),
        ]);
        let cpu = Cpu {
            vendor: "Intel".into(),
            family: 6,
            model: 143,
            flags: ["SSE2", "AVX"].into_iter().collect(),
            rdt: [1 << 12 | 1 << 15, 1 << 1, 0b111, 0b1110],
            base_mhz: 2100,
            ..Default::default()
        };
        let d = run(&tree, &cpu);
        let a = |n: &str| d.features.attributes[n].elements.clone();
        assert_eq!(a("cpu.cstate"), map([("enabled", "true")]));
        assert_eq!(
            a("cpu.pstate"),
            map([
                ("status", "active"),
                ("turbo", "true"),
                ("scaling_governor", "performance")
            ])
        );
        assert_eq!(
            a("cpu.topology"),
            map([("hardware_multithreading", "true"), ("socket_count", "2")])
        );
        assert_eq!(a("cpu.sst"), map([("bf.enabled", "true")]));
        assert_eq!(
            a("cpu.security"),
            map([("sev.enabled", "true"), ("sev.asids", "509")])
        );
        assert_eq!(
            a("cpu.rdt"),
            map([
                ("RDTMON", "true"),
                ("RDTCMT", "true"),
                ("RDTMBM", "true"),
                ("RDTL3CA", "true"),
                ("RDTL2CA", "true"),
                ("RDTMBA", "true")
            ])
        );
        assert_eq!(
            a("cpu.model"),
            map([
                ("vendor_id", "Intel"),
                ("family", "6"),
                ("id", "143"),
                ("hypervisor", "none")
            ])
        );
        assert!(d.features.flags["cpu.cpuid"].elements.contains_key("AVX"));
        assert!(a("cpu.cpuid").is_empty());
    }

    #[test]
    fn missing_sysfs_warns() {
        let tree = Tree::new(&[]);
        let d = run(&tree, &Cpu::default());
        assert!(!d.features.attributes.contains_key("cpu.cstate"));
        assert!(d.features.attributes["cpu.pstate"].elements.is_empty());
        assert!(d.warnings.len() >= 3, "{:?}", d.warnings);
    }
}
