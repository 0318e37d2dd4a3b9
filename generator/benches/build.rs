//! Build benchmark: a synthetic guide of N services (default 10,000), built
//! by the release binary into a tmpfs output several times.
//!
//!     cargo bench -p sportello --bench build
//!     SPORTELLO_BENCH_N=2000 SPORTELLO_BENCH_RUNS=5 cargo bench -p sportello --bench build
//!
//! `SPORTELLO_BENCH_KEEP=1` keeps the generated guide for profiling.
//!
//! These are first builds: each goes into a folder that does not exist
//! (the previous run's output is removed before the clock starts, for
//! Hugo's builds too) and writes every file. Then rebuilds into an existing output, on tmpfs and on the real
//! disk (`SPORTELLO_BENCH_DISK`, default the target directory's tmp folder):
//! a rebuild that changes nothing and one after a one-entry change, each
//! with the staging path (`--full-write`, every file written, as before)
//! and with the two trees (only changes written), interleaved;
//! `SPORTELLO_BENCH_REBUILD_RUNS` (default 3) times each.
//! `SPORTELLO_BENCH_ONLY=rebuild` runs only those.
//!
//! Prints the build time (best and median), pages per second, the peak
//! resident memory of the build process, what the search index adds to
//! the build time (each run also builds without it, interleaved), and the
//! time of Debian's `hugo` on the same entries as a minimal Hugo site
//! (installed with apt-get when missing; `SPORTELLO_BENCH_HUGO=0` skips
//! it), interleaved too, with the ratio.

mod synth;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What one run of the binary cost.
struct Measured {
    stderr: String,
    ok: bool,
    /// Peak RSS in MiB.
    rss: f64,
    /// System CPU time in seconds.
    sys: f64,
}

/// Runs `cmd` to the end; its stderr, whether it succeeded, its own peak
/// RSS and CPU times (wait4's, so that Hugo's runs do not count).
#[allow(clippy::zombie_processes)] // reaped by wait4 below
fn run_measured(cmd: &mut Command) -> Measured {
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
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measured {
        stderr,
        ok,
        rss: usage.ru_maxrss as f64 / 1024.0,
        sys: secs(usage.ru_stime),
    }
}

fn main() {
    let n = synth::env_usize("SPORTELLO_BENCH_N", 10_000);
    let runs = synth::env_usize("SPORTELLO_BENCH_RUNS", 5).max(1);
    let root = synth::repo_root();
    let dir = synth::scratch_dir("sportello-bench-");
    let content = dir.path().join("content");
    let output = dir.path().join("public");
    // First builds: the previous run's output is removed before each is
    // timed (an editor's rebuild over it is measured by `rebuilds`).
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
    // Every build's peak, in order: an outlier shows which build it was.
    let peaks = std::cell::RefCell::new(Vec::<(bool, f64)>::new());
    let build = |index: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sportello"));
        cmd.arg("build")
            .arg("--content")
            .arg(&content)
            .arg("--theme")
            .arg(root.join("themes/default"))
            .arg("--output")
            .arg(if index { &output } else { &bare_output })
            .arg("--timings")
            .arg("--full-write");
        if !index {
            cmd.arg("--no-search-index");
        }
        remove_output(if index { &output } else { &bare_output });
        let t = Instant::now();
        let m = run_measured(&mut cmd);
        let elapsed = t.elapsed().as_secs_f64();
        assert!(m.ok, "build failed:\n{}", m.stderr);
        peaks.borrow_mut().push((index, m.rss));
        (elapsed, m.stderr)
    };
    let only_rebuild = std::env::var("SPORTELLO_BENCH_ONLY").as_deref() == Ok("rebuild");
    if only_rebuild {
        rebuilds(&content, n, &dir);
        if std::env::var_os("SPORTELLO_BENCH_KEEP").is_some() {
            eprintln!("kept {}", dir.keep().display());
        }
        return;
    }
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
        remove_output(&dir.path().join("hugo-public"));
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
    let peaks = peaks.into_inner();
    let list = |index: bool| {
        peaks
            .iter()
            .filter(|p| p.0 == index)
            .map(|p| format!("{:.0}", p.1))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "  peak RSS  {:.0} MiB, the highest of the sportello builds (MiB with the index: {}; without: {})",
        peaks.iter().map(|p| p.1).fold(0.0, f64::max),
        list(true),
        list(false)
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
    rebuilds(&content, n, &dir);
    if std::env::var_os("SPORTELLO_BENCH_KEEP").is_some() {
        eprintln!("kept {}", dir.keep().display());
    }
}

/// Removes a previous run's output, so the next build is a first build.
fn remove_output(dir: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("remove the previous output");
    }
}

/// Rebuilds into an existing output on tmpfs and on the disk; see the top.
fn rebuilds(content: &Path, n: usize, scratch: &tempfile::TempDir) {
    let runs = synth::env_usize("SPORTELLO_BENCH_REBUILD_RUNS", 3).max(1);
    let disk_base = std::env::var_os("SPORTELLO_BENCH_DISK")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&disk_base).unwrap();
    let disk = tempfile::Builder::new()
        .prefix("sportello-bench-")
        .tempdir_in(&disk_base)
        .unwrap();
    let mut variant = 0u64;
    println!(
        "rebuild benchmark: {n} services, {runs} runs each, median wall time (median system CPU time)"
    );
    for base in [scratch.path(), disk.path()] {
        let fs = fs_name(base);
        let mut times: [[Vec<(f64, f64)>; 2]; 2] = Default::default();
        let mut written = [[0usize; 2]; 2];
        let outputs = [base.join("out-staging"), base.join("out-two-trees")];
        // A first build of each, and a first change, after which the two
        // trees exist: what an editor's later rebuilds find.
        for round in 0..2 {
            if round == 1 {
                variant += 1;
                change_one(content, n, variant);
            }
            for (mode, out) in outputs.iter().enumerate() {
                rebuild(content, out, mode == 0);
            }
        }
        for run in 0..runs {
            for kind in 0..2 {
                if kind == 1 {
                    variant += 1;
                    change_one(content, n, variant);
                }
                // Alternate which mode goes first, so neither always
                // finds the other's writes still being flushed.
                for k in 0..2 {
                    let mode = (k + run) % 2;
                    let (wall, sys, w) = rebuild(content, &outputs[mode], mode == 0);
                    times[kind][mode].push((wall, sys));
                    written[kind][mode] = w;
                }
            }
        }
        for (kind, what) in ["no change", "one change"].iter().enumerate() {
            // Medians of wall and of system time, each on its own.
            let m = |mode: usize| {
                let (mut wall, mut sys): (Vec<f64>, Vec<f64>) =
                    times[kind][mode].iter().copied().unzip();
                wall.sort_by(f64::total_cmp);
                sys.sort_by(f64::total_cmp);
                (wall[wall.len() / 2], sys[sys.len() / 2])
            };
            let (before, after) = (m(0), m(1));
            println!(
                "  {fs:<6} {what:<10}  staging {:.3} s ({:.2} s sys, {} files written)  two trees {:.3} s ({:.2} s sys, {} written)",
                before.0, before.1, written[kind][0], after.0, after.1, written[kind][1]
            );
        }
        println!("         (output in {})", base.display());
    }
}

/// Gives one service (entry 42, or the last) another title and text.
fn change_one(content: &Path, n: usize, variant: u64) {
    let i = 42.min(n - 1);
    std::fs::write(
        content.join(format!("services/{}.md", synth::service_slug(i))),
        synth::service_text(i, n, variant),
    )
    .unwrap();
}

/// One build into `output`: wall and system time, files written.
fn rebuild(content: &Path, output: &Path, full_write: bool) -> (f64, f64, usize) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sportello"));
    cmd.arg("build")
        .arg("--content")
        .arg(content)
        .arg("--theme")
        .arg(synth::repo_root().join("themes/default"))
        .arg("--output")
        .arg(output);
    if full_write {
        cmd.arg("--full-write");
    }
    let t = Instant::now();
    let m = run_measured(&mut cmd);
    let wall = t.elapsed().as_secs_f64();
    assert!(m.ok, "build failed:\n{}", m.stderr);
    // "built … (N written)" or "(nothing changed)".
    let written = m
        .stderr
        .lines()
        .find(|l| l.starts_with("built"))
        .and_then(|l| l.rsplit_once('(')?.1.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    (wall, m.sys, written)
}

/// The kind of file system `path` is on.
fn fs_name(path: &Path) -> String {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: a NUL-terminated path and a struct we own, read only on success.
    let f_type = unsafe {
        if libc::statfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return "?".into();
        }
        st.assume_init().f_type
    };
    match f_type as i64 {
        0x0102_1994 => "tmpfs".into(),
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        other => format!("{other:#x}"),
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
