//! Reading a host's files under `--host-root` without ever leaving it.
//!
//! A mounted host tree (`/host` in a privileged pod, a captured tree on a
//! laptop) is data, and its symlinks are too: `/etc/os-release ->
//! /usr/lib/os-release` means the tree's own file, not this machine's. Every
//! path is therefore resolved one component at a time from a descriptor of
//! the root, as `openat2(RESOLVE_IN_ROOT)` does: absolute link targets and
//! `..` stop at the root, each step is relative to a directory already
//! opened (so a tree changed meanwhile cannot redirect a step outside), and
//! at most 40 links are followed. Only regular files are opened (a FIFO
//! would block, a device could act on open) and reads are capped.
//!
//! With the root `/` there is nothing to escape to, and paths are used as
//! they are; the file-type check and the cap still apply.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use kplug::limits::{Limit, Unit};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, openat, readlinkat, statat};

/// Any one file read from a host tree (`/proc/config.gz` counted inflated).
pub const HOST_FILE_BYTES: Limit = Limit {
    what: "of one host file",
    env: "KPLUG_MAX_HOST_FILE_BYTES",
    default: 16 << 20,
    unit: Unit::Bytes,
};

/// Links followed while resolving one path (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Why a path was not read, beyond what the OS says.
#[derive(Debug, thiserror::Error)]
pub enum HostFileError {
    #[error("not a regular file ({0}); skipped")]
    NotRegular(&'static str),
    #[error("{0}")]
    TooLarge(String),
}

impl HostFileError {
    fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The error inside `e`, if it is one of ours (to warn about it).
    pub fn of(e: &io::Error) -> Option<&HostFileError> {
        e.get_ref()?.downcast_ref()
    }
}

/// What a path is, once resolved inside the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// Only seen while resolving: every link is followed.
    Link,
    Other(&'static str),
}

fn kind_of(mode: u32) -> Kind {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Fifo => Kind::Other("a FIFO"),
        FileType::Socket => Kind::Other("a socket"),
        FileType::CharacterDevice => Kind::Other("a character device"),
        FileType::BlockDevice => Kind::Other("a block device"),
        FileType::Symlink => Kind::Link,
        FileType::Unknown => Kind::Other("an unknown kind of file"),
    }
}

/// A host tree: the real `/`, or a directory whose paths stay inside it.
#[derive(Debug)]
pub struct HostFs {
    root: PathBuf,
    /// `None` for `/`; the error of opening the root otherwise, kept to
    /// report on each read as a missing tree would be.
    fd: Option<Result<OwnedFd, io::ErrorKind>>,
}

impl HostFs {
    pub fn new(root: &Path) -> HostFs {
        let is_slash = std::fs::canonicalize(root).is_ok_and(|r| r == Path::new("/"));
        let fd = (!is_slash).then(|| {
            openat(
                rustix::fs::CWD,
                root,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io::Error::from(e).kind())
        });
        HostFs {
            root: root.to_path_buf(),
            fd,
        }
    }

    /// The file at `abs` (an absolute path inside the tree), at most `limit` bytes.
    pub fn read(&self, abs: &str, limit: u64) -> io::Result<Vec<u8>> {
        let file = match &self.fd {
            None => {
                use std::os::unix::fs::OpenOptionsExt;
                let path = Path::new(abs);
                let open = || {
                    std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32)
                        .open(path)
                };
                if abs.starts_with("/sys/") {
                    // sysfs holds no device nodes and its links stay inside
                    // it, so opening first has no device's side effects;
                    // the kind is checked on the open file, one path walk
                    // instead of two for each of a hundred attributes.
                    let file = open()?;
                    check_regular(kind_of(rustix::fs::fstat(&file)?.st_mode))?;
                    file
                } else {
                    // Elsewhere a path may be a device whose open does
                    // something (a watchdog, a tape): look before opening.
                    let meta = std::fs::metadata(path)?;
                    check_regular(kind_of(std::os::unix::fs::MetadataExt::mode(&meta)))?;
                    open()?
                }
            }
            Some(root) => {
                let root = root_fd(root)?;
                let (parent, name, kind) = self.walk(root, abs)?;
                check_regular(kind)?;
                let dir = parent.as_ref().map_or(root, |p| p.as_fd());
                let fd = openat(
                    dir,
                    name.as_str(),
                    OFlags::RDONLY
                        | OFlags::NOFOLLOW
                        | OFlags::NONBLOCK
                        | OFlags::NOCTTY
                        | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                // It may have changed since the walk looked at it.
                check_regular(kind_of(rustix::fs::fstat(&fd)?.st_mode))?;
                std::fs::File::from(fd)
            }
        };
        read_capped(file, limit, abs)
    }

    /// The entry names of the directory at `abs`, sorted.
    pub fn list(&self, abs: &str) -> io::Result<Vec<String>> {
        let mut names = match &self.fd {
            None => std::fs::read_dir(abs)?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<io::Result<Vec<_>>>()?,
            Some(root) => {
                let root = root_fd(root)?;
                let (parent, name, kind) = self.walk(root, abs)?;
                if kind != Kind::Dir {
                    return Err(io::ErrorKind::NotADirectory.into());
                }
                let dir = parent.as_ref().map_or(root, |p| p.as_fd());
                let fd = openat(
                    dir,
                    name.as_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let mut names = Vec::new();
                for entry in Dir::read_from(&fd)? {
                    let entry = entry?;
                    let n = entry.file_name().to_string_lossy();
                    if n != "." && n != ".." {
                        names.push(n.into_owned());
                    }
                }
                names
            }
        };
        names.sort();
        Ok(names)
    }

    /// What `abs` is, following links inside the tree.
    pub fn kind(&self, abs: &str) -> io::Result<Kind> {
        match &self.fd {
            None => Ok(kind_of(std::os::unix::fs::MetadataExt::mode(
                &std::fs::metadata(abs)?,
            ))),
            Some(root) => Ok(self.walk(root_fd(root)?, abs)?.2),
        }
    }

    /// Resolve `abs` inside the root: the directory holding the last
    /// component (`None`: the root itself), that component, and what it is.
    fn walk(&self, root: BorrowedFd<'_>, abs: &str) -> io::Result<(Option<OwnedFd>, String, Kind)> {
        let mut todo: VecDeque<String> = components(abs).collect();
        // Directories opened below the root, innermost last.
        let mut dirs: Vec<OwnedFd> = Vec::new();
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                dirs.pop();
                continue;
            }
            let at = dirs.last().map_or(root, |d| d.as_fd());
            let stat = statat(at, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            match kind_of(stat.st_mode) {
                Kind::Link => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::from_raw_os_error(
                            rustix::io::Errno::LOOP.raw_os_error(),
                        ));
                    }
                    let target = readlinkat(at, name.as_str(), Vec::new())?;
                    let target = target.to_string_lossy();
                    if target.starts_with('/') {
                        dirs.clear();
                    }
                    for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                        todo.push_front(c);
                    }
                }
                Kind::Dir if !todo.is_empty() => {
                    dirs.push(openat(
                        at,
                        name.as_str(),
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?);
                }
                _ if !todo.is_empty() => return Err(io::ErrorKind::NotADirectory.into()),
                kind => return Ok((dirs.pop(), name, kind)),
            }
        }
        // The path named a directory reached through `..` or the root itself.
        let parent = dirs.pop();
        Ok((parent, ".".to_string(), Kind::Dir))
    }

    /// `abs` as a path on this machine, for messages.
    pub fn display(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
}

fn root_fd(root: &Result<OwnedFd, io::ErrorKind>) -> io::Result<BorrowedFd<'_>> {
    root.as_ref()
        .map(|fd| fd.as_fd())
        .map_err(|&kind| kind.into())
}

fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

fn check_regular(kind: Kind) -> io::Result<()> {
    match kind {
        Kind::File => Ok(()),
        Kind::Dir => Err(io::ErrorKind::IsADirectory.into()),
        Kind::Link => Err(HostFileError::NotRegular("a symbolic link").into_io()),
        Kind::Other(what) => Err(HostFileError::NotRegular(what).into_io()),
    }
}

/// At most `limit` bytes from `reader`; more is an error naming the limit.
pub fn read_capped(reader: impl Read, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    read_capped_sized(reader, limit, 0, what)
}

/// [`read_capped`] into a buffer of `hint` bytes to start with.
pub fn read_capped_sized(
    reader: impl Read,
    limit: u64,
    hint: usize,
    what: &str,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(hint);
    reader.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(HostFileError::TooLarge(HOST_FILE_BYTES.exceeded(what)).into_io());
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("etc/sub")).unwrap();
        std::fs::create_dir_all(p.join("usr/lib")).unwrap();
        std::fs::write(p.join("usr/lib/os-release"), "ID=inside\n").unwrap();
        symlink("/usr/lib/os-release", p.join("etc/os-release")).unwrap();
        symlink("../../usr/lib/os-release", p.join("etc/sub/rel")).unwrap();
        symlink("/etc/hostname", p.join("etc/escape")).unwrap();
        symlink("../../../../../../../../etc/hostname", p.join("etc/dotdot")).unwrap();
        symlink("loop", p.join("etc/loop")).unwrap();
        symlink("/usr", p.join("usrlink")).unwrap();
        dir
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let dir = tree();
        let fs = HostFs::new(dir.path());
        let read = |p: &str| fs.read(p, 1 << 20).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(read("/etc/os-release").unwrap(), "ID=inside\n");
        assert_eq!(read("/etc/sub/rel").unwrap(), "ID=inside\n");
        assert_eq!(read("/usrlink/lib/os-release").unwrap(), "ID=inside\n");
        assert_eq!(
            read("/etc/sub/../../usr/lib/os-release").unwrap(),
            "ID=inside\n"
        );
        assert_eq!(read("/../../usr/lib/os-release").unwrap(), "ID=inside\n");
        // The machine's /etc/hostname is out of reach, absolute or through `..`.
        for p in ["/etc/escape", "/etc/dotdot"] {
            assert_eq!(read(p).unwrap_err().kind(), io::ErrorKind::NotFound, "{p}");
        }
        assert!(read("/etc/loop").is_err());
        assert_eq!(fs.list("/usrlink").unwrap(), ["lib"]);
        assert_eq!(fs.kind("/etc").unwrap(), Kind::Dir);
        assert_eq!(fs.kind("/").unwrap(), Kind::Dir);
        assert!(fs.kind("/etc/os-release/x").is_err());
    }

    #[test]
    fn sysfs_is_opened_first_and_still_only_files_are_read() {
        let fs = HostFs::new(Path::new("/"));
        if !Path::new("/sys/kernel").is_dir() {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped: no /sys/kernel here");
            return;
        }
        let e = fs.read("/sys/kernel", 1024).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::IsADirectory, "{e}");
        let e = fs.read("/sys/no/such/attribute", 1024).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    }

    #[test]
    fn special_files_are_refused_and_reads_capped() {
        let dir = tree();
        let p = dir.path();
        symlink("/dev/zero", p.join("zero")).unwrap();
        std::fs::write(p.join("big"), vec![b'x'; 5000]).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(p.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        let fs = HostFs::new(p);
        // /dev/zero inside the tree does not exist; the FIFO is not opened.
        assert_eq!(
            fs.read("/zero", 100).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let err = fs.read("/fifo", 100).unwrap_err();
        assert!(matches!(
            HostFileError::of(&err),
            Some(HostFileError::NotRegular("a FIFO"))
        ));
        let err = fs.read("/big", 100).unwrap_err();
        assert!(
            err.to_string().contains("KPLUG_MAX_HOST_FILE_BYTES"),
            "{err}"
        );
        assert_eq!(fs.read("/big", 5000).unwrap().len(), 5000);
        // With the root `/` a device is refused before it is opened.
        let slash = HostFs::new(Path::new("/"));
        let err = slash.read("/dev/zero", 100).unwrap_err();
        assert!(matches!(
            HostFileError::of(&err),
            Some(HostFileError::NotRegular("a character device"))
        ));
        assert!(slash.read("/proc/self/status", 1 << 20).is_ok());
    }
}
