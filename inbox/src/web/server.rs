//! The accept loop: TLS handshake (client certificate required), identify
//! the operator once per connection, then serve HTTP/1.1 with hyper.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::{csrf::Csrf, ratelimit::Limiter, router, AppState, Identity};
use crate::config::Config;
use crate::form::Options;
use crate::seal::{Recipients, StaffKey};
use crate::{pki, store, tls};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an open connection re-reads its operator from the database.
const RECHECK: Duration = Duration::from_secs(5);

/// Runs the server until SIGINT or SIGTERM.
pub fn serve(cfg: &Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run(cfg));
    // Acknowledged referrals are already on disk: no need to wait long.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn run(cfg: &Config) -> Result<()> {
    // One server per data directory: the reference counter lives in memory.
    let lock_path = cfg.paths.data_dir.join("serve.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "another sportello-inbox serve is using {}",
            cfg.paths.data_dir.display()
        );
    }

    let db = cfg.database();
    let reader = store::open(&db)?;
    let staff = store::staff(&reader)?;
    let keys = staff
        .iter()
        .map(|s| {
            StaffKey::parse(s.public_key.as_bytes())
                .with_context(|| format!("staff key {} ({})", s.id, s.fingerprint))
        })
        .collect::<Result<Vec<_>>>()?;
    let recipients = Recipients::new(keys)?;
    let year = time::OffsetDateTime::now_utc().year();
    let last = store::last_sequence(&reader, year)?;
    let state = Arc::new(AppState {
        opts: Options::from_config(&cfg.form)?,
        recipients,
        writer: store::Writer::start(&db)?,
        reader: Mutex::new(reader),
        csrf: Csrf::load(&cfg.csrf_key())?,
        limiter: Limiter::new(cfg.limits.submissions_per_minute, cfg.limits.burst),
        sequence: Mutex::new((year, last)),
    });
    let acceptor = TlsAcceptor::from(tls::server_config(cfg)?);
    let app = router(state.clone());

    let listener = TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.server.listen))?;
    let health = TcpListener::bind(cfg.server.health_listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.server.health_listen))?;
    let https_addr = listener.local_addr()?;
    let health_addr = health.local_addr()?;
    tracing::info!(%https_addr, %health_addr, staff_keys = state.recipients.len(), "serving");
    // A stable line on stdout for scripts and tests (ports may be 0 in config).
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening https://{https_addr} health http://{health_addr}/healthz"
        )?;
        out.flush()?;
    }

    let health_app = axum::Router::new().route("/healthz", axum::routing::get(healthz));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(health, health_app).await {
            tracing::error!(error = %e, "health server stopped");
        }
    });

    let slots = Arc::new(Semaphore::new(cfg.limits.max_connections));
    let accept = async {
        loop {
            let permit = slots.clone().acquire_owned().await?;
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let app = app.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::info!(%peer, error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let sha = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| pki::sha256_hex(c))
                    .unwrap_or_default();
                let current = Mutex::new((Instant::now(), identify(&state, &sha)));
                let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                    // Re-check now and then, so that a revocation also ends
                    // what a keep-alive connection already opened may do.
                    let identity = {
                        let mut cur = current.lock().unwrap_or_else(|e| e.into_inner());
                        if cur.0.elapsed() > RECHECK {
                            *cur = (Instant::now(), identify(&state, &sha));
                        }
                        cur.1.clone()
                    };
                    req.extensions_mut().insert(identity);
                    app.clone().oneshot(req)
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(tls), svc);
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection closed with error");
                }
            });
        }
        #[allow(unreachable_code)]
        Ok::<(), anyhow::Error>(())
    };
    tokio::select! {
        r = accept => r,
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
}

fn identify(state: &AppState, sha: &str) -> Identity {
    // The handshake already checked chain, expiry and CRL; the database
    // adds the operator's desk and a second, independent revocation check.
    let operator = match state.with_reader(|c| store::operator_by_cert(c, sha)) {
        Ok(op) => op.map(Arc::new),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "operator lookup failed");
            None
        }
    };
    Identity {
        cert_sha256: sha.to_string(),
        operator,
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
