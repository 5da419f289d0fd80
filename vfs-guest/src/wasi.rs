//! WASI preview 1 constants and struct layouts, as the guest sees them.

/// A preview 1 error number (`errno`): a type of its own, never mixed up with flag values. Every
/// call of the VFS returns `Result<_, Errno>` internally; [`Errno::code`] is what the application
/// receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(u16);

impl Errno {
    /// The errno value `raw` as the host answered it (a host call's non-zero return value).
    pub const fn from_raw(raw: u16) -> Errno {
        Errno(raw)
    }

    /// The number as the preview 1 ABI returns it.
    pub const fn code(self) -> i32 {
        self.0 as i32
    }

    /// A host call's return value as a result: 0 is success, anything else its errno.
    pub fn check(ret: i32) -> Result<(), Errno> {
        if ret == SUCCESS {
            Ok(())
        } else {
            Err(Errno(ret as u16))
        }
    }

    /// The return value of a call that ended with `r`.
    pub fn ret(r: Result<(), Errno>) -> i32 {
        match r {
            Ok(()) => SUCCESS,
            Err(e) => e.code(),
        }
    }
}

/// No error (the return value of a successful call).
pub const SUCCESS: i32 = 0;
/// Permission denied.
pub const EACCES: Errno = Errno(2);
/// Resource unavailable, try again.
pub const EAGAIN: Errno = Errno(6);
/// Device or resource busy.
pub const EBUSY: Errno = Errno(10);
/// Bad file descriptor.
pub const EBADF: Errno = Errno(8);
/// File exists.
pub const EEXIST: Errno = Errno(20);
/// Bad address.
pub const EFAULT: Errno = Errno(21);
/// File too large.
pub const EFBIG: Errno = Errno(22);
/// Illegal byte sequence.
pub const EILSEQ: Errno = Errno(25);
/// Invalid argument.
pub const EINVAL: Errno = Errno(28);
/// I/O error.
pub const EIO: Errno = Errno(29);
/// Is a directory.
pub const EISDIR: Errno = Errno(31);
/// Too many levels of symbolic links.
pub const ELOOP: Errno = Errno(32);
/// Too many links.
pub const EMLINK: Errno = Errno(34);
/// Too many open files.
pub const EMFILE: Errno = Errno(33);
/// Filename too long.
pub const ENAMETOOLONG: Errno = Errno(37);
/// No such file or directory.
pub const ENOENT: Errno = Errno(44);
/// Not enough space.
pub const ENOMEM: Errno = Errno(48);
/// Function not supported.
pub const ENOSYS: Errno = Errno(wasivfs_abi::ENOSYS);
/// No space left on device.
pub const ENOSPC: Errno = Errno(51);
/// Not a directory.
pub const ENOTDIR: Errno = Errno(54);
/// Directory not empty.
pub const ENOTEMPTY: Errno = Errno(55);
/// Not a socket.
pub const ENOTSOCK: Errno = Errno(57);
/// Not supported.
pub const ENOTSUP: Errno = Errno(58);
/// Value too large to be stored in data type.
pub const EOVERFLOW: Errno = Errno(61);
/// Operation not permitted.
pub const EPERM: Errno = Errno(63);
/// Read-only file system.
pub const EROFS: Errno = Errno(69);
/// Invalid seek.
pub const ESPIPE: Errno = Errno(70);
/// Cross-device link.
pub const EXDEV: Errno = Errno(75);
/// Capabilities insufficient.
pub const ENOTCAPABLE: Errno = Errno(76);

/// `filetype` values.
pub mod filetype {
    /// Unknown.
    pub const UNKNOWN: u8 = 0;
    /// A directory.
    pub const DIRECTORY: u8 = 3;
    /// A regular file.
    pub const REGULAR_FILE: u8 = 4;
    /// A symbolic link.
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `whence` values for `fd_seek`.
pub mod whence {
    /// From the start.
    pub const SET: u8 = 0;
    /// From the current position.
    pub const CUR: u8 = 1;
    /// From the end.
    pub const END: u8 = 2;
}

/// `fdflags` bits.
pub mod fdflags {
    /// Append mode.
    pub const APPEND: u16 = 1 << 0;
    /// Synchronized data writes.
    pub const DSYNC: u16 = 1 << 1;
    /// Non-blocking mode.
    pub const NONBLOCK: u16 = 1 << 2;
    /// Synchronized reads.
    pub const RSYNC: u16 = 1 << 3;
    /// Synchronized writes.
    pub const SYNC: u16 = 1 << 4;
}

/// `oflags` bits for `path_open`.
pub mod oflags {
    /// Create the file if it does not exist.
    pub const CREAT: u16 = 1 << 0;
    /// Fail if not a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// Fail if it already exists.
    pub const EXCL: u16 = 1 << 2;
    /// Truncate to size 0.
    pub const TRUNC: u16 = 1 << 3;
}

/// `lookupflags` bits.
pub mod lookupflags {
    /// Follow a symlink in the last path component.
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
}

/// `fstflags` bits for the set-times calls.
pub mod fstflags {
    /// Set the access time to the given value.
    pub const ATIM: u16 = 1 << 0;
    /// Set the access time to now.
    pub const ATIM_NOW: u16 = 1 << 1;
    /// Set the modification time to the given value.
    pub const MTIM: u16 = 1 << 2;
    /// Set the modification time to now.
    pub const MTIM_NOW: u16 = 1 << 3;
}

/// `rights` bits.
pub mod rights {
    /// `fd_datasync`.
    pub const FD_DATASYNC: u64 = 1 << 0;
    /// `fd_read`.
    pub const FD_READ: u64 = 1 << 1;
    /// `fd_seek`.
    pub const FD_SEEK: u64 = 1 << 2;
    /// `fd_fdstat_set_flags`.
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    /// `fd_sync`.
    pub const FD_SYNC: u64 = 1 << 4;
    /// `fd_tell`.
    pub const FD_TELL: u64 = 1 << 5;
    /// `fd_write`.
    pub const FD_WRITE: u64 = 1 << 6;
    /// `fd_advise`.
    pub const FD_ADVISE: u64 = 1 << 7;
    /// `fd_allocate`.
    pub const FD_ALLOCATE: u64 = 1 << 8;
    /// `path_create_directory`.
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    /// `path_open` with `CREAT`.
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    /// `path_link` source.
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    /// `path_link` target.
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    /// `path_open`.
    pub const PATH_OPEN: u64 = 1 << 13;
    /// `fd_readdir`.
    pub const FD_READDIR: u64 = 1 << 14;
    /// `path_readlink`.
    pub const PATH_READLINK: u64 = 1 << 15;
    /// `path_rename` source.
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    /// `path_rename` target.
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    /// `path_filestat_get`.
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    /// `path_filestat_set_size`.
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    /// `path_filestat_set_times`.
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    /// `fd_filestat_get`.
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    /// `fd_filestat_set_size`.
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    /// `fd_filestat_set_times`.
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    /// `path_symlink`.
    pub const PATH_SYMLINK: u64 = 1 << 24;
    /// `path_remove_directory`.
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    /// `path_unlink_file`.
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    /// `poll_oneoff` on an fd.
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    /// `sock_shutdown`.
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    /// `sock_accept`.
    pub const SOCK_ACCEPT: u64 = 1 << 29;
    /// Every right.
    pub const ALL: u64 = (1 << 30) - 1;
}

/// `eventtype` values.
pub mod eventtype {
    /// A clock subscription.
    pub const CLOCK: u8 = 0;
    /// Readable fd.
    pub const FD_READ: u8 = 1;
    /// Writable fd.
    pub const FD_WRITE: u8 = 2;
}

/// Size of `fdstat`: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16.
pub const FDSTAT_SIZE: u32 = 24;
/// Size of `filestat`: dev @0, ino @8, filetype u8 @16, nlink @24, size @32, atim @40, mtim @48,
/// ctim @56.
pub const FILESTAT_SIZE: u32 = 64;
/// Size of `prestat`: tag u8 @0 (0 = directory), name length u32 @4.
pub const PRESTAT_SIZE: u32 = 8;
/// Size of a `dirent` header: next u64 @0, ino u64 @8, namlen u32 @16, type u8 @20.
pub const DIRENT_SIZE: u32 = 24;
/// Size of an `iovec`/`ciovec`: buf u32 @0, len u32 @4.
pub const IOVEC_SIZE: u32 = 8;
/// Size of a `subscription`: userdata u64 @0, tag u8 @8, fd u32 @16 (fd events) or clock fields.
pub const SUBSCRIPTION_SIZE: u32 = 48;
/// Offset of the fd in an fd_read/fd_write subscription.
pub const SUBSCRIPTION_FD_OFFSET: u32 = 16;
/// Size of an `event`: userdata u64 @0, error u16 @8, type u8 @10, nbytes u64 @16, flags u16 @24.
pub const EVENT_SIZE: u32 = 32;

/// Bytes in one `filestat`, encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filestat {
    /// Device id.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// File type.
    pub filetype: u8,
    /// Number of hard links.
    pub nlink: u64,
    /// Size in bytes.
    pub size: u64,
    /// Access time.
    pub atim: u64,
    /// Modification time.
    pub mtim: u64,
    /// Status change time.
    pub ctim: u64,
}

impl Filestat {
    /// The 64 little-endian bytes the application receives.
    pub fn encode(&self) -> [u8; FILESTAT_SIZE as usize] {
        let mut b = [0u8; FILESTAT_SIZE as usize];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }

    /// The `filestat` [`Filestat::encode`] wrote.
    pub fn decode(b: &[u8; FILESTAT_SIZE as usize]) -> Filestat {
        let u64_at = |o: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(x)
        };
        Filestat {
            dev: u64_at(0),
            ino: u64_at(8),
            filetype: b[16],
            nlink: u64_at(24),
            size: u64_at(32),
            atim: u64_at(40),
            mtim: u64_at(48),
            ctim: u64_at(56),
        }
    }
}

/// One `fdstat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fdstat {
    /// File type.
    pub filetype: u8,
    /// `fdflags`.
    pub flags: u16,
    /// Base rights.
    pub rights_base: u64,
    /// Inheriting rights.
    pub rights_inheriting: u64,
}

impl Fdstat {
    /// The 24 little-endian bytes the application receives.
    pub fn encode(&self) -> [u8; FDSTAT_SIZE as usize] {
        let mut b = [0u8; FDSTAT_SIZE as usize];
        b[0] = self.filetype;
        b[2..4].copy_from_slice(&self.flags.to_le_bytes());
        b[8..16].copy_from_slice(&self.rights_base.to_le_bytes());
        b[16..24].copy_from_slice(&self.rights_inheriting.to_le_bytes());
        b
    }
}

/// Encodes a `dirent` header.
pub fn encode_dirent(next: u64, ino: u64, namlen: u32, filetype: u8) -> [u8; DIRENT_SIZE as usize] {
    let mut b = [0u8; DIRENT_SIZE as usize];
    b[0..8].copy_from_slice(&next.to_le_bytes());
    b[8..16].copy_from_slice(&ino.to_le_bytes());
    b[16..20].copy_from_slice(&namlen.to_le_bytes());
    b[20] = filetype;
    b
}
