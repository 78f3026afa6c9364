//! A FUSE filesystem that loses what was not fsynced when the power is cut, like Jepsen's LazyFS.
//!
//! [`LazyFs::mount`] serves an empty in-memory filesystem at a directory from a background
//! thread of the test process. Programs under test (RocksDB, renkei nodes in child processes)
//! use it like any local disk. Each regular file keeps two copies of its contents:
//!
//! - *current*: what reads see, changed by every write;
//! - *durable*: what survives a power cut, set to *current* by `fsync` and `fdatasync`.
//!
//! [`Faults::cut_power`] puts every file back to its durable contents, as a machine that lost
//! power and rebooted would find its disk. Only file **data** is lost: metadata operations
//! (create, mknod, mkdir, unlink, rmdir, rename including replacing a target, link, symlink,
//! setattr including truncation to a size) are durable as soon as they are answered. This is
//! data loss only, like LazyFS's default; a file created and written but never synced survives
//! a cut, empty.
//!
//! The kernel must not hide a cut behind its caches: every open is answered with
//! `FOPEN_DIRECT_IO` (reads and writes reach this filesystem, no page cache) and every entry
//! and attribute is given a time-to-live of zero (the kernel asks again for sizes and names).
//!
//! [`Faults`] also slows fsyncs, fails writes with an errno and makes the disk fill up.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem,
    FopenFlags, Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyLseek, ReplyOpen,
    ReplyStatfs, ReplyWrite, Request, SessionACL, TimeOrNow, WriteFlags,
};

/// Entries and attributes are never cached by the kernel: after a cut it must ask again.
const TTL: Duration = Duration::ZERO;
/// Block size reported by `getattr` and `statfs`.
const BLOCK_SIZE: u64 = 4096;
/// What `statfs` reports as the disk's size when no capacity is set (1 TiB).
const UNLIMITED_CAPACITY: u64 = 1 << 40;
/// Longest file name accepted (as ext4).
const NAME_MAX: usize = 255;
/// Every open and create is answered with direct I/O: no page cache in front of the contents.
const OPEN_FLAGS: FopenFlags = FopenFlags::FOPEN_DIRECT_IO;

/// Whether this machine can serve a [`LazyFs`] at all (`/dev/fuse` exists). The tests print a
/// message and skip when it cannot. Mounting also needs root (the pure-Rust mount calls
/// mount(2) itself; there is no `fusermount` helper).
pub fn fuse_available() -> bool {
    Path::new("/dev/fuse").exists()
}

/// A mounted lazy filesystem. Owns the background FUSE session; dropping it unmounts.
///
/// Unmounting on drop first tries a plain unmount and waits for the serving thread to finish;
/// if the mount is busy (a process still has a file open, e.g. a test panicked with a database
/// open), it detaches the mount lazily (`MNT_DETACH`): the mountpoint is free at once and the
/// serving thread ends when the last open file is closed.
pub struct LazyFs {
    /// The FUSE session; `None` once unmounted.
    session: Option<BackgroundSession>,
    /// The mountpoint as mounted (canonical), for the lazy unmount.
    mountpoint: PathBuf,
    /// State shared with the serving thread and the [`Faults`] handles.
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LazyFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyFs")
            .field("mountpoint", &self.mountpoint)
            .field("mounted", &self.session.is_some())
            .finish()
    }
}

impl LazyFs {
    /// Mounts an empty lazy filesystem at `mountpoint` (an existing empty directory).
    ///
    /// Needs root and `/dev/fuse`. The filesystem is served by a background thread of this
    /// process until the returned value is dropped.
    pub fn mount(mountpoint: &Path) -> io::Result<LazyFs> {
        let canonical = mountpoint.canonicalize().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("lazyfs mountpoint {}: {error}", mountpoint.display()),
            )
        })?;
        let shared = Arc::new(Shared::new());
        let filesystem = LazyFilesystem {
            shared: Arc::clone(&shared),
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("lazyfs".to_owned()),
            MountOption::Subtype("lazyfs".to_owned()),
        ];
        // Processes of any user may use it (the harness may drop privileges in its children).
        config.acl = SessionACL::All;
        let session = fuser::spawn_mount(filesystem, &canonical, &config).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "mounting lazyfs at {} (needs root and /dev/fuse): {error}",
                    canonical.display()
                ),
            )
        })?;
        Ok(LazyFs {
            session: Some(session),
            mountpoint: canonical,
            shared,
        })
    }

    /// The directory the filesystem is mounted at (canonical form).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// A handle to cut the power and inject faults; cheap to clone, usable from any thread.
    pub fn faults(&self) -> Faults {
        Faults {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Unmounts now, reporting a failure of the plain unmount (after which the mount has been
    /// detached lazily anyway). Dropping does the same, silently.
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        match session.umount_and_join() {
            Ok(()) => Ok(()),
            Err(error) => {
                // Busy (files still open) or the session thread failed: detach the mount so the
                // mountpoint is usable; the serving thread ends with the last open file.
                let detached = nix::mount::umount2(
                    self.mountpoint.as_path(),
                    nix::mount::MntFlags::MNT_DETACH,
                );
                match detached {
                    // Already gone (the plain unmount went through, the thread's error is it).
                    Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
                    Err(detach_error) => {
                        return Err(io::Error::other(format!(
                            "unmounting lazyfs at {}: {error}; lazy unmount: {detach_error}",
                            self.mountpoint.display()
                        )));
                    }
                }
                Err(io::Error::new(
                    error.kind(),
                    format!(
                        "unmounting lazyfs at {}: {error} (detached lazily instead)",
                        self.mountpoint.display()
                    ),
                ))
            }
        }
    }
}

impl Drop for LazyFs {
    fn drop(&mut self) {
        if let Err(error) = self.unmount_inner() {
            eprintln!("lazyfs: {error}");
        }
    }
}

/// Controls a mounted [`LazyFs`]: power cuts and injected faults. A cheap clone of a shared
/// handle; every clone acts on the same filesystem.
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("stats", &self.stats())
            .finish()
    }
}

/// What a power cut threw away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CutReport {
    /// Regular files whose contents differed from what was last fsynced.
    pub files_reverted: usize,
    /// Bytes that differed: positions whose byte changed, plus the difference in length.
    pub bytes_lost: u64,
}

/// Counters of what the filesystem was asked to do since it was mounted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `fsync` and `fdatasync` calls on files (answered successfully or not).
    pub fsyncs: u64,
    /// `fsync` calls on directories.
    pub fsyncdirs: u64,
    /// Successful `write` calls.
    pub writes: u64,
    /// Bytes written by successful `write` calls.
    pub bytes_written: u64,
    /// Operations refused by an injected fault: [`Faults::fail_writes`] or a full disk
    /// ([`Faults::set_capacity`]).
    pub failed_writes: u64,
    /// Power cuts ([`Faults::cut_power`]).
    pub cuts: u64,
}

impl Faults {
    /// Every file's contents go back to what was last fsynced (the processes using it must be
    /// dead first: a process still running would see its files change under it).
    ///
    /// Names, directories and sizes set by truncation stay (metadata is durable at once).
    pub fn cut_power(&self) -> CutReport {
        let mut state = self.shared.state();
        let mut report = CutReport::default();
        let mut used = 0u64;
        for node in state.nodes.values_mut() {
            if let Content::File { current, durable } = &mut node.content {
                if current != durable {
                    report.files_reverted += 1;
                    report.bytes_lost += differing_bytes(current, durable);
                    current.clone_from(durable);
                    node.mtime = SystemTime::now();
                }
                used += len_u64(current);
            }
        }
        state.used = used;
        drop(state);
        self.shared.stats.cuts.fetch_add(1, Ordering::Relaxed);
        report
    }

    /// Every `fsync`/`fdatasync` sleeps `delay` before answering (a slow disk).
    /// `Duration::ZERO` turns it off.
    pub fn set_fsync_delay(&self, delay: Duration) {
        self.shared.controls().fsync_delay = delay;
    }

    /// With `Some(errno)` (e.g. `libc::EIO`, `libc::ENOSPC`), write, create, mknod, mkdir,
    /// symlink, link, truncation, fsync and fallocate answer that errno until set to `None`.
    /// Reads, lookups, renames and unlinks keep working.
    pub fn fail_writes(&self, errno: Option<i32>) {
        self.shared.controls().fail_errno = errno.map(Errno::from_i32);
    }

    /// A disk that fills up: writes (and truncations, fallocates) that would make the total of
    /// all files' current bytes exceed `bytes` answer `ENOSPC`; `statfs` reports the capacity.
    /// `None` removes the limit.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.shared.controls().capacity = bytes;
    }

    /// What the filesystem was asked to do so far.
    pub fn stats(&self) -> Stats {
        let counters = &self.shared.stats;
        Stats {
            fsyncs: counters.fsyncs.load(Ordering::Relaxed),
            fsyncdirs: counters.fsyncdirs.load(Ordering::Relaxed),
            writes: counters.writes.load(Ordering::Relaxed),
            bytes_written: counters.bytes_written.load(Ordering::Relaxed),
            failed_writes: counters.failed_writes.load(Ordering::Relaxed),
            cuts: counters.cuts.load(Ordering::Relaxed),
        }
    }
}

/// Positions whose byte differs between `a` and `b`, plus the difference in their lengths.
fn differing_bytes(a: &[u8], b: &[u8]) -> u64 {
    let common = a.iter().zip(b).filter(|(x, y)| x != y).count();
    len_u64(a).abs_diff(len_u64(b)) + common as u64
}

/// A length as `u64` (lossless on every supported target).
fn len_u64(bytes: &[u8]) -> u64 {
    bytes.len() as u64
}

/// State shared by the serving thread, the [`LazyFs`] and its [`Faults`] handles.
struct Shared {
    state: Mutex<State>,
    controls: Mutex<Controls>,
    stats: Counters,
}

impl Shared {
    fn new() -> Shared {
        let now = SystemTime::now();
        let root = Node {
            kind: FileType::Directory,
            perm: 0o755,
            nlink: 2,
            uid: 0,
            gid: 0,
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            open_count: 0,
            content: Content::Directory {
                parent: INodeNo::ROOT.0,
                entries: BTreeMap::new(),
            },
        };
        let mut nodes = HashMap::new();
        nodes.insert(INodeNo::ROOT.0, root);
        Shared {
            state: Mutex::new(State {
                nodes,
                next_ino: INodeNo::ROOT.0 + 1,
                handles: HashMap::new(),
                next_fh: 1,
                used: 0,
            }),
            controls: Mutex::new(Controls::default()),
            stats: Counters::default(),
        }
    }

    /// The filesystem's state. A panic while holding it leaves it consistent enough for a test
    /// filesystem (each operation checks before it changes), so poisoning is ignored.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn controls(&self) -> MutexGuard<'_, Controls> {
        self.controls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The injected write failure, if any (counted as a failed write).
    fn injected_failure(&self) -> Option<Errno> {
        let errno = self.controls().fail_errno;
        if errno.is_some() {
            self.stats.failed_writes.fetch_add(1, Ordering::Relaxed);
        }
        errno
    }

    /// Whether the disk can take `growth` more bytes on top of `used`; counts a refusal.
    fn has_room(&self, used: u64, growth: u64) -> bool {
        let capacity = self.controls().capacity;
        let fits = capacity.is_none_or(|capacity| used.saturating_add(growth) <= capacity);
        if !fits {
            self.stats.failed_writes.fetch_add(1, Ordering::Relaxed);
        }
        fits
    }
}

/// Faults set through [`Faults`].
#[derive(Default)]
struct Controls {
    fsync_delay: Duration,
    fail_errno: Option<Errno>,
    capacity: Option<u64>,
}

/// The counters behind [`Stats`].
#[derive(Default)]
struct Counters {
    fsyncs: AtomicU64,
    fsyncdirs: AtomicU64,
    writes: AtomicU64,
    bytes_written: AtomicU64,
    failed_writes: AtomicU64,
    cuts: AtomicU64,
}

/// The inode table and open files.
struct State {
    nodes: HashMap<u64, Node>,
    /// Inode numbers are never reused (so the generation is always 0).
    next_ino: u64,
    handles: HashMap<u64, Handle>,
    next_fh: u64,
    /// Total of all regular files' current lengths (what the capacity limits).
    used: u64,
}

/// An open file.
struct Handle {
    ino: u64,
    /// Opened with `O_APPEND`: every write goes to the end, whatever offset the kernel sends.
    append: bool,
}

/// An inode.
struct Node {
    kind: FileType,
    perm: u16,
    nlink: u32,
    uid: u32,
    gid: u32,
    atime: SystemTime,
    mtime: SystemTime,
    ctime: SystemTime,
    crtime: SystemTime,
    /// Open handles; an unlinked inode lives until the last one is released.
    open_count: u32,
    content: Content,
}

enum Content {
    Directory {
        parent: u64,
        entries: BTreeMap<OsString, u64>,
    },
    File {
        /// What reads see.
        current: Vec<u8>,
        /// What survives a power cut: `current` as of the last fsync.
        durable: Vec<u8>,
    },
    Symlink(PathBuf),
}

impl Node {
    fn new(kind: FileType, perm: u16, req: &Request, content: Content) -> Node {
        let now = SystemTime::now();
        Node {
            kind,
            perm,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: req.uid(),
            gid: req.gid(),
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            open_count: 0,
            content,
        }
    }

    fn size(&self) -> u64 {
        match &self.content {
            Content::Directory { .. } => BLOCK_SIZE,
            Content::File { current, .. } => len_u64(current),
            Content::Symlink(target) => target.as_os_str().len() as u64,
        }
    }

    fn attr(&self, ino: u64) -> FileAttr {
        let size = self.size();
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: self.atime,
            mtime: self.mtime,
            ctime: self.ctime,
            crtime: self.crtime,
            kind: self.kind,
            perm: self.perm,
            nlink: self.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: BLOCK_SIZE as u32,
            flags: 0,
        }
    }
}

impl State {
    fn node(&self, ino: u64) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Node, Errno> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn entries(&self, dir: u64) -> Result<&BTreeMap<OsString, u64>, Errno> {
        match &self.node(dir)?.content {
            Content::Directory { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match &mut self.node_mut(dir)?.content {
            Content::Directory { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn lookup(&self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        self.entries(parent)?
            .get(name)
            .copied()
            .ok_or(Errno::ENOENT)
    }

    /// Adds a new inode named `name` in `parent` (which must not hold that name yet).
    fn insert(&mut self, parent: u64, name: &OsStr, mut node: Node) -> Result<u64, Errno> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.entries(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let is_dir = node.kind == FileType::Directory;
        if let Content::Directory { parent: p, .. } = &mut node.content {
            *p = parent;
        }
        self.nodes.insert(ino, node);
        self.entries_mut(parent)?.insert(name.to_owned(), ino);
        let now = SystemTime::now();
        let dir = self.node_mut(parent)?;
        dir.mtime = now;
        dir.ctime = now;
        if is_dir {
            dir.nlink += 1;
        }
        Ok(ino)
    }

    /// Drops one link to `ino`; frees the inode once it has no links and no open handles.
    fn drop_link(&mut self, ino: u64) {
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.nlink = if node.kind == FileType::Directory {
            0
        } else {
            node.nlink.saturating_sub(1)
        };
        node.ctime = SystemTime::now();
        self.free_if_unused(ino);
    }

    fn free_if_unused(&mut self, ino: u64) {
        let unused = self
            .nodes
            .get(&ino)
            .is_some_and(|node| node.nlink == 0 && node.open_count == 0);
        if unused
            && let Some(node) = self.nodes.remove(&ino)
            && let Content::File { current, .. } = &node.content
        {
            self.used = self.used.saturating_sub(len_u64(current));
        }
    }

    fn open_handle(&mut self, ino: u64, append: bool) -> Result<u64, Errno> {
        self.node_mut(ino)?.open_count += 1;
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, Handle { ino, append });
        Ok(fh)
    }

    /// Sets a regular file's length (truncating or zero-extending); durable at once, as
    /// metadata: the durable copy takes the same length.
    fn set_len(&mut self, ino: u64, len: u64) -> Result<(), Errno> {
        let new_len = usize::try_from(len).map_err(|_| Errno::EFBIG)?;
        let node = self.node_mut(ino)?;
        let Content::File { current, durable } = &mut node.content else {
            return Err(if node.kind == FileType::Directory {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        let old = len_u64(current);
        current.resize(new_len, 0);
        durable.resize(new_len, 0);
        let now = SystemTime::now();
        node.mtime = now;
        node.ctime = now;
        self.used = self.used.saturating_sub(old).saturating_add(len);
        Ok(())
    }

    /// Whether `ancestor` is `ino` or one of its parent directories.
    fn is_ancestor(&self, ancestor: u64, mut ino: u64) -> bool {
        loop {
            if ino == ancestor {
                return true;
            }
            match self.nodes.get(&ino).map(|node| &node.content) {
                Some(Content::Directory { parent, .. }) if *parent != ino => ino = *parent,
                _ => return false,
            }
        }
    }
}

/// The FUSE side: answers the kernel's requests from the shared state.
struct LazyFilesystem {
    shared: Arc<Shared>,
}

impl LazyFilesystem {
    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    /// Creates a node and answers with its entry (mknod, mkdir, symlink).
    fn make_node(&self, parent: INodeNo, name: &OsStr, node: Node, reply: ReplyEntry) {
        if let Some(errno) = self.shared.injected_failure() {
            return reply.error(errno);
        }
        let mut state = self.state();
        let result = state
            .insert(parent.0, name, node)
            .and_then(|ino| Ok(state.node(ino)?.attr(ino)));
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(errno) => reply.error(errno),
        }
    }
}

/// The permission bits of `mode` after `umask`.
fn perm_of(mode: u32, umask: u32) -> u16 {
    (mode & !umask & 0o7777) as u16
}

impl Filesystem for LazyFilesystem {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let state = self.state();
        match state
            .lookup(parent.0, name)
            .and_then(|ino| Ok(state.node(ino)?.attr(ino)))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(errno) => reply.error(errno),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.state().node(ino.0) {
            Ok(node) => reply.attr(&TTL, &node.attr(ino.0)),
            Err(errno) => reply.error(errno),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        if size.is_some()
            && let Some(errno) = self.shared.injected_failure()
        {
            return reply.error(errno);
        }
        let mut state = self.state();
        let result = (|| {
            if let Some(size) = size {
                let old = state.node(ino.0)?.size();
                if size > old && !self.shared.has_room(state.used, size - old) {
                    return Err(Errno::ENOSPC);
                }
                state.set_len(ino.0, size)?;
            }
            let node = state.node_mut(ino.0)?;
            let now = SystemTime::now();
            let resolve = |time: TimeOrNow| match time {
                TimeOrNow::SpecificTime(time) => time,
                TimeOrNow::Now => now,
            };
            if let Some(mode) = mode {
                node.perm = (mode & 0o7777) as u16;
            }
            if let Some(uid) = uid {
                node.uid = uid;
            }
            if let Some(gid) = gid {
                node.gid = gid;
            }
            if let Some(atime) = atime {
                node.atime = resolve(atime);
            }
            if let Some(mtime) = mtime {
                node.mtime = resolve(mtime);
            }
            if let Some(crtime) = crtime {
                node.crtime = crtime;
            }
            node.ctime = ctime.unwrap_or(now);
            Ok(node.attr(ino.0))
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(errno) => reply.error(errno),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.state().node(ino.0).map(|node| &node.content) {
            Ok(Content::Symlink(target)) => reply.data(target.as_os_str().as_encoded_bytes()),
            Ok(_) => reply.error(Errno::EINVAL),
            Err(errno) => reply.error(errno),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            // Only regular files: no devices, fifos or sockets on this disk.
            return reply.error(Errno::EPERM);
        }
        let content = Content::File {
            current: Vec::new(),
            durable: Vec::new(),
        };
        let perm = perm_of(mode, umask);
        let node = Node::new(FileType::RegularFile, perm, req, content);
        self.make_node(parent, name, node, reply);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let content = Content::Directory {
            parent: parent.0,
            entries: BTreeMap::new(),
        };
        let perm = perm_of(mode, umask);
        let node = Node::new(FileType::Directory, perm, req, content);
        self.make_node(parent, name, node, reply);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let result = (|| {
            let ino = state.lookup(parent.0, name)?;
            if state.node(ino)?.kind == FileType::Directory {
                return Err(Errno::EISDIR);
            }
            state.entries_mut(parent.0)?.remove(name);
            let now = SystemTime::now();
            let dir = state.node_mut(parent.0)?;
            dir.mtime = now;
            dir.ctime = now;
            state.drop_link(ino);
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut state = self.state();
        let result = (|| {
            let ino = state.lookup(parent.0, name)?;
            if !state.entries(ino)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            state.entries_mut(parent.0)?.remove(name);
            let now = SystemTime::now();
            let dir = state.node_mut(parent.0)?;
            dir.mtime = now;
            dir.ctime = now;
            dir.nlink = dir.nlink.saturating_sub(1);
            state.drop_link(ino);
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let content = Content::Symlink(target.to_owned());
        let node = Node::new(FileType::Symlink, 0o777, req, content);
        self.make_node(parent, link_name, node, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return reply.error(Errno::EINVAL);
        }
        if newname.len() > NAME_MAX {
            return reply.error(Errno::ENAMETOOLONG);
        }
        let mut state = self.state();
        let result = (|| {
            let ino = state.lookup(parent.0, name)?;
            state.entries(newparent.0)?;
            let moving_dir = state.node(ino)?.kind == FileType::Directory;
            if moving_dir && state.is_ancestor(ino, newparent.0) {
                // A directory cannot move into itself or below itself.
                return Err(Errno::EINVAL);
            }
            let replaced = state.lookup(newparent.0, newname).ok();
            if let Some(target) = replaced {
                if target == ino {
                    return Ok(());
                }
                if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                    return Err(Errno::EEXIST);
                }
                let target_is_dir = state.node(target)?.kind == FileType::Directory;
                match (moving_dir, target_is_dir) {
                    (true, false) => return Err(Errno::ENOTDIR),
                    (false, true) => return Err(Errno::EISDIR),
                    (true, true) if !state.entries(target)?.is_empty() => {
                        return Err(Errno::ENOTEMPTY);
                    }
                    _ => {}
                }
            }
            state.entries_mut(parent.0)?.remove(name);
            state
                .entries_mut(newparent.0)?
                .insert(newname.to_owned(), ino);
            if let Some(target) = replaced {
                if moving_dir {
                    // The replaced (empty) directory's ".." no longer counts in newparent.
                    let dir = state.node_mut(newparent.0)?;
                    dir.nlink = dir.nlink.saturating_sub(1);
                }
                state.drop_link(target);
            }
            if moving_dir && parent != newparent {
                if let Content::Directory { parent: p, .. } = &mut state.node_mut(ino)?.content {
                    *p = newparent.0;
                }
                let old_dir = state.node_mut(parent.0)?;
                old_dir.nlink = old_dir.nlink.saturating_sub(1);
                state.node_mut(newparent.0)?.nlink += 1;
            }
            let now = SystemTime::now();
            for dir in [parent.0, newparent.0] {
                let dir = state.node_mut(dir)?;
                dir.mtime = now;
                dir.ctime = now;
            }
            state.node_mut(ino)?.ctime = now;
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        if let Some(errno) = self.shared.injected_failure() {
            return reply.error(errno);
        }
        if newname.len() > NAME_MAX {
            return reply.error(Errno::ENAMETOOLONG);
        }
        let mut state = self.state();
        let result = (|| {
            if state.node(ino.0)?.kind == FileType::Directory {
                return Err(Errno::EPERM);
            }
            if state.entries(newparent.0)?.contains_key(newname) {
                return Err(Errno::EEXIST);
            }
            state
                .entries_mut(newparent.0)?
                .insert(newname.to_owned(), ino.0);
            let now = SystemTime::now();
            let dir = state.node_mut(newparent.0)?;
            dir.mtime = now;
            dir.ctime = now;
            let node = state.node_mut(ino.0)?;
            node.nlink += 1;
            node.ctime = now;
            Ok(node.attr(ino.0))
        })();
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(errno) => reply.error(errno),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let truncate = flags.0 & libc::O_TRUNC != 0 && flags.0 & libc::O_ACCMODE != libc::O_RDONLY;
        if truncate && let Some(errno) = self.shared.injected_failure() {
            return reply.error(errno);
        }
        let mut state = self.state();
        let result = (|| {
            match state.node(ino.0)?.kind {
                FileType::RegularFile => {}
                FileType::Directory => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
            if truncate {
                state.set_len(ino.0, 0)?;
            }
            state.open_handle(ino.0, flags.0 & libc::O_APPEND != 0)
        })();
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), OPEN_FLAGS),
            Err(errno) => reply.error(errno),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let state = self.state();
        match state.node(ino.0).map(|node| &node.content) {
            Ok(Content::File { current, .. }) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(current.len());
                let end = start.saturating_add(size as usize).min(current.len());
                reply.data(&current[start..end]);
            }
            Ok(Content::Directory { .. }) => reply.error(Errno::EISDIR),
            Ok(Content::Symlink(_)) => reply.error(Errno::EINVAL),
            Err(errno) => reply.error(errno),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if let Some(errno) = self.shared.injected_failure() {
            return reply.error(errno);
        }
        let mut state = self.state();
        let append = flags.0 & libc::O_APPEND != 0
            || state.handles.get(&fh.0).is_some_and(|handle| handle.append);
        let used = state.used;
        let result = (|| {
            let node = state.node_mut(ino.0)?;
            let Content::File { current, .. } = &mut node.content else {
                return Err(Errno::EISDIR);
            };
            let start = if append {
                current.len()
            } else {
                usize::try_from(offset).map_err(|_| Errno::EFBIG)?
            };
            let end = start.checked_add(data.len()).ok_or(Errno::EFBIG)?;
            let growth = (end as u64).saturating_sub(len_u64(current));
            if !self.shared.has_room(used, growth) {
                return Err(Errno::ENOSPC);
            }
            if end > current.len() {
                current.resize(end, 0);
            }
            current[start..end].copy_from_slice(data);
            let now = SystemTime::now();
            node.mtime = now;
            node.ctime = now;
            Ok(growth)
        })();
        match result {
            Ok(growth) => {
                state.used += growth;
                drop(state);
                let counters = &self.shared.stats;
                counters.writes.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes_written
                    .fetch_add(len_u64(data), Ordering::Relaxed);
                // Kernel writes are at most max_write (far below 4 GiB).
                reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX));
            }
            Err(errno) => reply.error(errno),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) makes nothing durable.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut state = self.state();
        if let Some(handle) = state.handles.remove(&fh.0) {
            if let Some(node) = state.nodes.get_mut(&handle.ino) {
                node.open_count = node.open_count.saturating_sub(1);
            }
            state.free_if_unused(handle.ino);
        }
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.shared.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        let delay = self.shared.controls().fsync_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if let Some(errno) = self.shared.injected_failure() {
            return reply.error(errno);
        }
        let mut state = self.state();
        match state.node_mut(ino.0).map(|node| &mut node.content) {
            Ok(Content::File { current, durable }) => {
                durable.clone_from(current);
                reply.ok();
            }
            // Directories and symlinks: metadata is durable already.
            Ok(_) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.state().entries(ino.0) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(errno) => reply.error(errno),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = self.state();
        let (parent, entries) = match state.node(ino.0).map(|node| &node.content) {
            Ok(Content::Directory { parent, entries }) => (*parent, entries),
            Ok(_) => return reply.error(Errno::ENOTDIR),
            Err(errno) => return reply.error(errno),
        };
        let dots = [
            (ino.0, FileType::Directory, OsStr::new(".")),
            (parent, FileType::Directory, OsStr::new("..")),
        ];
        let children = entries.iter().map(|(name, &child)| {
            let kind = state
                .nodes
                .get(&child)
                .map_or(FileType::RegularFile, |node| node.kind);
            (child, kind, name.as_os_str())
        });
        // Offsets are positions in this listing: the kernel asks again from the last one it got.
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (index, (child, kind, name)) in dots.into_iter().chain(children).enumerate().skip(skip)
        {
            if reply.add(INodeNo(child), index as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Directory entries are durable as soon as they change: nothing to do but count.
        self.shared.stats.fsyncdirs.fetch_add(1, Ordering::Relaxed);
        match self.state().entries(ino.0) {
            Ok(_) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let capacity = self
            .shared
            .controls()
            .capacity
            .unwrap_or(UNLIMITED_CAPACITY);
        let state = self.state();
        let blocks = capacity / BLOCK_SIZE;
        let free = capacity.saturating_sub(state.used) / BLOCK_SIZE;
        let files = state.nodes.len() as u64;
        reply.statfs(
            blocks,
            free,
            free,
            files + 1_000_000,
            1_000_000,
            BLOCK_SIZE as u32,
            NAME_MAX as u32,
            BLOCK_SIZE as u32,
        );
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // Everyone may do everything (the harness runs as root); only existence is checked.
        match self.state().node(ino.0) {
            Ok(_) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        if let Some(errno) = self.shared.injected_failure() {
            return reply.error(errno);
        }
        let mut state = self.state();
        let result = (|| {
            let ino = match state.lookup(parent.0, name) {
                Ok(_) if flags & libc::O_EXCL != 0 => return Err(Errno::EEXIST),
                Ok(ino) => {
                    // Created meanwhile by someone else: open it, as open(2) would.
                    if state.node(ino)?.kind != FileType::RegularFile {
                        return Err(Errno::EISDIR);
                    }
                    if flags & libc::O_TRUNC != 0 {
                        state.set_len(ino, 0)?;
                    }
                    ino
                }
                Err(_) => {
                    let content = Content::File {
                        current: Vec::new(),
                        durable: Vec::new(),
                    };
                    let node = Node::new(FileType::RegularFile, perm_of(mode, umask), req, content);
                    state.insert(parent.0, name, node)?
                }
            };
            let fh = state.open_handle(ino, flags & libc::O_APPEND != 0)?;
            Ok((state.node(ino)?.attr(ino), fh))
        })();
        match result {
            Ok((attr, fh)) => reply.created(&TTL, &attr, Generation(0), FileHandle(fh), OPEN_FLAGS),
            Err(errno) => reply.error(errno),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        if mode & !libc::FALLOC_FL_KEEP_SIZE != 0 {
            // Punching holes, zeroing or collapsing ranges: not on this disk (callers fall back).
            return reply.error(Errno::EOPNOTSUPP);
        }
        if let Some(errno) = self.shared.injected_failure() {
            return reply.error(errno);
        }
        let mut state = self.state();
        let result = (|| {
            let old = match &state.node(ino.0)?.content {
                Content::File { current, .. } => len_u64(current),
                _ => return Err(Errno::ENODEV),
            };
            let end = offset.checked_add(length).ok_or(Errno::EFBIG)?;
            if end <= old {
                return Ok(());
            }
            // Reserving space: the reservation must fit even when the size stays.
            if !self.shared.has_room(state.used, end - old) {
                return Err(Errno::ENOSPC);
            }
            if mode & libc::FALLOC_FL_KEEP_SIZE == 0 {
                // A size change: metadata, so durable at once (like truncation).
                state.set_len(ino.0, end)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        // The kernel handles SEEK_SET/CUR/END itself; only SEEK_DATA and SEEK_HOLE come here.
        // Files have no holes: all of a file is data, its end is the only hole.
        let len = match self.state().node(ino.0).map(|node| node.size()) {
            Ok(len) => i64::try_from(len).unwrap_or(i64::MAX),
            Err(errno) => return reply.error(errno),
        };
        if offset < 0 {
            return reply.error(Errno::EINVAL);
        }
        match whence {
            libc::SEEK_DATA if offset < len => reply.offset(offset),
            libc::SEEK_HOLE if offset < len => reply.offset(len),
            libc::SEEK_DATA | libc::SEEK_HOLE => reply.error(Errno::ENXIO),
            libc::SEEK_SET => reply.offset(offset),
            libc::SEEK_END => reply.offset(len.saturating_add(offset)),
            _ => reply.error(Errno::EINVAL),
        }
    }
}
