//! The lazy filesystem: what a power cut keeps and loses, RocksDB on it, injected faults.
//!
//! Needs root and `/dev/fuse`; without `/dev/fuse` every test prints a message and passes.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use renkei_faults::{LazyFs, fuse_available};

/// Tells the re-executed test binary to act as the crashing RocksDB writer in this directory.
const WRITER_DIR_ENV: &str = "RENKEI_LAZYFS_WRITER_DIR";
/// "1": the writer syncs every write; "0": it does not.
const WRITER_SYNC_ENV: &str = "RENKEI_LAZYFS_WRITER_SYNC";
/// What the writer prints once every put has been acknowledged.
const WRITER_DONE: &str = "lazyfs-writer: done";
const KEYS: usize = 1000;

/// A mounted lazy filesystem in a fresh temporary directory, or `None` (with a message) when
/// this machine has no FUSE. The directory outlives the mount (fields drop in order).
struct Mounted {
    fs: LazyFs,
    _dir: tempfile::TempDir,
}

fn mount() -> Option<Mounted> {
    if !fuse_available() {
        eprintln!("skipped: /dev/fuse is absent (the lazy filesystem needs FUSE and root)");
        return None;
    }
    let dir = tempfile::tempdir().expect("temporary mountpoint");
    let fs = LazyFs::mount(dir.path()).expect("mount lazyfs");
    Some(Mounted { fs, _dir: dir })
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).expect("read back")
}

#[test]
fn unsynced_writes_are_lost_and_synced_ones_kept() {
    let Some(m) = mount() else { return };
    let root = m.fs.mountpoint();
    let faults = m.fs.faults();

    // Written, never synced: the file survives the cut (metadata is durable), empty.
    fs::write(root.join("unsynced"), b"lost on the cut").unwrap();
    // Written and synced: kept.
    let mut synced = File::create(root.join("synced")).unwrap();
    synced.write_all(b"kept").unwrap();
    synced.sync_all().unwrap();
    // Synced, then appended to and overwritten without a sync: back to the synced contents.
    synced.write_all(b" and more").unwrap();
    drop(synced);
    // fdatasync counts as well.
    let mut datasynced = File::create(root.join("datasynced")).unwrap();
    datasynced.write_all(b"data").unwrap();
    datasynced.sync_data().unwrap();
    drop(datasynced);
    assert_eq!(read(&root.join("synced")), b"kept and more");

    let report = faults.cut_power();
    assert_eq!(report.files_reverted, 2, "{report:?}");
    assert_eq!(report.bytes_lost, 15 + 9, "{report:?}");

    assert_eq!(read(&root.join("unsynced")), b"");
    assert_eq!(fs::metadata(root.join("unsynced")).unwrap().len(), 0);
    assert_eq!(read(&root.join("synced")), b"kept");
    assert_eq!(fs::metadata(root.join("synced")).unwrap().len(), 4);
    assert_eq!(read(&root.join("datasynced")), b"data");

    let stats = faults.stats();
    assert_eq!(stats.cuts, 1);
    assert!(stats.fsyncs >= 2, "{stats:?}");
    assert!(stats.writes >= 4, "{stats:?}");
}

#[test]
fn overwrites_revert_to_the_synced_bytes() {
    let Some(m) = mount() else { return };
    let root = m.fs.mountpoint();
    let path = root.join("file");
    let mut file = File::create(&path).unwrap();
    file.write_all(b"0123456789").unwrap();
    file.sync_all().unwrap();
    drop(file);

    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(2)).unwrap();
    file.write_all(b"ab").unwrap();
    drop(file);
    let mut appended = OpenOptions::new().append(true).open(&path).unwrap();
    appended.write_all(b"XYZ").unwrap();
    drop(appended);
    assert_eq!(read(&path), b"01ab456789XYZ");

    let report = m.fs.faults().cut_power();
    assert_eq!(report.files_reverted, 1);
    assert_eq!(report.bytes_lost, 2 + 3);
    assert_eq!(read(&path), b"0123456789");
}

#[test]
fn names_survive_a_cut() {
    let Some(m) = mount() else { return };
    let root = m.fs.mountpoint();
    fs::create_dir_all(root.join("db/archive")).unwrap();

    // The usual atomic replacement: write a temporary file, sync it, rename it over the old.
    fs::write(root.join("db/CURRENT"), b"old").unwrap();
    let mut tmp = File::create(root.join("db/CURRENT.tmp")).unwrap();
    tmp.write_all(b"new").unwrap();
    tmp.sync_all().unwrap();
    drop(tmp);
    fs::rename(root.join("db/CURRENT.tmp"), root.join("db/CURRENT")).unwrap();
    // A created, renamed (into another directory) and linked file; an unlinked one.
    fs::write(root.join("db/moved"), b"").unwrap();
    fs::rename(root.join("db/moved"), root.join("db/archive/moved")).unwrap();
    fs::hard_link(
        root.join("db/CURRENT"),
        root.join("db/archive/CURRENT.link"),
    )
    .unwrap();
    fs::write(root.join("db/gone"), b"x").unwrap();
    fs::remove_file(root.join("db/gone")).unwrap();
    File::open(root.join("db")).unwrap().sync_all().unwrap();

    m.fs.faults().cut_power();

    let mut names: Vec<String> = fs::read_dir(root.join("db"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["CURRENT", "archive"]);
    assert_eq!(read(&root.join("db/CURRENT")), b"new");
    assert_eq!(read(&root.join("db/archive/CURRENT.link")), b"new");
    assert!(root.join("db/archive/moved").exists());
    assert!(!root.join("db/gone").exists());
    assert_eq!(m.fs.faults().stats().fsyncdirs, 1);

    fs::remove_dir(root.join("db")).expect_err("not empty");
    fs::remove_file(root.join("db/archive/moved")).unwrap();
    fs::remove_file(root.join("db/archive/CURRENT.link")).unwrap();
    fs::remove_dir(root.join("db/archive")).unwrap();
}

#[test]
fn truncation_is_durable_at_once() {
    let Some(m) = mount() else { return };
    let root = m.fs.mountpoint();
    let faults = m.fs.faults();
    let path = root.join("file");
    let mut file = File::create(&path).unwrap();
    file.write_all(b"0123456789").unwrap();
    file.sync_all().unwrap();

    // Shrinking: the synced bytes past the new end are gone for good.
    file.set_len(4).unwrap();
    faults.cut_power();
    assert_eq!(read(&path), b"0123");

    // Growing: zeros, kept by the cut (the size is metadata).
    file.set_len(6).unwrap();
    faults.cut_power();
    assert_eq!(read(&path), b"0123\0\0");
    drop(file);

    // O_TRUNC empties the file, durably.
    File::create(&path).unwrap();
    faults.cut_power();
    assert_eq!(read(&path), b"");
}

#[test]
fn injected_write_errors_come_and_go() {
    let Some(m) = mount() else { return };
    let root = m.fs.mountpoint();
    let faults = m.fs.faults();
    let path = root.join("file");
    fs::write(&path, b"readable").unwrap();
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();

    faults.fail_writes(Some(libc::EIO));
    let error = file.write_all(b"x").expect_err("write must fail");
    assert_eq!(error.raw_os_error(), Some(libc::EIO), "{error}");
    let error = File::create(root.join("new")).expect_err("create must fail");
    assert_eq!(error.raw_os_error(), Some(libc::EIO), "{error}");
    let error = file.sync_all().expect_err("fsync must fail");
    assert_eq!(error.raw_os_error(), Some(libc::EIO), "{error}");
    assert_eq!(read(&path), b"readable", "reads keep working");

    faults.fail_writes(Some(libc::ENOSPC));
    let error = fs::create_dir(root.join("dir")).expect_err("mkdir must fail");
    assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");

    faults.fail_writes(None);
    file.write_all(b"!").unwrap();
    file.sync_all().unwrap();
    assert_eq!(read(&path), b"readable!");
    assert!(faults.stats().failed_writes >= 4);
}

#[test]
fn a_full_disk_answers_enospc() {
    let Some(m) = mount() else { return };
    let root = m.fs.mountpoint();
    let faults = m.fs.faults();
    faults.set_capacity(Some(64 * 1024));

    fs::write(root.join("small"), vec![1u8; 16 * 1024]).unwrap();
    let error = fs::write(root.join("big"), vec![2u8; 1024 * 1024]).expect_err("must not fit");
    assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");
    assert_eq!(
        read(&root.join("small")).len(),
        16 * 1024,
        "what fitted is kept"
    );

    // Freeing space (unlinking) and lifting the limit both make room again.
    fs::remove_file(root.join("big")).unwrap();
    fs::write(root.join("medium"), vec![3u8; 40 * 1024]).unwrap();
    faults.set_capacity(None);
    fs::write(root.join("big"), vec![2u8; 1024 * 1024]).unwrap();
}

#[test]
fn a_slow_disk_delays_fsync() {
    let Some(m) = mount() else { return };
    let root = m.fs.mountpoint();
    let faults = m.fs.faults();
    let mut file = File::create(root.join("file")).unwrap();
    file.write_all(b"slow").unwrap();

    faults.set_fsync_delay(Duration::from_millis(200));
    let started = Instant::now();
    file.sync_data().unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "fsync took {took:?}");

    faults.set_fsync_delay(Duration::ZERO);
    let started = Instant::now();
    file.sync_all().unwrap();
    assert!(started.elapsed() < Duration::from_millis(200));
}

/// The crashing writer, run in a child process by the RocksDB tests (re-executing this test
/// binary): puts the keys, says so, then waits to be killed.
#[test]
#[ignore = "run in a child process by the RocksDB tests"]
fn rocksdb_writer() {
    let Some(dir) = std::env::var_os(WRITER_DIR_ENV) else {
        return;
    };
    let sync = std::env::var(WRITER_SYNC_ENV).as_deref() == Ok("1");
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    let db = rocksdb::DB::open(&options, &dir).expect("writer opens the database");
    let mut write = rocksdb::WriteOptions::default();
    write.set_sync(sync);
    write.disable_wal(false);
    for i in 0..KEYS {
        db.put_opt(key(i), value(i), &write).expect("put");
    }
    println!("\n{WRITER_DONE}");
    std::io::stdout().flush().expect("stdout");
    // Killed here, with the database open: nothing is closed or flushed cleanly.
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn key(i: usize) -> String {
    format!("key-{i:05}")
}

fn value(i: usize) -> String {
    format!("value-{i}-{}", "v".repeat(100))
}

/// Runs the writer in a child process on `dir` and waits (at most two minutes) for its
/// acknowledgement of every put, then kills it (SIGKILL): a crash with the database open.
fn crash_writer(dir: &Path, sync: bool) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "rocksdb_writer", "--ignored", "--nocapture"])
        .env(WRITER_DIR_ENV, dir)
        .env(WRITER_SYNC_ENV, if sync { "1" } else { "0" })
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (done, acknowledged) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            // libtest may print "test rocksdb_writer ... " on the same line first.
            if line.contains(WRITER_DONE) {
                let _ = done.send(());
            }
        }
    });
    let outcome = acknowledged.recv_timeout(Duration::from_secs(120));
    child.kill().expect("kill the writer");
    let status = child.wait().expect("reap the writer");
    assert!(
        outcome.is_ok(),
        "the writer ({status}) did not acknowledge its puts: {outcome:?}"
    );
}

/// Crashes the writer on `dir`, cuts the power, reopens the database here and counts the keys
/// found (checking their values).
fn crash_write_cut_and_count(m: &Mounted, dir: &Path, sync: bool) -> usize {
    crash_writer(dir, sync);
    let report = m.fs.faults().cut_power();
    eprintln!(
        "sync={sync}: cut {report:?}, stats {:?}",
        m.fs.faults().stats()
    );

    let db = rocksdb::DB::open(&rocksdb::Options::default(), dir).expect("reopen after the cut");
    let found = (0..KEYS)
        .filter(|&i| match db.get(key(i)).expect("get") {
            Some(found) => {
                assert_eq!(found, value(i).as_bytes(), "key {i} has a wrong value");
                true
            }
            None => false,
        })
        .count();
    drop(db);
    found
}

#[test]
fn rocksdb_keeps_synced_writes_across_a_cut() {
    let Some(m) = mount() else { return };
    let dir = m.fs.mountpoint().join("synced-db");
    let found = crash_write_cut_and_count(&m, &dir, true);
    assert_eq!(found, KEYS, "every synced put must survive the cut");
    assert!(m.fs.faults().stats().fsyncs >= KEYS as u64);
}

#[test]
fn rocksdb_loses_unsynced_writes_on_a_cut() {
    let Some(m) = mount() else { return };
    let dir = m.fs.mountpoint().join("unsynced-db");
    let found = crash_write_cut_and_count(&m, &dir, false);
    assert!(
        found < KEYS,
        "acknowledged but unsynced puts must be lost on a cut (found all {found})"
    );
}

#[test]
fn unsynced_rocksdb_survives_a_mere_process_crash() {
    // The control for the test above: killing the writer without a cut loses nothing, so
    // what the cut loses is exactly what was never fsynced.
    let Some(m) = mount() else { return };
    let dir = m.fs.mountpoint().join("crashed-db");
    crash_writer(&dir, false);

    let db = rocksdb::DB::open(&rocksdb::Options::default(), &dir).expect("reopen");
    let found = (0..KEYS)
        .filter(|&i| db.get(key(i)).expect("get").is_some())
        .count();
    assert_eq!(found, KEYS);
}

#[test]
fn dropping_while_a_file_is_open_detaches_the_mount() {
    if !fuse_available() {
        eprintln!("skipped: /dev/fuse is absent (the lazy filesystem needs FUSE and root)");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary mountpoint");
    let fs = LazyFs::mount(dir.path()).expect("mount lazyfs");
    let mut open = File::create(dir.path().join("busy")).unwrap();
    open.write_all(b"held open").unwrap();
    // A plain unmount finds the mount busy: it is detached lazily instead, without hanging.
    let outcome = fs.unmount();
    assert!(outcome.is_err(), "a busy mount cannot unmount plainly");
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mountpoint = dir.path().canonicalize().unwrap();
    assert!(
        !mounts.contains(&*mountpoint.to_string_lossy()),
        "the mountpoint is free at once"
    );
    drop(open);
}
