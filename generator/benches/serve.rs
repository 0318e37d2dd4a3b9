//! Live-reload benchmark: with a synthetic guide of N services (default
//! 10,000) served by `sportello serve`, the time from saving one entry to the
//! changed text being served over HTTP, on the service page and on its
//! category page and in the search index's result fragments.
//!
//!     cargo bench -p sportello --bench serve
//!     SPORTELLO_BENCH_N=2000 SPORTELLO_BENCH_EDITS=20 cargo bench -p sportello --bench serve

mod synth;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

/// Polls `path` until it contains `needle`; returns when it did.
fn wait_for(port: u16, path: &str, needle: &str, deadline: Instant) -> Instant {
    loop {
        if get(port, path).contains(needle) {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{path} never showed {needle}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let n = synth::env_usize("SPORTELLO_BENCH_N", 10_000);
    let edits = synth::env_usize("SPORTELLO_BENCH_EDITS", 20);
    let root = synth::repo_root();
    let dir = synth::scratch_dir("sportello-serve-bench-");
    let content = dir.path().join("content");
    synth::write_guide(&content, n);

    let mut child = Command::new(env!("CARGO_BIN_EXE_sportello"))
        .arg("serve")
        .arg("--content")
        .arg(&content)
        .arg("--theme")
        .arg(root.join("themes/default"))
        .args(["--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sportello serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("serving http://127.0.0.1:") {
                let _ = tx.send(Ok(rest.split('/').next().unwrap().parse::<u16>().unwrap()));
            } else if std::env::var_os("SPORTELLO_BENCH_VERBOSE").is_some()
                || line.contains("error")
            {
                let _ = tx.send(Err(line));
            }
        }
    });
    let port = loop {
        match rx
            .recv_timeout(Duration::from_secs(120))
            .expect("serve did not start")
        {
            Ok(p) => break p,
            Err(line) => eprintln!("[serve] {line}"),
        }
    };
    eprintln!("serving {n} services on port {port}");

    let mut page = Vec::new();
    let mut category = Vec::new();
    let mut search = Vec::new();
    for k in 0..edits {
        let i = (k * 7919 + 13) % n;
        let slug = synth::service_slug(i);
        let path = content.join(format!("services/{slug}.md"));
        let marker = format!("Marcatore{k}x{i}");
        let text = synth::service_text(i, n, 0);
        let title_line = text
            .lines()
            .find(|l| l.starts_with("title = "))
            .unwrap()
            .to_string();
        let new_text = text.replacen(&title_line, &format!("title = \"{marker}\""), 1);
        let cat = [
            "salute-benessere-assistenza",
            "tributi-finanze-contravvenzioni",
            "mobilita-trasporti",
            "vita-lavorativa",
        ][i % 4];
        let saved = Instant::now();
        std::fs::write(&path, new_text).unwrap();
        let deadline = saved + Duration::from_secs(30);
        let t_page = wait_for(port, &format!("/servizi/{slug}/"), &marker, deadline);
        let t_cat = wait_for(port, &format!("/categorie/{cat}/"), &marker, deadline);
        // Services are search documents in slug order, results 8 to a file.
        let t_search = wait_for(
            port,
            &format!("/search/r/{}.json", i / 8),
            &marker,
            deadline,
        );
        page.push((t_page - saved).as_secs_f64() * 1000.0);
        category.push((t_cat - saved).as_secs_f64() * 1000.0);
        search.push((t_search - saved).as_secs_f64() * 1000.0);
        // Restore, and let that rebuild finish before the next edit.
        std::fs::write(&path, &text).unwrap();
        let title = title_line
            .trim_start_matches("title = ")
            .trim_matches('"')
            .to_string();
        wait_for(
            port,
            &format!("/servizi/{slug}/"),
            &title,
            Instant::now() + Duration::from_secs(30),
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    page.sort_by(f64::total_cmp);
    category.sort_by(f64::total_cmp);
    search.sort_by(f64::total_cmp);
    println!("serve benchmark: {n} services, {edits} edits (save -> text served over HTTP), the wait for the save to settle included");
    println!(
        "  service page   p50 {:.0} ms, p95 {:.0} ms",
        percentile(&page, 0.5),
        percentile(&page, 0.95)
    );
    println!(
        "  category page  p50 {:.0} ms, p95 {:.0} ms",
        percentile(&category, 0.5),
        percentile(&category, 0.95)
    );
    println!(
        "  search index   p50 {:.0} ms, p95 {:.0} ms",
        percentile(&search, 0.5),
        percentile(&search, 0.95)
    );
}
