//! `greenlet::fs`: each function and `File` method against std's results on
//! real files, std's errors, the hub running while a read waits on the
//! pool, and kills during a read.

mod util;

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use greenlet::fs::{self, File};
use util::{DropCounter, SleepTicker, TempDir};

/// Bytes that differ from one offset to the next, so that a misplaced chunk
/// shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn sorted_names(listing: impl Iterator<Item = io::Result<std::fs::DirEntry>>) -> Vec<String> {
    let mut names: Vec<String> = listing
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn functions_match_std() {
    let dir = TempDir::new("fs-functions");
    let data = pattern(100_000);

    fs::write(dir.join("a.bin"), &data).unwrap();
    assert_eq!(std::fs::read(dir.join("a.bin")).unwrap(), data);
    assert_eq!(fs::read(dir.join("a.bin")).unwrap(), data);

    fs::write(dir.join("t.txt"), "héllo\nworld\n").unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("t.txt")).unwrap(),
        std::fs::read_to_string(dir.join("t.txt")).unwrap()
    );

    let copied = fs::copy(dir.join("a.bin"), dir.join("b.bin")).unwrap();
    let std_copied = std::fs::copy(dir.join("a.bin"), dir.join("c.bin")).unwrap();
    assert_eq!(copied, std_copied);
    assert_eq!(std::fs::read(dir.join("b.bin")).unwrap(), data);

    let ours = fs::metadata(dir.join("a.bin")).unwrap();
    let std_meta = std::fs::metadata(dir.join("a.bin")).unwrap();
    assert_eq!(ours.len(), std_meta.len());
    assert_eq!(ours.is_file(), std_meta.is_file());
    assert_eq!(ours.modified().unwrap(), std_meta.modified().unwrap());
    assert!(fs::metadata(dir.join("")).unwrap().is_dir());

    fs::create_dir_all(dir.join("x/y/z")).unwrap();
    assert!(std::fs::metadata(dir.join("x/y/z")).unwrap().is_dir());
    fs::create_dir_all(dir.join("x/y/z")).unwrap(); // already there: fine, as std
    fs::create_dir(dir.join("x/w")).unwrap();

    let listing = fs::read_dir(dir.join("")).unwrap();
    assert_eq!(listing.len(), 5);
    assert_eq!(
        sorted_names(listing),
        sorted_names(std::fs::read_dir(dir.join("")).unwrap())
    );
    assert_eq!(
        sorted_names(fs::read_dir(dir.join("x")).unwrap()),
        ["w", "y"]
    );

    fs::rename(dir.join("b.bin"), dir.join("renamed.bin")).unwrap();
    assert!(!dir.join("b.bin").exists());
    assert_eq!(std::fs::read(dir.join("renamed.bin")).unwrap(), data);

    fs::remove_file(dir.join("renamed.bin")).unwrap();
    assert!(!dir.join("renamed.bin").exists());
    fs::remove_dir(dir.join("x/w")).unwrap();
    fs::remove_dir_all(dir.join("x")).unwrap();
    assert!(!dir.join("x").exists());
}

/// Runs `ours` and `std` and checks that both fail with the same kind.
fn same_error<A, B>(what: &str, ours: io::Result<A>, std: io::Result<B>) -> ErrorKind {
    let (Err(ours), Err(std)) = (ours, std) else {
        panic!("{what}: both should fail");
    };
    assert_eq!(ours.kind(), std.kind(), "{what}: {ours} / {std}");
    assert_eq!(ours.raw_os_error(), std.raw_os_error(), "{what}");
    ours.kind()
}

#[test]
fn errors_are_std_errors() {
    let dir = TempDir::new("fs-errors");
    let missing = dir.join("missing");
    let nf = ErrorKind::NotFound;
    assert_eq!(
        same_error("read", fs::read(&missing), std::fs::read(&missing)),
        nf
    );
    assert_eq!(
        same_error(
            "read_to_string",
            fs::read_to_string(&missing),
            std::fs::read_to_string(&missing)
        ),
        nf
    );
    assert_eq!(
        same_error(
            "metadata",
            fs::metadata(&missing),
            std::fs::metadata(&missing)
        ),
        nf
    );
    assert_eq!(
        same_error(
            "remove_file",
            fs::remove_file(&missing),
            std::fs::remove_file(&missing)
        ),
        nf
    );
    let elsewhere = dir.join("elsewhere");
    assert_eq!(
        same_error(
            "rename",
            fs::rename(&missing, &elsewhere),
            std::fs::rename(&missing, &elsewhere)
        ),
        nf
    );
    assert_eq!(
        same_error(
            "copy",
            fs::copy(&missing, &elsewhere),
            std::fs::copy(&missing, &elsewhere)
        ),
        nf
    );
    assert_eq!(
        same_error(
            "read_dir",
            fs::read_dir(&missing),
            std::fs::read_dir(&missing)
        ),
        nf
    );
    assert_eq!(
        same_error("open", File::open(&missing), std::fs::File::open(&missing)),
        nf
    );
    let nested = dir.join("no/such/dir/file");
    assert_eq!(
        same_error(
            "create",
            File::create(&nested),
            std::fs::File::create(&nested)
        ),
        nf
    );
    assert_eq!(
        same_error(
            "write",
            fs::write(&nested, "x"),
            std::fs::write(&nested, "x")
        ),
        nf
    );

    std::fs::create_dir(dir.join("d")).unwrap();
    assert_eq!(
        same_error(
            "create_dir",
            fs::create_dir(dir.join("d")),
            std::fs::create_dir(dir.join("d"))
        ),
        ErrorKind::AlreadyExists
    );
    std::fs::write(dir.join("latin1"), b"caf\xe9").unwrap();
    assert_eq!(
        same_error(
            "read_to_string",
            fs::read_to_string(dir.join("latin1")),
            std::fs::read_to_string(dir.join("latin1"))
        ),
        ErrorKind::InvalidData
    );
    // Writing to a file opened for reading: EBADF from the kernel, as std.
    let mut ro = File::open(dir.join("latin1")).unwrap();
    let mut std_ro = std::fs::File::open(dir.join("latin1")).unwrap();
    same_error("write", ro.write(b"x"), std_ro.write(b"x"));
    same_error("set_len", ro.set_len(1), std_ro.set_len(1));
}

#[test]
fn file_methods_match_std() {
    let dir = TempDir::new("fs-file");
    let path = dir.join("f.bin");
    // Over two bounce buffers, so writes and reads take several pool calls.
    let data = pattern(2 * File::MAX_BUF + 12_345);

    let mut file = File::create(&path).unwrap();
    file.write_all(&data).unwrap();
    file.flush().unwrap();
    file.sync_all().unwrap();
    file.sync_data().unwrap();
    assert_eq!(file.metadata().unwrap().len(), data.len() as u64);
    drop(file);
    assert_eq!(std::fs::read(&path).unwrap(), data);

    let mut file = File::open(&path).unwrap();
    let mut std_file = std::fs::File::open(&path).unwrap();
    // One read moves at most MAX_BUF bytes, and the right ones.
    let mut big = vec![0; 3 * File::MAX_BUF];
    let n = file.read(&mut big).unwrap();
    assert!(n > 0 && n <= File::MAX_BUF, "{n}");
    assert_eq!(big[..n], data[..n]);
    let mut small = [0; 10];
    for pos in [
        SeekFrom::Start(5),
        SeekFrom::Current(100),
        SeekFrom::End(-7),
        SeekFrom::Current(-20),
    ] {
        assert_eq!(file.seek(pos).unwrap(), std_file.seek(pos).unwrap());
        let (a, b) = (file.read(&mut small).unwrap(), {
            let mut theirs = [0; 10];
            let m = std_file.read(&mut theirs).unwrap();
            assert_eq!(small[..m], theirs[..m]);
            m
        });
        assert_eq!(a, b);
    }
    assert_eq!(file.stream_position().unwrap(), data.len() as u64 - 10);
    assert_eq!(file.read(&mut small).unwrap(), 10);
    assert_eq!(file.read(&mut small).unwrap(), 0, "end of file");

    // read_to_end appends, from the position.
    file.seek(SeekFrom::Start(1000)).unwrap();
    let mut all = b"prefix".to_vec();
    let n = file.read_to_end(&mut all).unwrap();
    assert_eq!(n, data.len() - 1000);
    assert_eq!(&all[..6], b"prefix");
    assert_eq!(all[6..], data[1000..]);
    file.rewind().unwrap();
    let mut exact = vec![0; data.len()];
    file.read_exact(&mut exact).unwrap();
    assert_eq!(exact, data);

    // try_clone shares the position; &File reads, writes and seeks.
    let text_path = dir.join("t.txt");
    std::fs::write(&text_path, "one\ntwo\nthree\n").unwrap();
    let text = File::open(&text_path).unwrap();
    let clone = text.try_clone().unwrap();
    assert_ne!(clone.as_raw_fd(), text.as_raw_fd());
    (&text).seek(SeekFrom::Start(4)).unwrap();
    let mut rest = String::from(">");
    (&clone).read_to_string(&mut rest).unwrap();
    assert_eq!(rest, ">two\nthree\n");
    (&text).rewind().unwrap();
    let lines: Vec<String> = BufReader::new(&text).lines().map(Result::unwrap).collect();
    assert_eq!(lines, ["one", "two", "three"]);

    // read_to_string leaves the string alone on bytes that are not UTF-8.
    std::fs::write(dir.join("latin1"), b"caf\xe9").unwrap();
    let mut kept = String::from("kept");
    let err = File::open(dir.join("latin1"))
        .unwrap()
        .read_to_string(&mut kept)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert_eq!(kept, "kept");

    // set_len, set_permissions, &File writes; From and into_std.
    let std_out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("out"))
        .unwrap();
    let out = File::from(std_out);
    (&out).write_all(b"0123456789").unwrap();
    out.set_len(4).unwrap();
    assert_eq!(out.metadata().unwrap().len(), 4);
    let mut perms = out.metadata().unwrap().permissions();
    perms.set_readonly(true);
    out.set_permissions(perms).unwrap();
    assert!(
        std::fs::metadata(dir.join("out"))
            .unwrap()
            .permissions()
            .readonly()
    );
    let fd = out.as_raw_fd();
    let mut back = out.into_std();
    assert_eq!(
        back.as_raw_fd(),
        fd,
        "no call in flight: the same descriptor"
    );
    back.rewind().unwrap();
    let mut content = String::new();
    back.read_to_string(&mut content).unwrap();
    assert_eq!(content, "0123");
    assert!(format!("{:?}", File::open(&path).unwrap()).contains("f.bin"));
}

/// Makes a named pipe: a "file" whose reads block until a writer comes.
fn fifo(dir: &TempDir, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
    path
}

/// Whether a reader has the FIFO open (a non-blocking open for writing
/// fails with ENXIO when none has).
fn fifo_has_reader(path: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    match opened {
        Ok(_) => true,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => false,
        Err(e) => panic!("opening the FIFO: {e}"),
    }
}

#[test]
fn a_read_waiting_for_its_file_lets_the_hub_run() {
    let dir = TempDir::new("fs-fifo");
    let path = fifo(&dir, "slow");
    let ticker = SleepTicker::spawn(Duration::from_millis(2), 10_000);
    let reader = {
        let path = path.clone();
        greenlet::spawn(move || fs::read(path))
    };
    // The read blocks a pool thread until a writer comes; the writer comes
    // only once the ticker has ticked 20 times (or never, if it stalls).
    for _ in 0..5_000 {
        if ticker.ticks() >= 20 {
            break;
        }
        greenlet::sleep(Duration::from_millis(1));
    }
    assert!(!reader.is_finished(), "the read is still waiting");
    let ticks = ticker.ticks();
    assert!(ticks >= 20, "the ticker ticked {ticks} times");
    greenlet::fs::write(&path, b"at last").unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), b"at last");
    ticker.stop();
}

#[test]
fn a_greenlet_killed_in_a_read_unwinds_at_once_and_the_read_ends_later() {
    let dir = TempDir::new("fs-kill");
    let path = fifo(&dir, "never");
    let drops = DropCounter::new();
    let started = std::rc::Rc::new(std::cell::Cell::new(false));
    let reader = {
        let (path, token, started) = (path.clone(), drops.token(), started.clone());
        greenlet::spawn(move || {
            let _token = token;
            started.set(true);
            fs::read(path)
        })
    };
    greenlet::yield_now(); // it starts and hands the read to the pool
    assert!(started.get());
    reader.kill();
    assert_eq!(drops.count(), 1, "the greenlet unwound at once");
    assert!(reader.join().unwrap_err().is_killed());

    // The pool thread is still in the read (in open, waiting for a writer).
    // Give it one, then watch it finish: it closes the FIFO, its result is
    // dropped, and the pool serves new calls.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    writer.write_all(b"nobody reads this").unwrap();
    drop(writer);
    let mut closed = false;
    for _ in 0..5_000 {
        if !fifo_has_reader(&path) {
            closed = true;
            break;
        }
        greenlet::sleep(Duration::from_millis(1));
    }
    assert!(closed, "the abandoned read finished and closed the FIFO");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        fs::metadata(&path).unwrap().file_type().is_fifo(),
        "the pool serves new calls"
    );
}

/// The case: a greenlet reads a file of hundreds of MB while a
/// ticker sleeps 2 ms at a time. With std's read the ticker stops for the
/// whole read; with `greenlet::fs::read` it goes on. The worst gaps are
/// printed, not asserted (the stall table).
#[test]
fn a_large_read_does_not_stall_the_hub() {
    const SIZE: usize = 400 << 20;
    let dir = TempDir::new("fs-large");
    let path = dir.join("large.bin");
    {
        let chunk = pattern(1 << 20);
        let mut out = io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for _ in 0..SIZE / chunk.len() {
            out.write_all(&chunk).unwrap();
        }
        out.into_inner().unwrap().sync_all().unwrap();
    }

    // Before: std's read blocks the hub.
    let ticker = SleepTicker::spawn(Duration::from_millis(2), 100_000);
    let reader = {
        let path = path.clone();
        greenlet::spawn(move || std::fs::read(path).unwrap().len())
    };
    assert_eq!(reader.join().unwrap(), SIZE);
    let (std_ticks, std_gap) = ticker.stop_measured();

    // After: the pool reads, the hub runs. Read again (at most 8 times)
    // until the ticker has ticked 20 times during reads, so a fast disk
    // cache does not make the test flaky.
    let ticker = SleepTicker::spawn(Duration::from_millis(2), 100_000);
    let reader = {
        let path = path.clone();
        let ticks = ticker.counter();
        greenlet::spawn(move || {
            let mut reads = 0;
            while reads < 8 && ticks.load(std::sync::atomic::Ordering::SeqCst) < 20 {
                let data = fs::read(&path).unwrap();
                assert_eq!(data.len(), SIZE);
                assert_eq!(data[SIZE - 1], ((SIZE - 1) % (1 << 20) % 251) as u8);
                reads += 1;
            }
            reads
        })
    };
    let reads = reader.join().unwrap();
    let (ticks, gap) = ticker.stop_measured();
    eprintln!(
        "stall table: fs::read of {} MB: std::fs::read worst tick gap {:.1} ms ({std_ticks} ticks); \
         greenlet::fs::read worst tick gap {:.1} ms ({ticks} ticks over {reads} read(s))",
        SIZE >> 20,
        std_gap.as_secs_f64() * 1e3,
        gap.as_secs_f64() * 1e3,
    );
    assert!(
        ticks >= 20,
        "the ticker ticked {ticks} times in {reads} reads"
    );
}

/// Unlike the green sockets, files belong to no hub: they move and are
/// shared between threads as std's.
#[test]
fn files_and_listings_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<File>();
    send_sync::<fs::ReadDir>();
    let file = File::open("Cargo.toml").unwrap();
    let len = std::thread::spawn(move || file.metadata().unwrap().len())
        .join()
        .unwrap();
    assert_eq!(len, std::fs::metadata("Cargo.toml").unwrap().len());
}
