//! The download path against a small HTTP/1.1 server on 127.0.0.1 that serves
//! the real MNIST `.gz` files: mirror fallback, interrupted transfers, content
//! that fails its checksum, and a cache that is reused without any request.

use dlkit_tests::sorted_file_names as file_names;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use dlkit::datasets::{mnist::MNIST, Downloader, Environment};
use dlkit::Error;
use dlkit_tests::datasets_dir;

const TIMEOUT: Duration = Duration::from_secs(5);
/// The server stops by itself after this many connections, whatever the client does.
const MAX_CONNECTIONS: usize = 200;

#[derive(Clone)]
enum Reply {
    /// 200 with the whole body.
    Body(Vec<u8>),
    /// 200 announcing the whole body's Content-Length, then half of it, then the connection closes.
    CutShort(Vec<u8>),
    /// 200 announcing this Content-Length, then the connection closes without a body byte.
    HeadersOnly(usize),
    /// 200 with the whole body's Content-Length, then one byte at a time, `every` apart.
    Drip(Vec<u8>, Duration),
}

/// A one-thread HTTP/1.1 server: `routes` maps a path to a reply, anything else is a 404.
/// It records every request path.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(routes: HashMap<String, Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming().take(MAX_CONNECTIONS) {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &routes, &log);
                }
            }
        });
        Server {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}/", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, TIMEOUT);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, routes: &HashMap<String, Reply>, log: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    log.lock().unwrap().push(path.clone());
    let _ = match routes.get(&path) {
        Some(Reply::Body(body)) => respond(&mut stream, "200 OK", body, body.len()),
        Some(Reply::CutShort(body)) => respond(&mut stream, "200 OK", body, body.len() / 2),
        Some(Reply::HeadersOnly(len)) => respond(&mut stream, "200 OK", &vec![0; *len], 0),
        Some(Reply::Drip(body, every)) => drip(&mut stream, body, *every),
        None => respond(&mut stream, "404 Not Found", b"not here", 8),
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn respond(stream: &mut TcpStream, status: &str, body: &[u8], send: usize) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body[..send])?;
    stream.flush()
}

/// Sends the head, then the body a byte at a time until done or the client hangs up.
fn drip(stream: &mut TcpStream, body: &[u8], every: Duration) -> std::io::Result<()> {
    respond(stream, "200 OK", body, 0)?;
    for byte in body {
        std::thread::sleep(every);
        stream.write_all(&[*byte])?;
        stream.flush()?;
    }
    Ok(())
}

fn real_gz(name: &str) -> Vec<u8> {
    std::fs::read(datasets_dir().join("mnist").join(format!("{name}.gz"))).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The four real files under `/<prefix>/`.
fn real_routes(prefix: &str) -> HashMap<String, Reply> {
    MNIST
        .files()
        .iter()
        .map(|f| {
            (
                format!("/{prefix}/{}", f.gz_name()),
                Reply::Body(real_gz(f.name)),
            )
        })
        .collect()
}

/// A base URL on which nothing listens.
fn refused_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/")
}

fn cache_env(root: &Path) -> (Environment, PathBuf) {
    let env = Environment {
        xdg_cache_home: Some(root.to_path_buf()),
        home: Some(root.join("unused-home")),
        ..Default::default()
    };
    (env, root.join("dlkit/datasets/mnist"))
}

#[test]
fn falls_back_across_mirrors_then_reuses_the_cache() {
    let server = Server::start(real_routes("good"));
    let tmp = tempfile::tempdir().unwrap();
    let (env, cache) = cache_env(tmp.path());
    let downloader = Downloader::new([refused_url(), server.url("missing"), server.url("good")])
        .timeout(TIMEOUT);

    let mut lines = Vec::new();
    let ((x_train, y_train), (x_test, y_test)) = MNIST
        .load_with(&env, &downloader, &mut |l| lines.push(l.to_string()))
        .unwrap();
    assert_eq!(x_train.dims(), [60000, 28, 28]);
    assert_eq!(x_test.dims(), [10000, 28, 28]);
    assert_eq!(
        y_train.narrow(0, 0, 10).unwrap().to_vec1::<u8>().unwrap(),
        [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    );
    assert_eq!(
        y_test.narrow(0, 0, 3).unwrap().to_vec1::<u8>().unwrap(),
        [7, 2, 1]
    );

    // Exactly the four files, byte for byte as served, and nothing else.
    assert_eq!(
        file_names(&cache),
        [
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz"
        ]
    );
    for f in MNIST.files() {
        assert_eq!(
            std::fs::read(cache.join(f.gz_name())).unwrap(),
            real_gz(f.name)
        );
    }

    // Each file: a 404 on the second mirror, then the third serves it.
    let requests = server.requests();
    assert_eq!(requests.len(), 8, "{requests:?}");
    assert_eq!(
        requests
            .iter()
            .filter(|p| p.starts_with("/missing/"))
            .count(),
        4
    );
    assert_eq!(requests[0], "/missing/train-images-idx3-ubyte.gz");
    assert_eq!(requests[1], "/good/train-images-idx3-ubyte.gz");

    for l in &lines {
        eprintln!("{l}");
        assert!(
            !l.contains('\r') && !l.contains('\n'),
            "one plain line each: {l:?}"
        );
    }
    let good = server.url("good");
    let quarters: Vec<&String> = lines
        .iter()
        .filter(|l| {
            l.starts_with(&format!(
                "Downloading train-images-idx3-ubyte.gz from {good}: "
            ))
        })
        .collect();
    assert_eq!(quarters.len(), 4, "{lines:?}");
    assert!(
        quarters[0].contains(": 25% (2.") && quarters[0].ends_with(" / 9.7 MB)"),
        "{quarters:?}"
    );
    assert!(quarters[3].ends_with("100% (9.7 / 9.7 MB)"), "{quarters:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("failed: HTTP 404 Not Found")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("failed") && l.contains("could not connect")),
        "{lines:?}"
    );

    // A second load finds everything in the cache: no request, no output.
    let mut again = Vec::new();
    let ((_, y_train), _) = MNIST
        .load_with(&env, &downloader, &mut |l| again.push(l.to_string()))
        .unwrap();
    assert_eq!(y_train.dims(), [60000]);
    assert_eq!(server.requests().len(), 8);
    assert!(again.is_empty(), "{again:?}");

    // Even with no mirror at all.
    MNIST
        .load_with(&env, &Downloader::new(Vec::<String>::new()), &mut |_| {})
        .unwrap();
}

#[test]
fn interrupted_transfer_leaves_no_file_and_says_so() {
    let mut routes = real_routes("good");
    routes.insert(
        "/cut/train-images-idx3-ubyte.gz".into(),
        Reply::CutShort(real_gz("train-images-idx3-ubyte")),
    );
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let (env, cache) = cache_env(tmp.path());

    let cut_only = Downloader::new([server.url("cut")]).timeout(TIMEOUT);
    let err = MNIST.load_with(&env, &cut_only, &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    eprintln!("[interrupted] {msg}");
    assert!(matches!(err, Error::Download(_)), "{err:?}");
    assert!(
        msg.contains("could not download train-images-idx3-ubyte.gz"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "{}train-images-idx3-ubyte.gz: transfer interrupted after",
            server.url("cut")
        )),
        "{msg}"
    );
    assert!(msg.contains("of 9.7 MB"), "{msg}");
    assert!(
        msg.contains(&cache.display().to_string()),
        "says where the files go: {msg}"
    );
    // The cut file was the first: the directory exists and is empty (no partial file either).
    assert_eq!(file_names(&cache), Vec::<String>::new());

    // The same file from the next mirror completes the cache.
    let fallback = Downloader::new([server.url("cut"), server.url("good")]).timeout(TIMEOUT);
    let ((x_train, _), _) = MNIST.load_with(&env, &fallback, &mut |_| {}).unwrap();
    assert_eq!(x_train.dims(), [60000, 28, 28]);
    assert_eq!(file_names(&cache).len(), 4);
}

#[test]
fn content_failing_its_checksum_is_rejected() {
    // Well-formed labels with the first label changed from 5 to 3.
    let mut labels = gunzip(&real_gz("train-labels-idx1-ubyte"));
    assert_eq!(labels[8], 5);
    labels[8] = 3;
    let mut routes = real_routes("good");
    for (path, reply) in real_routes("bad") {
        routes.insert(path, reply);
    }
    routes.insert(
        "/bad/train-labels-idx1-ubyte.gz".into(),
        Reply::Body(gzip(&labels)),
    );
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let (env, cache) = cache_env(tmp.path());

    let bad_only = Downloader::new([server.url("bad")]).timeout(TIMEOUT);
    let mut lines = Vec::new();
    let err = MNIST
        .load_with(&env, &bad_only, &mut |l| lines.push(l.to_string()))
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("[checksum on download] {msg}");
    assert!(matches!(err, Error::Download(_)), "{err:?}");
    for part in [
        "could not download train-labels-idx1-ubyte.gz",
        "checksum mismatch",
        // Published hash, and that of the altered file (python3 hashlib).
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "d5b28cdb60e38436666996a4ff6f141934448e7e59f219f852dac2f2bd3ec8fa",
    ] {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
    // The images downloaded before stay; the bad labels never land, not even as a partial file.
    assert_eq!(file_names(&cache), ["train-images-idx3-ubyte.gz"]);
    assert!(lines
        .iter()
        .any(|l| l.contains("train-labels-idx1-ubyte.gz") && l.contains("failed")));

    // Retrying with a good mirror next fetches only what is missing.
    let before = server.requests().len();
    let fallback = Downloader::new([server.url("bad"), server.url("good")]).timeout(TIMEOUT);
    let ((_, y_train), _) = MNIST.load_with(&env, &fallback, &mut |_| {}).unwrap();
    assert_eq!(
        y_train.narrow(0, 0, 1).unwrap().to_vec1::<u8>().unwrap(),
        [5]
    );
    let new_requests = &server.requests()[before..];
    assert!(
        !new_requests.iter().any(|p| p.contains("train-images")),
        "{new_requests:?}"
    );
    assert_eq!(
        new_requests.len(),
        4,
        "labels twice (bad, good), test images and labels: {new_requests:?}"
    );
}

#[test]
fn uncompressed_content_is_stored_under_the_plain_name() {
    let raw_labels = gunzip(&real_gz("t10k-labels-idx1-ubyte"));
    let mut routes = HashMap::new();
    routes.insert(
        "/raw/t10k-labels-idx1-ubyte.gz".to_string(),
        Reply::Body(raw_labels.clone()),
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let path = Downloader::new([server.url("raw")])
        .timeout(TIMEOUT)
        .fetch(&MNIST, &MNIST.test_labels, dir.path(), &mut |_| {})
        .unwrap();
    assert_eq!(path, dir.path().join("t10k-labels-idx1-ubyte"));
    assert_eq!(std::fs::read(&path).unwrap(), raw_labels);
    assert_eq!(file_names(dir.path()), ["t10k-labels-idx1-ubyte"]);
}

#[test]
fn all_mirrors_failing_lists_each_reason() {
    let mut routes = HashMap::new();
    // A captive portal or an error page served with 200.
    routes.insert(
        "/portal/train-images-idx3-ubyte.gz".to_string(),
        Reply::Body(b"<html>Please log in</html>".to_vec()),
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let refused = refused_url();
    let err = Downloader::new([refused.clone(), server.url("nothing"), server.url("portal")])
        .timeout(TIMEOUT)
        .fetch_missing(&MNIST, dir.path(), &mut |_| {})
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("[all mirrors fail] {msg}");
    assert!(matches!(err, Error::Download(_)));
    assert!(
        msg.contains(&format!("{refused}train-images-idx3-ubyte.gz: ")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "{}train-images-idx3-ubyte.gz: HTTP 404 Not Found",
            server.url("nothing")
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "{}train-images-idx3-ubyte.gz: the content served: not an IDX file: it starts with 0x3C68746D",
            server.url("portal")
        )),
        "{msg}"
    );
    assert!(msg.contains("DLKIT_DATASETS"), "says what to do: {msg}");
    assert_eq!(file_names(dir.path()), Vec::<String>::new());
    assert_eq!(
        server.requests(),
        [
            "/nothing/train-images-idx3-ubyte.gz",
            "/portal/train-images-idx3-ubyte.gz"
        ]
    );
}

#[test]
fn a_dripping_mirror_is_given_up_for_the_next() {
    let labels = real_gz("t10k-labels-idx1-ubyte");
    let mut routes = real_routes("good");
    routes.insert(
        "/drip/t10k-labels-idx1-ubyte.gz".into(),
        Reply::Drip(labels[..40].to_vec(), Duration::from_millis(100)),
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let err = Downloader::new([server.url("drip")])
        .timeout(TIMEOUT)
        .min_speed(1_000, Duration::from_secs(1))
        .fetch(&MNIST, &MNIST.test_labels, dir.path(), &mut |_| {})
        .unwrap_err();
    let took = start.elapsed();
    let msg = err.to_string();
    eprintln!("[drip] {msg} ({took:?})");
    assert!(matches!(err, Error::Download(_)), "{err:?}");
    assert!(
        msg.contains(&format!(
            "{}t10k-labels-idx1-ubyte.gz: too slow: ",
            server.url("drip")
        )) && msg.contains("below the minimum of 1.0 kB/s")
            && msg.contains(" of 40 B"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(4), "gave up after {took:?}");
    assert_eq!(file_names(dir.path()), Vec::<String>::new());

    // With a good mirror next, the file arrives from it.
    let path = Downloader::new([server.url("drip"), server.url("good")])
        .timeout(TIMEOUT)
        .min_speed(1_000, Duration::from_secs(1))
        .fetch(&MNIST, &MNIST.test_labels, dir.path(), &mut |_| {})
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), labels);
    assert_eq!(file_names(dir.path()), ["t10k-labels-idx1-ubyte.gz"]);
}

#[test]
fn a_transfer_past_its_deadline_fails_even_when_bytes_keep_coming() {
    let labels = real_gz("t10k-labels-idx1-ubyte");
    let mut routes = HashMap::new();
    routes.insert(
        "/slow/t10k-labels-idx1-ubyte.gz".to_string(),
        Reply::Drip(labels[..60].to_vec(), Duration::from_millis(50)),
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let err = Downloader::new([server.url("slow")])
        .timeout(TIMEOUT)
        .min_speed(0, Duration::from_secs(1))
        .deadline(Duration::from_secs(1))
        .fetch(&MNIST, &MNIST.test_labels, dir.path(), &mut |_| {})
        .unwrap_err();
    let took = start.elapsed();
    let msg = err.to_string();
    eprintln!("[deadline] {msg} ({took:?})");
    assert!(
        msg.contains(&format!(
            "{}t10k-labels-idx1-ubyte.gz: did not finish within the deadline of 1 s: received ",
            server.url("slow")
        )) && msg.contains(" of 60 B"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    assert_eq!(file_names(dir.path()), Vec::<String>::new());
}

#[test]
fn a_body_shorter_than_announced_is_an_error_and_leaves_nothing() {
    let mut routes = HashMap::new();
    routes.insert(
        "/empty/t10k-labels-idx1-ubyte.gz".to_string(),
        Reply::HeadersOnly(5_000),
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let err = Downloader::new([server.url("empty")])
        .timeout(TIMEOUT)
        .fetch(&MNIST, &MNIST.test_labels, dir.path(), &mut |_| {})
        .unwrap_err();
    let msg = err.to_string();
    eprintln!("[headers only] {msg}");
    assert!(
        msg.contains(&format!(
            "{}t10k-labels-idx1-ubyte.gz: transfer interrupted after 0 B of 5.0 kB",
            server.url("empty")
        )),
        "{msg}"
    );
    assert_eq!(file_names(dir.path()), Vec::<String>::new());
}

#[test]
fn part_files_left_by_a_killed_download_are_removed_on_the_next() {
    let server = Server::start(real_routes("good"));
    let dir = tempfile::tempdir().unwrap();
    let part = |pid: u32| format!(".t10k-labels-idx1-ubyte.gz.{pid}-123.part");
    // A process id above any kernel's pid_max: that process is gone.
    let dead = part(999_999_999);
    // Process 1 is always alive: its fresh file may be a download in progress,
    // but one two days old is not.
    let (fresh, old) = (
        part(1),
        ".train-images-idx3-ubyte.gz.1-456.part".to_string(),
    );
    for name in [&dead, &fresh, &old] {
        std::fs::write(dir.path().join(name), b"half a file").unwrap();
    }
    let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join(&old))
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    // Not ours to touch: another name altogether.
    std::fs::write(dir.path().join("notes.part"), b"mine").unwrap();

    Downloader::new([server.url("good")])
        .timeout(TIMEOUT)
        .fetch(&MNIST, &MNIST.test_labels, dir.path(), &mut |_| {})
        .unwrap();
    let mut expected = vec![
        fresh,
        "notes.part".to_string(),
        "t10k-labels-idx1-ubyte.gz".to_string(),
    ];
    expected.sort();
    assert_eq!(file_names(dir.path()), expected);
}
