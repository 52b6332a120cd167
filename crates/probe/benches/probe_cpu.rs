//! CPU per probe against a loopback target, to compare with blackbox_exporter (~1.5 ms CPU per
//! loopback HTTP probe on the project's 2-core machine; the target is half of that or less).
//!
//! Run: `cargo bench -p downbeat-probe --bench probe_cpu -- [probes] [per_second] [URL]`
//! (defaults 2000 and 200). With a URL (e.g. a local nginx, as the acceptance check uses),
//! only that target is probed and the process figure has no server share. The prober runs on a current-thread runtime on the main thread;
//! the target server runs on its own thread and runtime. Two figures are printed: the prober
//! thread's own CPU (the probe's cost) and the whole process (target server included, an upper
//! bound). Then the same for HTTPS with a test CA (full handshake and verification per probe).

use std::sync::Arc;
use std::time::{Duration, Instant};

use downbeat_probe::kind::TlsDef;
use downbeat_probe::{Outcome, ProbeDef, ProbeKind, ProbeSpec, Prober, probe};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

const MAX_IN_FLIGHT: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let probes = numbers.first().copied().unwrap_or(2000).clamp(1, 100_000);
    let rate = numbers.get(1).copied().unwrap_or(200).clamp(1, 5_000);
    if let Some(url) = args.iter().find(|a| a.starts_with("http")) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let prober = Prober::builder()
                .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
                .build()
                .expect("prober");
            let spec = ProbeSpec::http(url).expect("URL");
            run(&prober, &spec, 50, 500).await;
            report(url, run(&prober, &spec, probes, rate).await);
        });
        println!("rss {} MB", rss_kb() / 1024);
        return;
    }

    let (http_port, https_port, ca_pem) = start_targets();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let prober = Prober::builder()
            .nameservers(vec!["127.0.0.1:9".parse().expect("addr")])
            .build()
            .expect("prober");
        let http = ProbeSpec::http(&format!("http://127.0.0.1:{http_port}/")).expect("spec");
        // Warm-up: first-use allocations and lazy statics out of the measurement.
        run(&prober, &http, 50, 500).await;
        report("http ", run(&prober, &http, probes, rate).await);

        let https = ProbeSpec::parse(ProbeDef {
            tls: TlsDef {
                ca_pem: Some(ca_pem),
                ..TlsDef::default()
            },
            ..ProbeDef::new(ProbeKind::Http, format!("https://localhost:{https_port}/"))
        })
        .expect("spec");
        run(&prober, &https, 20, 200).await;
        let n = (probes / 4).max(1);
        report("https", run(&prober, &https, n, rate.min(100)).await);
    });
    println!("rss {} MB", rss_kb() / 1024);
}

struct Measure {
    probes: u64,
    failed: u64,
    wall: Duration,
    thread_cpu: Duration,
    process_cpu: Duration,
}

fn report(label: &str, m: Measure) {
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / m.probes as f64;
    println!(
        "{label}: {} probes ({} failed) in {:.1} s = {:.0}/s; CPU per probe: prober thread {:.3} ms, whole process {:.3} ms",
        m.probes,
        m.failed,
        m.wall.as_secs_f64(),
        m.probes as f64 / m.wall.as_secs_f64(),
        per(m.thread_cpu),
        per(m.process_cpu),
    );
}

/// `probes` probes started at a steady `rate` per second, at most `MAX_IN_FLIGHT` at once.
async fn run(prober: &Prober, spec: &ProbeSpec, probes: u64, rate: u64) -> Measure {
    let limit = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut tasks = tokio::task::JoinSet::new();
    let (t0, c0, p0) = (
        Instant::now(),
        cpu("/proc/thread-self/stat"),
        cpu("/proc/self/stat"),
    );
    for _ in 0..probes {
        tick.tick().await;
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        let (prober, spec) = (prober.clone(), spec.clone());
        tasks.spawn(async move {
            let r = probe(&spec, &prober).await;
            drop(permit);
            r.outcome == Outcome::Down
        });
    }
    let mut failed = 0;
    while let Some(down) = tasks.join_next().await {
        failed += u64::from(down.unwrap_or(true));
    }
    Measure {
        probes,
        failed,
        wall: t0.elapsed(),
        thread_cpu: cpu("/proc/thread-self/stat") - c0,
        process_cpu: cpu("/proc/self/stat") - p0,
    }
}

/// utime + stime from a `/proc/.../stat` file (clock ticks of 10 ms, USER_HZ = 100).
fn cpu(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // After the parenthesised command name, token 0 is the state (field 3), so utime
    // (field 14) and stime (field 15) are tokens 11 and 12.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    Duration::from_millis(ticks * 10)
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A plain and a TLS "200 ok" server on a thread of their own; returns their ports and the
/// PEM of the CA that signed the TLS certificate.
fn start_targets() -> (u16, u16, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Bench CA");
    let ca_pem = params.self_signed(&key).expect("CA").pem();
    let issuer = Issuer::new(params, key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let tls = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let ports = (
                plain.local_addr().expect("addr").port(),
                tls.local_addr().expect("addr").port(),
            );
            let _ = tx.send(ports);
            let tls_loop = async move {
                while let Ok((s, _)) = tls.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        if let Ok(s) = acceptor.accept(s).await {
                            answer(s).await;
                        }
                    });
                }
            };
            tokio::spawn(tls_loop);
            while let Ok((s, _)) = plain.accept().await {
                tokio::spawn(answer(s));
            }
        });
    });
    let (http, https) = rx.recv().expect("target ports");
    (http, https, ca_pem)
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut buf = [0u8; 2048];
    let mut seen = 0;
    loop {
        match s.read(&mut buf[seen..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen += n,
        }
        if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") || seen == buf.len() {
            break;
        }
    }
    let _ = s
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .await;
    let _ = s.shutdown().await;
}
