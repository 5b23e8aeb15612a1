//! Downloads against a loopback HTTP server started inside the test, serving
//! the genuine Fashion-MNIST files of the Debian package
//! `dataset-fashion-mnist` (skipped with a message when it is not installed).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zoo_datasets::catalog::{FASHION_MNIST, TIME_MACHINE};
use zoo_datasets::download::{DownloadOptions, download};
use zoo_datasets::store::partial_path;
use zoo_datasets::text::TextSource;
use zoo_datasets::{FashionMnist, Split};

const DEBIAN: &str = "/usr/share/datasets/fashion-mnist";

/// MD5s of the Debian package's files (`md5sum /usr/share/datasets/fashion-mnist/*`):
/// Debian recompressed them, so they differ from upstream's.
const DEBIAN_MD5: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "cf8536b0aa1a6ac5fa3f23001093305c",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "10bea18fdb374794d4bb42e356e600c9",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "f78720b4224f21cce2f2ccf2d7a94c9a",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "0d30e22e447f3c33dab9ed536400ac01",
    ),
];

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Honest,
    /// The first request of each file announces the whole length, sends half
    /// and closes the connection.
    DropHalfway,
    /// One byte in the middle of every file is flipped.
    Altered,
}

/// (path, range start) of every request.
type Log = Mutex<Vec<(String, Option<u64>)>>;

struct Server {
    base: String,
    log: Arc<Log>,
}

fn serve(files: HashMap<String, Vec<u8>>, behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/files/", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let files = Arc::new(files);
    let thread_log = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (files, log) = (files.clone(), thread_log.clone());
            std::thread::spawn(move || handle(stream, &files, behaviour, &log));
        }
    });
    Server { base, log }
}

fn handle(
    mut stream: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    behaviour: Behaviour,
    log: &Mutex<Vec<(String, Option<u64>)>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            range = v.trim().trim_end_matches('-').parse::<u64>().ok();
        }
    }
    let earlier = {
        let mut log = log.lock().unwrap();
        let earlier = log.iter().filter(|(p, _)| *p == path).count();
        log.push((path.clone(), range));
        earlier
    };
    let name = path.trim_start_matches("/files/");
    let Some(body) = files.get(name) else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let mut body = body.clone();
    if behaviour == Behaviour::Altered {
        let mid = body.len() / 2;
        body[mid] ^= 0x55;
    }
    let start = range.unwrap_or(0) as usize;
    let (status, part) = if start > 0 {
        (
            format!(
                "206 Partial Content\r\nContent-Range: bytes {start}-{}/{}",
                body.len() - 1,
                body.len()
            ),
            &body[start..],
        )
    } else {
        ("200 OK".to_string(), &body[..])
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
        part.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if behaviour == Behaviour::DropHalfway && earlier == 0 {
        let _ = stream.write_all(&part[..part.len() / 2]);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = stream.write_all(part);
}

fn debian_files() -> Option<HashMap<String, Vec<u8>>> {
    if !Path::new(DEBIAN).exists() {
        eprintln!(
            "skipped: the Debian package dataset-fashion-mnist is not installed (.ci/run installs it)"
        );
        return None;
    }
    Some(
        FASHION_MNIST
            .files
            .iter()
            .map(|f| {
                (
                    f.name.to_string(),
                    std::fs::read(Path::new(DEBIAN).join(f.name)).unwrap(),
                )
            })
            .collect(),
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zoo-dl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn options(server: &Server) -> DownloadOptions {
    DownloadOptions {
        mirror: Some(server.base.clone()),
        retries: 3,
        backoff: Duration::from_millis(10),
        read_timeout: Duration::from_secs(10),
        progress: false,
        extra_md5: DEBIAN_MD5
            .iter()
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .collect(),
    }
}

#[test]
fn genuine_files_are_verified_by_their_payload_digests() {
    let Some(files) = debian_files() else { return };
    let server = serve(files, Behaviour::Honest);
    let dest = temp_dir("ok");
    let report = download(&FASHION_MNIST, &dest, &options(&server)).unwrap();
    assert_eq!(report.len(), 4);
    assert!(
        report
            .iter()
            .all(|l| l.contains("decompressed SHA-256 matches")),
        "{report:?}"
    );
    let train = FashionMnist::from_dir(&dest, Split::Train).unwrap();
    assert_eq!(train.len(), 60_000);
    // A second run finds everything in place and fetches nothing.
    let before = server.log.lock().unwrap().len();
    let again = download(&FASHION_MNIST, &dest, &options(&server)).unwrap();
    assert!(
        again.iter().all(|l| l.contains("already present")),
        "{again:?}"
    );
    assert_eq!(server.log.lock().unwrap().len(), before);
    // A supplied archive checksum that does not match is refused.
    let other = temp_dir("wrong-md5");
    let mut wrong = options(&server);
    wrong.extra_md5[0].1 = "00000000000000000000000000000000".into();
    let e = download(&FASHION_MNIST, &other, &wrong)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz: checksum mismatch"),
        "{e}"
    );
    assert!(!other.join("train-images-idx3-ubyte.gz").exists());
    for d in [dest, other] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_time_machine_is_verified_by_d2ls_sha1_and_resumed() {
    // The embedded copy is the genuine file (its SHA-1 is d2l's).
    let bytes = zoo_datasets::text::TIME_MACHINE.as_bytes().to_vec();
    let files: HashMap<String, Vec<u8>> = [("timemachine.txt".to_string(), bytes.clone())].into();
    let server = serve(files.clone(), Behaviour::DropHalfway);
    let root = temp_dir("time-machine");
    let dest = root.join("time-machine");
    let mut opts = options(&server);
    opts.extra_md5.clear();
    let report = download(&TIME_MACHINE, &dest, &opts).unwrap();
    assert!(report[0].contains("SHA-1 matches"), "{report:?}");
    let log = server.log.lock().unwrap().clone();
    assert_eq!(
        log.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
        [None, Some(bytes.len() as u64 / 2)]
    );
    assert_eq!(std::fs::read(dest.join("timemachine.txt")).unwrap(), bytes);
    // The loader now reads the downloaded file.
    let (text, source) = zoo_datasets::text::time_machine(Some(&root)).unwrap();
    assert_eq!(source, TextSource::File(dest.join("timemachine.txt")));
    assert_eq!(text.as_bytes(), &bytes[..]);
    // Altered bytes are refused and nothing is kept.
    let server = serve(files, Behaviour::Altered);
    let other = temp_dir("time-machine-altered");
    let mut opts = options(&server);
    opts.extra_md5.clear();
    let e = download(&TIME_MACHINE, &other, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("timemachine.txt: checksum mismatch")
            && e.contains("090b5e7e70c295757f55df93cb0a180b9691891a"),
        "{e}"
    );
    assert!(!other.join("timemachine.txt").exists());
    for d in [root, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_broken_connection_is_resumed_with_a_range_request() {
    let Some(files) = debian_files() else { return };
    let server = serve(files, Behaviour::DropHalfway);
    let dest = temp_dir("resume");
    download(&FASHION_MNIST, &dest, &options(&server)).unwrap();
    let log = server.log.lock().unwrap().clone();
    for f in FASHION_MNIST.files {
        let path = format!("/files/{}", f.name);
        let ranges: Vec<Option<u64>> = log
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, r)| *r)
            .collect();
        // First the whole file, then the rest from where it broke off.
        assert_eq!(ranges.len(), 2, "{path}: {ranges:?}");
        assert_eq!(ranges[0], None);
        let size = std::fs::metadata(Path::new(DEBIAN).join(f.name))
            .unwrap()
            .len();
        assert_eq!(ranges[1], Some(size / 2), "{path}");
    }
    assert_eq!(
        FashionMnist::from_dir(&dest, Split::Test).unwrap().len(),
        10_000
    );
    std::fs::remove_dir_all(dest).unwrap();
}

#[test]
fn altered_bytes_are_an_error_and_nothing_is_kept() {
    let Some(files) = debian_files() else { return };
    let server = serve(files, Behaviour::Altered);
    let dest = temp_dir("altered");
    let mut opts = options(&server);
    opts.extra_md5.clear();
    let e = download(&FASHION_MNIST, &dest, &opts)
        .unwrap_err()
        .to_string();
    let name = "train-images-idx3-ubyte.gz";
    assert!(
        e.contains(&format!("{name}: checksum mismatch"))
            && e.contains("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888")
            && e.contains("not kept"),
        "{e}"
    );
    assert!(!dest.join(name).exists());
    assert!(!partial_path(&dest.join(name)).exists());
    std::fs::remove_dir_all(dest).unwrap();
}

#[test]
fn no_network_names_the_url_and_the_alternatives() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dest = temp_dir("offline");
    let opts = DownloadOptions {
        mirror: Some(format!("http://127.0.0.1:{port}/x")),
        retries: 1,
        backoff: Duration::from_millis(10),
        progress: false,
        ..DownloadOptions::default()
    };
    let e = download(&FASHION_MNIST, &dest, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "http://127.0.0.1:{port}/x/train-images-idx3-ubyte.gz"
        )) && e.contains("after 2 attempts")
            && e.contains("--mirror")
            && e.contains("--from"),
        "{e}"
    );
    assert!(!dest.join("train-images-idx3-ubyte.gz").exists());
    let _ = std::fs::remove_dir_all(dest);
}
