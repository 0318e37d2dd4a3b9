//! Build benchmark: a synthetic guide of N services (default 10,000), built
//! by the release binary into a tmpfs output several times.
//!
//!     cargo bench -p sportello --bench build
//!     SPORTELLO_BENCH_N=2000 SPORTELLO_BENCH_RUNS=5 cargo bench -p sportello --bench build
//!
//! `SPORTELLO_BENCH_KEEP=1` keeps the generated guide for profiling.
//!
//! Prints the build time (best and median), pages per second and the peak
//! resident memory of the build process.

mod synth;

use std::process::Command;
use std::time::Instant;

/// Peak RSS in MiB of the largest child waited for so far (Linux: KiB).
fn children_peak_rss_mib() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct we own.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    let n = synth::env_usize("SPORTELLO_BENCH_N", 10_000);
    let runs = synth::env_usize("SPORTELLO_BENCH_RUNS", 5).max(1);
    let root = synth::repo_root();
    let dir = synth::scratch_dir("sportello-bench-");
    let content = dir.path().join("content");
    let output = dir.path().join("public");
    let t = Instant::now();
    synth::write_guide(&content, n);
    eprintln!(
        "generated {n} services in {:.2?} under {}",
        t.elapsed(),
        dir.path().display()
    );

    let mut times = Vec::new();
    let mut pages = 0usize;
    for run in 0..runs {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_sportello"))
            .arg("build")
            .arg("--content")
            .arg(&content)
            .arg("--theme")
            .arg(root.join("themes/default"))
            .arg("--output")
            .arg(&output)
            .arg("--timings")
            .output()
            .expect("run sportello");
        let elapsed = t.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "build failed:\n{stderr}");
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
        times.push(elapsed.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let best = times[0];
    let median = times[times.len() / 2];
    println!(
        "build benchmark: {n} services, {pages} HTML pages, {runs} runs, output on {}",
        dir.path().parent().unwrap_or(dir.path()).display()
    );
    println!("  time      best {best:.3} s, median {median:.3} s");
    println!("  speed     {:.0} pages/s (median)", pages as f64 / median);
    println!("  peak RSS  {:.0} MiB", children_peak_rss_mib());
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
