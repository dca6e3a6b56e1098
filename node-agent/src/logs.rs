//! Container logs kept in memory files (memfd): nothing on disk, nothing survives podlab.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// One container run's stdout+stderr, in an anonymous memory file.
#[derive(Clone)]
pub struct LogFile {
    fd: Arc<OwnedFd>,
}

impl LogFile {
    /// A fresh, empty log named `name` (the name is only for `/proc/*/fd`).
    pub fn new(name: &str) -> io::Result<Self> {
        let cname = std::ffi::CString::new(name.replace('\0', "")).unwrap_or_default();
        // SAFETY: valid C string; the kernel returns a new fd or -1.
        let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LogFile {
            // SAFETY: a fresh fd from the kernel, owned by nothing else.
            fd: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
        })
    }

    /// A descriptor for a child's stdout/stderr (opened in append mode via /proc, so both
    /// streams interleave instead of overwriting each other).
    pub fn writer(&self) -> io::Result<OwnedFd> {
        let path = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        let f = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(OwnedFd::from(f))
    }

    /// Everything written so far.
    pub fn read_all(&self) -> String {
        self.read_from(0).0
    }

    /// Bytes from `offset` on, and the new offset (for `logs -f`).
    pub fn read_from(&self, offset: u64) -> (String, u64) {
        let mut out = Vec::new();
        let mut off = offset;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buffer valid for its length.
            let n = unsafe { libc::pread(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off as i64) };
            if n <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
            off += n as u64;
        }
        (String::from_utf8_lossy(&out).into_owned(), off)
    }
}
