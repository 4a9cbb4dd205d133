//! x86 CPUID decoding with the feature names NFD reports (those of
//! klauspost/cpuid v2.4.0, which NFD uses): vendor, family and model, the
//! hypervisor, every feature flag and the x86-64 micro-architecture levels.
//! OS support for AVX and AVX-512 state comes from std's detection, which
//! reads XCR0 as klauspost does.

use std::collections::BTreeSet;

/// What the CPU running this process reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cpu {
    /// klauspost's vendor name: `Intel`, `AMD`, … or `VendorUnknown`.
    pub vendor: String,
    pub family: u32,
    pub model: u32,
    /// `None` on bare metal; else the hypervisor name (`kvm`, `msvm`, …).
    pub hypervisor: Option<String>,
    pub flags: BTreeSet<&'static str>,
    pub avx10_level: u8,
    /// Total SGX EPC size in bytes.
    pub sgx_epc: u64,
    /// RDT leaves: 7.0 EBX, 0xF.0 EDX, 0xF.1 EDX, 0x10.0 EBX.
    pub rdt: [u32; 4],
    /// CPUID 0x16 EAX: nominal base frequency in MHz.
    pub base_mhz: u32,
}

const VENDORS: [(&str, &str); 24] = [
    ("AMDisbetter!", "AMD"),
    ("AuthenticAMD", "AMD"),
    ("CentaurHauls", "VIA"),
    ("GenuineIntel", "Intel"),
    ("TransmetaCPU", "Transmeta"),
    ("GenuineTMx86", "Transmeta"),
    ("Geode by NSC", "NSC"),
    ("VIA VIA VIA ", "VIA"),
    ("KVMKVMKVM", "KVM"),
    ("Linux KVM Hv", "KVM"),
    ("TCGTCGTCGTCG", "QEMU"),
    ("Microsoft Hv", "MSVM"),
    ("VMwareVMware", "VMware"),
    ("XenVMMXenVMM", "XenHVM"),
    ("bhyve bhyve ", "Bhyve"),
    ("HygonGenuine", "Hygon"),
    ("Vortex86 SoC", "SiS"),
    ("SiS SiS SiS ", "SiS"),
    ("RiseRiseRise", "SiS"),
    ("Genuine  RDC", "RDC"),
    ("QNXQVMBSQG", "QNX"),
    ("ACRNACRNACRN", "ACRN"),
    ("SRESRESRESRE", "SRE"),
    ("Apple VZ", "Apple"),
];

pub fn vendor_name(id: &str) -> Option<&'static str> {
    VENDORS.iter().find(|(s, _)| *s == id).map(|(_, v)| *v)
}

/// Registers as text, stopping at the first NUL byte.
pub fn registers_text(regs: &[u32]) -> String {
    let mut bytes = Vec::with_capacity(regs.len() * 4);
    for r in regs {
        for b in r.to_le_bytes() {
            if b == 0 {
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            bytes.push(b);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `hypervisor` as NFD names it: a known vendor lower-cased, else the raw
/// signature with runs outside `[-A-Za-z0-9_.]` replaced by `_`, else `unknown`.
pub fn hypervisor_name(signature: &str) -> String {
    if let Some(v) = vendor_name(signature) {
        return v.to_lowercase();
    }
    let mut out = String::new();
    let mut in_run = false;
    for c in signature.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    if out.is_empty() {
        "unknown".into()
    } else {
        out
    }
}

/// The x86-64 psABI level from the flags (0 when none applies).
pub fn x64_level(flags: &BTreeSet<&'static str>) -> u8 {
    const L1: &[&str] = &["CMOV", "CMPXCHG8", "X87", "FXSR", "MMX", "SSE", "SSE2"];
    const L2: &[&str] = &["CX16", "LAHF", "POPCNT", "SSE3", "SSE4", "SSE42", "SSSE3"];
    const L3: &[&str] = &[
        "AVX", "AVX2", "BMI1", "BMI2", "F16C", "FMA3", "LZCNT", "MOVBE", "OSXSAVE",
    ];
    const L4: &[&str] = &["AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL"];
    if !flags.contains("SYSEE") && !flags.contains("SYSCALL") {
        return 0;
    }
    let has = |set: &[&str]| set.iter().all(|f| flags.contains(f));
    match (has(L1), has(L2), has(L3), has(L4)) {
        (true, true, true, true) => 4,
        (true, true, true, false) => 3,
        (true, true, false, _) => 2,
        (true, false, _, _) => 1,
        _ => 0,
    }
}

#[cfg(target_arch = "x86_64")]
fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// The XCR0 register: which register states the OS saves on a context
/// switch. 0 when the OS has not enabled XSAVE (CPUID 1 ECX bit 27), the
/// one case where reading it would fault.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn xcr0() -> u64 {
    if cpuid(1, 0)[2] & (1 << 27) == 0 {
        return 0;
    }
    // SAFETY: OSXSAVE is set, so XGETBV is enabled and XCR0 readable.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

/// Read this CPU. `None` on architectures without CPUID.
///
/// The OS's AVX and AVX-512 support comes from XCR0 directly rather than
/// `is_x86_feature_detected!`, whose first use runs a dozen more CPUID
/// instructions — each one a trip to the hypervisor on a VM (about 6 µs
/// here), 60 µs in all.
#[cfg(target_arch = "x86_64")]
pub fn detect() -> Option<Cpu> {
    let (os_avx, os_avx512) = os_saves(xcr0());
    Some(decode(&cpuid, os_avx, os_avx512))
}

/// From XCR0: the OS saves YMM state (SSE and AVX bits 1–2), and ZMM state
/// (opmask, ZMM0–15 upper halves and ZMM16–31, bits 5–7) as well.
pub fn os_saves(xcr0: u64) -> (bool, bool) {
    let avx = xcr0 & 0b110 == 0b110;
    (avx, avx && xcr0 & 0b1110_0000 == 0b1110_0000)
}

#[cfg(not(target_arch = "x86_64"))]
pub fn detect() -> Option<Cpu> {
    None
}

/// Decode CPUID through `q` (a real or recorded CPU). `os_avx`: the OS saves
/// YMM state; `os_avx512`: it saves ZMM state too (XCR0 & 0xe6 == 0xe6, as
/// NFD's cpuid library checks).
pub fn decode(q: &dyn Fn(u32, u32) -> [u32; 4], os_avx: bool, os_avx512: bool) -> Cpu {
    let mut cpu = Cpu::default();
    let [max, b0, c0, d0] = q(0, 0);
    let vendor_id = registers_text(&[b0, d0, c0]);
    cpu.vendor = vendor_name(&vendor_id)
        .unwrap_or("VendorUnknown")
        .to_string();
    let max_ext = q(0x8000_0000, 0)[0];
    let mut f = BTreeSet::new();
    let bit = |r: u32, n: u32| r & (1 << n) != 0;
    if max < 1 {
        cpu.flags = f;
        return cpu;
    }
    let [eax1, ebx1, c, d] = q(1, 0);
    let mut family = (eax1 >> 8) & 0xf;
    let mut ext_model = family == 6;
    if family == 0xf {
        family += (eax1 >> 20) & 0xff;
        ext_model = true;
    }
    let mut model = (eax1 >> 4) & 0xf;
    if ext_model {
        model += (eax1 >> 12) & 0xf0;
    }
    cpu.family = family;
    cpu.model = model;
    let intel = cpu.vendor == "Intel";
    let amd = cpu.vendor == "AMD";
    let mut set = |cond: bool, name: &'static str| {
        if cond {
            f.insert(name);
        }
    };
    for (n, name) in [
        (0, "X87"),
        (8, "CMPXCHG8"),
        (11, "SYSEE"),
        (15, "CMOV"),
        (23, "MMX"),
        (24, "FXSR"),
        (25, "FXSROPT"),
        (25, "SSE"),
        (26, "SSE2"),
    ] {
        set(bit(d, n), name);
    }
    for (n, name) in [
        (0, "SSE3"),
        (5, "VMX"),
        (9, "SSSE3"),
        (19, "SSE4"),
        (20, "SSE42"),
        (25, "AESNI"),
        (1, "CLMUL"),
        (22, "MOVBE"),
        (23, "POPCNT"),
        (30, "RDRAND"),
        (31, "HYPERVISOR"),
        (29, "F16C"),
        (13, "CX16"),
        (26, "XSAVE"),
        (27, "OSXSAVE"),
    ] {
        set(bit(c, n), name);
    }
    if (intel || amd) && bit(d, 28) && max >= 4 {
        set(
            threads_per_core(q, max, max_ext, intel, family, ebx1, d) > 1,
            "HTT",
        );
    }
    let avx = bit(c, 26) && bit(c, 27) && bit(c, 28) && os_avx;
    set(avx, "AVX");
    if avx {
        set(intel && family == 6 && model < 60, "AVXSLOW");
        set(
            amd && (family < 23 || (family == 23 && model < 49)),
            "AVXSLOW",
        );
    }
    set(bit(c, 12) && bit(c, 27), "FMA3");
    if max >= 7 {
        let [_, b7, c7, d7] = q(7, 0);
        set(avx && bit(b7, 5), "AVX2");
        if bit(b7, 3) {
            set(true, "BMI1");
            set(bit(b7, 8), "BMI2");
        }
        for (n, name) in [
            (2, "SGX"),
            (4, "HLE"),
            (9, "ERMS"),
            (11, "RTM"),
            (14, "MPX"),
            (18, "RDSEED"),
            (19, "ADX"),
            (29, "SHA"),
        ] {
            set(bit(b7, n), name);
        }
        for (n, name) in [
            (5, "WAITPKG"),
            (7, "CETSS"),
            (8, "GFNI"),
            (9, "VAES"),
            (10, "VPCLMULQDQ"),
            (13, "TME"),
            (25, "CLDEMOTE"),
            (23, "KEYLOCKER"),
            (27, "MOVDIRI"),
            (28, "MOVDIR64B"),
            (29, "ENQCMD"),
            (30, "SGXLC"),
        ] {
            set(bit(c7, n), name);
        }
        for (n, name) in [
            (4, "FSRM"),
            (9, "SRBDS_CTRL"),
            (10, "MD_CLEAR"),
            (11, "RTM_ALWAYS_ABORT"),
            (14, "SERIALIZE"),
            (15, "HYBRID_CPU"),
            (16, "TSXLDTRK"),
            (18, "PCONFIG"),
            (20, "CETIBT"),
            (26, "IBPB"),
            (27, "STIBP"),
            (28, "FLUSH_L1D"),
            (29, "IA32_ARCH_CAP"),
            (30, "IA32_CORE_CAP"),
            (31, "SPEC_CTRL_SSBD"),
        ] {
            set(bit(d7, n), name);
        }
        let [a71, _, _, d71] = q(7, 1);
        set(avx && bit(a71, 4), "AVXVNNI");
        for (n, name) in [
            (1, "SM3_X86"),
            (2, "SM4_X86"),
            (7, "CMPCCXADD"),
            (10, "MOVSB_ZL"),
            (11, "STOSB_SHORT"),
            (12, "CMPSB_SCADBS_SHORT"),
            (17, "FRED"),
            (22, "HRESET"),
            (23, "AVXIFMA"),
            (26, "LAM"),
        ] {
            set(bit(a71, n), name);
        }
        for (n, name) in [
            (4, "AVXVNNIINT8"),
            (5, "AVXNECONVERT"),
            (6, "AMXTRANSPOSE"),
            (7, "AMXTF32"),
            (8, "AMXCOMPLEX"),
            (10, "AVXVNNIINT16"),
            (14, "PREFETCHI"),
            (19, "AVX10"),
            (21, "APX_F"),
        ] {
            set(bit(d71, n), name);
        }
        if bit(c, 26) && bit(c, 27) && os_avx && os_avx512 {
            for (n, name) in [
                (16, "AVX512F"),
                (17, "AVX512DQ"),
                (21, "AVX512IFMA"),
                (26, "AVX512PF"),
                (27, "AVX512ER"),
                (28, "AVX512CD"),
                (30, "AVX512BW"),
                (31, "AVX512VL"),
            ] {
                set(bit(b7, n), name);
            }
            for (n, name) in [
                (1, "AVX512VBMI"),
                (3, "AMXFP8"),
                (6, "AVX512VBMI2"),
                (11, "AVX512VNNI"),
                (12, "AVX512BITALG"),
                (14, "AVX512VPOPCNTDQ"),
            ] {
                set(bit(c7, n), name);
            }
            for (n, name) in [
                (8, "AVX512VP2INTERSECT"),
                (22, "AMXBF16"),
                (23, "AVX512FP16"),
                (24, "AMXTILE"),
                (25, "AMXINT8"),
            ] {
                set(bit(d7, n), name);
            }
            for (n, name) in [
                (5, "AVX512BF16"),
                (19, "WRMSRNS"),
                (21, "AMXFP16"),
                (27, "MSRLIST"),
            ] {
                set(bit(a71, n), name);
            }
        }
        let d72 = q(7, 2)[3];
        for (n, name) in [
            (0, "PSFD"),
            (1, "IDPRED_CTRL"),
            (2, "RRSBA_CTRL"),
            (4, "BHI_CTRL"),
            (5, "MCDT_NO"),
        ] {
            set(bit(d72, n), name);
        }
        if bit(b7, 2) {
            set(bit(q(0x12, 0)[0], 12), "SGXPQC");
        }
        if bit(c7, 23) && max >= 0x19 {
            set(q(0x19, 0)[1] & 5 == 5, "KEYLOCKERW");
        }
        if bit(d71, 19) && max >= 0x24 {
            let b24 = q(0x24, 0)[1];
            set(bit(b24, 16), "AVX10_128");
            set(bit(b24, 17), "AVX10_256");
            set(bit(b24, 18), "AVX10_512");
            cpu.avx10_level = b24 as u8;
        }
        cpu.rdt = [b7, q(0xf, 0)[3], q(0xf, 1)[3], q(0x10, 0)[1]];
        if bit(b7, 2) && max >= 0x12 {
            cpu.sgx_epc = sgx_epc(q);
        }
    }
    if max >= 0xd && bit(c, 26) {
        let a = q(0xd, 1)[0];
        for (n, name) in [
            (0, "XSAVEOPT"),
            (1, "XSAVEC"),
            (2, "XGETBV1"),
            (3, "XSAVES"),
        ] {
            set(bit(a, n), name);
        }
    }
    if max_ext >= 0x8000_0001 {
        let [_, _, ce, de] = q(0x8000_0001, 0);
        if bit(ce, 5) {
            set(true, "LZCNT");
            set(true, "POPCNT");
        }
        for (n, name) in [
            (0, "LAHF"),
            (2, "SVM"),
            (6, "SSE4A"),
            (10, "IBS"),
            (22, "TOPEXT"),
        ] {
            set(bit(ce, n), name);
        }
        for (n, name) in [
            (11, "SYSCALL"),
            (20, "NX"),
            (22, "MMXEXT"),
            (23, "MMX"),
            (24, "FXSR"),
            (25, "FXSROPT"),
            (27, "RDTSCP"),
            (30, "AMD3DNOWEXT"),
            (31, "AMD3DNOW"),
        ] {
            set(bit(de, n), name);
        }
        if avx {
            set(bit(ce, 11), "XOP");
            set(bit(ce, 16), "FMA4");
        }
    }
    if max_ext >= 0x8000_0007 {
        let [_, b, _, dd] = q(0x8000_0007, 0);
        for (n, name) in [(0, "MCAOVERFLOW"), (1, "SUCCOR"), (2, "HWA")] {
            set(bit(b, n), name);
        }
        set(bit(dd, 9), "CPBOOST");
    }
    if max_ext >= 0x8000_0008 {
        let b = q(0x8000_0008, 0)[1];
        for (n, name) in [
            (28, "PSFD"),
            (27, "CPPC"),
            (24, "SPEC_CTRL_SSBD"),
            (23, "PPIN"),
            (21, "TLB_FLUSH_NESTED"),
            (20, "EFER_LMSLE_UNS"),
            (19, "IBRS_PROVIDES_SMP"),
            (18, "IBRS_PREFERRED"),
            (17, "STIBP_ALWAYSON"),
            (15, "STIBP"),
            (14, "IBRS"),
            (13, "INT_WBINVD"),
            (12, "IBPB"),
            (9, "WBNOINVD"),
            (8, "MCOMMIT"),
            (4, "RDPRU"),
            (3, "INVLPGB"),
            (1, "MSRIRC"),
            (0, "CLZERO"),
        ] {
            set(bit(b, n), name);
        }
    }
    let svm = max_ext >= 0x8000_0001 && bit(q(0x8000_0001, 0)[2], 2);
    if svm && max_ext >= 0x8000_000a {
        let dd = q(0x8000_000a, 0)[3];
        for (n, name) in [
            (0, "SVMNP"),
            (1, "LBRVIRT"),
            (2, "SVML"),
            (3, "NRIPS"),
            (4, "TSCRATEMSR"),
            (5, "VMCBCLEAN"),
            (6, "SVMFBASID"),
            (7, "SVMDA"),
            (10, "SVMPF"),
            (12, "SVMPFT"),
        ] {
            set(bit(dd, n), name);
        }
    }
    if max_ext >= 0x8000_001a {
        let a = q(0x8000_001a, 0)[0];
        set(bit(a, 0), "FP128");
        set(bit(a, 1), "MOVU");
        set(bit(a, 2), "FP256");
    }
    let ibs = max_ext >= 0x8000_0001 && bit(q(0x8000_0001, 0)[2], 10);
    if max_ext >= 0x8000_001b && ibs {
        let a = q(0x8000_001b, 0)[0];
        for (n, name) in [
            (0, "IBSFFV"),
            (1, "IBSFETCHSAM"),
            (2, "IBSOPSAM"),
            (3, "IBSRDWROPCNT"),
            (4, "IBSOPCNT"),
            (5, "IBSBRNTRGT"),
            (6, "IBSOPCNTEXT"),
            (7, "IBSRIPINVALIDCHK"),
            (8, "IBS_OPFUSE"),
            (9, "IBS_FETCH_CTLX"),
            (10, "IBS_OPDATA4"),
            (11, "IBS_ZEN4"),
        ] {
            set(bit(a, n), name);
        }
    }
    if max_ext >= 0x8000_001f && amd {
        let a = q(0x8000_001f, 0)[0];
        for (n, name) in [
            (0, "SME"),
            (1, "SEV"),
            (2, "MSR_PAGEFLUSH"),
            (3, "SEV_ES"),
            (4, "SEV_SNP"),
            (5, "VMPL"),
            (10, "SME_COHERENT"),
            (11, "SEV_64BIT"),
            (12, "SEV_RESTRICTED"),
            (13, "SEV_ALTERNATIVE"),
            (14, "SEV_DEBUGSWAP"),
            (15, "IBS_PREVENTHOST"),
            (16, "VTE"),
            (24, "VMSA_REGPROT"),
        ] {
            set(bit(a, n), name);
        }
    }
    if max_ext >= 0x8000_0021 && amd {
        let [a, _, cc, _] = q(0x8000_0021, 0);
        for (n, name) in [
            (31, "SRSO_MSR_FIX"),
            (30, "SRSO_USER_KERNEL_NO"),
            (29, "SRSO_NO"),
            (28, "IBPB_BRTYPE"),
            (27, "SBPB"),
            (23, "AVX512BMM"),
            (5, "TSA_VERW_CLEAR"),
        ] {
            set(bit(a, n), name);
        }
        set(bit(cc, 1), "TSA_L1_NO");
        set(bit(cc, 2), "TSA_SQ_NO");
    }
    if amd {
        // Families before 19h and some 1Ah models are not affected by TSA
        // but do not say so in CPUID.
        let not_vulnerable =
            family < 0x19 || (family == 0x1a && (model <= 0x4f || (0x60..=0x7f).contains(&model)));
        set(not_vulnerable, "TSA_L1_NO");
        set(not_vulnerable, "TSA_SQ_NO");
    }
    if max >= 0x20 {
        set(q(0x4000_000c, 0)[1] == 0xbe3, "TDX_GUEST");
    }
    if max >= 0x21 {
        let [_, b, cc, dd] = q(0x21, 0);
        set(registers_text(&[b, dd, cc]) == "IntelTDX    ", "TDX_GUEST");
    }
    if f.contains("HYPERVISOR") {
        let [_, b, cc, dd] = q(0x4000_0000, 0);
        cpu.hypervisor = Some(hypervisor_name(&registers_text(&[b, cc, dd])));
    }
    if max >= 0x16 {
        cpu.base_mhz = q(0x16, 0)[0];
    }
    cpu.flags = f;
    cpu
}

fn threads_per_core(
    q: &dyn Fn(u32, u32) -> [u32; 4],
    max: u32,
    max_ext: u32,
    intel: bool,
    family: u32,
    ebx1: u32,
    d1: u32,
) -> u32 {
    if max < 0xb {
        if !intel {
            return 1;
        }
        let logical = (ebx1 >> 16) & 0xff;
        if d1 & (1 << 28) != 0 && logical > 1 {
            let cores = (q(4, 0)[0] >> 26) + 1;
            return logical / cores;
        }
        return 1;
    }
    let b = q(0xb, 0)[1] & 0xffff;
    if b == 0 {
        if !intel && d1 & (1 << 28) != 0 && family >= 23 {
            if max_ext >= 0x8000_001e {
                return ((q(0x8000_001e, 0)[1] >> 8) & 0xff) + 1;
            }
            return 2;
        }
        return 1;
    }
    b
}

/// Sum of the SGX EPC section sizes (CPUID 0x12, sub-leaves 2 and up).
fn sgx_epc(q: &dyn Fn(u32, u32) -> [u32; 4]) -> u64 {
    let mut total = 0u64;
    for sub in 2..2 + 8 {
        let [a, _, c, d] = q(0x12, sub);
        match a & 0xf {
            0 => break,
            1 => total += (u64::from(d & 0xfffff) << 32) + u64::from(c & 0xffff_f000),
            _ => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A recorded AMD EPYC guest (family 25) under KVM.
    fn epyc_kvm() -> HashMap<(u32, u32), [u32; 4]> {
        let mut m = HashMap::new();
        let text = |s: &str| -> [u32; 3] {
            let b = s.as_bytes();
            let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            [w(0), w(4), w(8)]
        };
        let v = text("AuthenticAMD");
        m.insert((0, 0), [0x10, v[0], v[2], v[1]]);
        // family 0xf + ext 0xa = 25, model 1; SSE3, SSSE3, FMA, CX16, SSE4.1/4.2, MOVBE, POPCNT, AES, XSAVE, OSXSAVE, AVX, F16C, RDRAND, hypervisor.
        m.insert((1, 0), [0x00a0_0f11, 0x0000_0800, 0xfef8_3203, 0x178b_fbff]);
        m.insert((7, 0), [0, 0x219c_07ab, 0x0040_069c, 0x0000_0010]);
        m.insert((0xd, 1), [0xf, 0, 0, 0]);
        m.insert((0x8000_0000, 0), [0x8000_0021, 0, 0, 0]);
        m.insert((0x8000_0001, 0), [0, 0, 0x0040_0361, 0x2fd3_fbff]);
        m.insert((0x8000_0008, 0), [0, 0x0100_f205, 0, 0]);
        m.insert(
            (0x4000_0000, 0),
            [
                0x4000_0001,
                u32::from_le_bytes(*b"KVMK"),
                u32::from_le_bytes(*b"VMKV"),
                u32::from_le_bytes([b'M', 0, 0, 0]),
            ],
        );
        m
    }

    #[test]
    fn xcr0_says_which_vector_states_the_os_saves() {
        assert_eq!(os_saves(0), (false, false));
        assert_eq!(os_saves(0b111), (true, false));
        assert_eq!(os_saves(0b1110_0111), (true, true));
        assert_eq!(os_saves(0b1110_0011), (false, false), "no YMM, no ZMM");
        // std's detection agrees on this machine (its avx512f also needs
        // the CPU to have it; the OS's ZMM support is what we read).
        #[cfg(target_arch = "x86_64")]
        {
            let (avx, zmm) = os_saves(xcr0());
            assert_eq!(avx, std::arch::is_x86_feature_detected!("avx"));
            assert!(zmm || !std::arch::is_x86_feature_detected!("avx512f"));
        }
    }

    #[test]
    fn decodes_a_recorded_cpu() {
        let regs = epyc_kvm();
        let q = |l: u32, s: u32| regs.get(&(l, s)).copied().unwrap_or_default();
        let cpu = decode(&q, true, false);
        assert_eq!(cpu.vendor, "AMD");
        assert_eq!((cpu.family, cpu.model), (25, 1));
        assert_eq!(cpu.hypervisor.as_deref(), Some("kvm"));
        for f in [
            "AVX",
            "AVX2",
            "FMA3",
            "BMI1",
            "BMI2",
            "SHA",
            "ADX",
            "VAES",
            "LZCNT",
            "SSE4A",
            "RDTSCP",
            "XSAVEOPT",
            "HYPERVISOR",
            "CLZERO",
            "IBPB",
        ] {
            assert!(cpu.flags.contains(f), "{f} missing from {:?}", cpu.flags);
        }
        assert!(!cpu.flags.contains("AVX512F"));
        assert!(
            !cpu.flags.contains("TSA_L1_NO"),
            "family 19h must report it itself"
        );
        assert_eq!(x64_level(&cpu.flags), 3);
        // Without OS support for YMM state there is no AVX, AVX2 or level 3.
        let cpu = decode(&q, false, false);
        assert!(!cpu.flags.contains("AVX") && !cpu.flags.contains("AVX2"));
        assert_eq!(x64_level(&cpu.flags), 2);
    }

    #[test]
    fn names() {
        assert_eq!(hypervisor_name("KVMKVMKVM"), "kvm");
        assert_eq!(hypervisor_name("Microsoft Hv"), "msvm");
        assert_eq!(hypervisor_name("ACME  VMM!"), "ACME_VMM_");
        assert_eq!(hypervisor_name(""), "unknown");
        assert_eq!(registers_text(&[u32::from_le_bytes(*b"ab\0c")]), "ab");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn this_cpu_has_baseline_features() {
        let cpu = detect().unwrap();
        assert!(
            cpu.flags.contains("SSE2") && cpu.flags.contains("CMOV"),
            "{:?}",
            cpu.flags
        );
        assert!(x64_level(&cpu.flags) >= 1);
        assert_ne!(cpu.vendor, "");
    }
}
