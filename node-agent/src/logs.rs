//! Container logs: a file per container run in the pod's runtime directory (tmpfs, removed
//! with the pod), which the container writes through stdout and stderr of its own, so a
//! running container holds no descriptor of podlab's; and memory files (memfd) for short-lived
//! output (an `exec`'s). Nothing survives podlab: a file goes when its run's log is dropped
//! (the run after the next has started, or the pod is gone), and the runtime directory of a
//! podlab that was killed is removed by the next one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;

/// One container run's stdout+stderr.
#[derive(Clone)]
pub struct LogFile {
    backing: Arc<Backing>,
}

enum Backing {
    /// An anonymous memory file, held open.
    Memory(OwnedFd),
    /// A file, opened only to write a child's stdio and to read; removed when dropped.
    File(PathBuf),
}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Backing::File(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl LogFile {
    /// A fresh, empty log in memory named `name` (the name is only for `/proc/*/fd`); it holds
    /// a descriptor as long as it lives.
    pub fn new(name: &str) -> io::Result<Self> {
        let cname = std::ffi::CString::new(name.replace('\0', "")).unwrap_or_default();
        // SAFETY: valid C string; the kernel returns a new fd or -1.
        let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LogFile {
            // SAFETY: a fresh fd from the kernel, owned by nothing else.
            backing: Arc::new(Backing::Memory(unsafe { OwnedFd::from_raw_fd(fd) })),
        })
    }

    /// A fresh, empty log file at `path` (only its owner may read it), removed when the last
    /// clone of this log is dropped. Holds no descriptor.
    pub fn create(path: PathBuf) -> io::Result<Self> {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        Ok(LogFile {
            backing: Arc::new(Backing::File(path)),
        })
    }

    /// A descriptor for a child's stdout/stderr (opened in append mode, so both streams
    /// interleave instead of overwriting each other). Close it once the child has it.
    pub fn writer(&self) -> io::Result<OwnedFd> {
        let path = match &*self.backing {
            Backing::Memory(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            Backing::File(p) => p.clone(),
        };
        let f = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(OwnedFd::from(f))
    }

    /// Everything written so far.
    pub fn read_all(&self) -> String {
        self.read_from(0).0
    }

    /// Bytes from `offset` on, and the new offset (for `logs -f`).
    pub fn read_from(&self, offset: u64) -> (String, u64) {
        let file = match &*self.backing {
            Backing::Memory(fd) => fd.try_clone().map(std::fs::File::from),
            Backing::File(p) => std::fs::File::open(p),
        };
        let mut out = Vec::new();
        let mut off = offset;
        if let Ok(file) = file {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match file.read_at(&mut buf, off) {
                    Ok(0) => break,
                    Ok(n) => {
                        out.extend_from_slice(&buf[..n]);
                        off += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        (String::from_utf8_lossy(&out).into_owned(), off)
    }
}
