//! Build benchmark: a synthetic guide of N services (default 10,000), built
//! by the release binary into a tmpfs output several times.
//!
//!     cargo bench -p sportello --bench build
//!     SPORTELLO_BENCH_N=2000 SPORTELLO_BENCH_RUNS=5 cargo bench -p sportello --bench build
//!
//! `SPORTELLO_BENCH_KEEP=1` keeps the generated guide for profiling.
//!
//! Prints the build time (best and median), pages per second, the peak
//! resident memory of the build process, what the search index adds to
//! the build time (each run also builds without it, interleaved), and the
//! time of Debian's `hugo` on the same entries as a minimal Hugo site
//! (installed with apt-get when missing; `SPORTELLO_BENCH_HUGO=0` skips
//! it), interleaved too, with the ratio.

mod synth;

use std::process::Command;
use std::time::Instant;

/// Runs `cmd` to the end; its stderr, whether it succeeded, and its own
/// peak RSS in MiB (wait4's, so that Hugo's runs do not count).
#[allow(clippy::zombie_processes)] // reaped by wait4 below
fn run_measured(cmd: &mut Command) -> (String, bool, f64) {
    use std::io::Read as _;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sportello");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 fills the status and the struct we own; the child is
    // ours and not waited for elsewhere.
    let usage = unsafe {
        libc::wait4(
            child.id() as libc::pid_t,
            &mut status,
            0,
            usage.as_mut_ptr(),
        );
        usage.assume_init()
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (stderr, ok, usage.ru_maxrss as f64 / 1024.0)
}

fn main() {
    let n = synth::env_usize("SPORTELLO_BENCH_N", 10_000);
    let runs = synth::env_usize("SPORTELLO_BENCH_RUNS", 5).max(1);
    let root = synth::repo_root();
    let dir = synth::scratch_dir("sportello-bench-");
    let content = dir.path().join("content");
    let output = dir.path().join("public");
    // Each variant rebuilds over its own previous output, as an editor's
    // rebuild does: removing the old site is part of the build's time.
    let bare_output = dir.path().join("public-without-index");
    let t = Instant::now();
    synth::write_guide(&content, n);
    eprintln!(
        "generated {n} services in {:.2?} under {}",
        t.elapsed(),
        dir.path().display()
    );

    // Builds with and without the search index, interleaved so that both
    // see the same machine: the difference is what the index costs.
    let peak = std::cell::Cell::new(0.0f64);
    let build = |index: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sportello"));
        cmd.arg("build")
            .arg("--content")
            .arg(&content)
            .arg("--theme")
            .arg(root.join("themes/default"))
            .arg("--output")
            .arg(if index { &output } else { &bare_output })
            .arg("--timings");
        if !index {
            cmd.arg("--no-search-index");
        }
        let t = Instant::now();
        let (stderr, ok, rss) = run_measured(&mut cmd);
        let elapsed = t.elapsed().as_secs_f64();
        assert!(ok, "build failed:\n{stderr}");
        peak.set(peak.get().max(rss));
        (elapsed, stderr)
    };
    let hugo = (std::env::var("SPORTELLO_BENCH_HUGO").as_deref() != Ok("0"))
        .then(synth::hugo::hugo)
        .flatten();
    let hugo_dir = dir.path().join("hugo");
    if hugo.is_some() {
        synth::hugo::write_site(&content, &hugo_dir);
    } else {
        eprintln!("hugo: not available, the comparison is skipped");
    }
    let hugo_build = |bin: &std::path::Path| {
        let t = Instant::now();
        let out = Command::new(bin)
            .arg("--quiet")
            .arg("--source")
            .arg(&hugo_dir)
            .arg("--destination")
            .arg(dir.path().join("hugo-public"))
            .output()
            .expect("run hugo");
        assert!(
            out.status.success(),
            "hugo failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_secs_f64()
    };
    let mut hugo_times = Vec::new();
    let mut times = Vec::new();
    let mut bare = Vec::new();
    let mut pages = 0usize;
    for run in 0..runs {
        if run % 2 == 1 {
            bare.push(build(false).0);
        }
        let (elapsed, stderr) = build(true);
        times.push(elapsed);
        if run % 2 == 0 {
            bare.push(build(false).0);
        }
        if let Some(bin) = &hugo {
            hugo_times.push(hugo_build(bin));
        }
        if run == 0 {
            pages = walk_html(&output);
            eprint!(
                "{}",
                stderr
                    .lines()
                    .filter(|l| l.starts_with("built") || l.starts_with("  load"))
                    .map(|l| format!("  {l}\n"))
                    .collect::<String>()
            );
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let with = median(&mut times);
    let without = median(&mut bare);
    println!(
        "build benchmark: {n} services, {pages} HTML pages, {runs} runs, output on {}",
        dir.path().parent().unwrap_or(dir.path()).display()
    );
    println!("  time      best {:.3} s, median {with:.3} s", times[0]);
    println!("  speed     {:.0} pages/s (median)", pages as f64 / with);
    println!(
        "  peak RSS  {:.0} MiB (of the sportello builds)",
        peak.get()
    );
    println!(
        "  search    the index adds {:+.1}% (median {with:.3} s with it, {without:.3} s without)",
        (with / without - 1.0) * 100.0
    );
    if !hugo_times.is_empty() {
        let h = median(&mut hugo_times);
        println!(
            "  hugo      median {h:.3} s on the same entries (a minimal Hugo site): sportello takes {:.2}x Hugo's time",
            with / h
        );
    }
    if std::env::var_os("SPORTELLO_BENCH_KEEP").is_some() {
        eprintln!("kept {}", dir.keep().display());
    }
}

fn walk_html(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += walk_html(&p);
        } else if p.extension().is_some_and(|x| x == "html") {
            n += 1;
        }
    }
    n
}
