//! The accept loop: TLS handshake (client certificate required), identify
//! the operator once per connection, then serve HTTP/1.1 with hyper.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::admission::Admission;
use super::{csrf::Csrf, ratelimit::Limiter, router, staff, AppState, Identity};
use crate::config::{Config, StoreKind};
use crate::form::Options;
use crate::seal::{Recipients, StaffKey};
use crate::{deliver, pki, retention, store, tls};

const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an open connection re-reads its operator from the database.
const RECHECK: Duration = Duration::from_secs(5);
/// Read connections of a replica on PostgreSQL (operator look-ups, the
/// reference counter, the operators' lists).
const PG_READERS: usize = 4;
/// Connections of the staff site on PostgreSQL (a state change holds one
/// while it waits for another replica's change to the same referral).
const STAFF_PG_CONNECTIONS: usize = 2;
/// At shutdown, how long requests in flight may take to finish.
const DRAIN: Duration = Duration::from_secs(20);

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
    let postgres = match &cfg.store_kind {
        StoreKind::Sqlite => None,
        StoreKind::Postgres(p) => Some(p.clone()),
    };
    // One server per data directory on SQLite: the reference counter lives
    // in memory. On PostgreSQL the replicas share the counter in the database.
    let _lock = match postgres {
        None => Some(lock_data_dir(cfg)?),
        Some(_) => None,
    };
    let db = cfg.database();
    let mut reader = store::db::blocking(|| store::db::Db::open(cfg))?;
    let year = time::OffsetDateTime::now_utc().year();
    let (recipients, last) = store::db::blocking(|| -> Result<_> {
        reader.adopt_earlier_rows(&cfg.municipalities())?;
        crate::municipality::refuse_orphan_queue(&reader.queued_by_municipality()?, cfg)?;
        let recipients =
            crate::municipality::recipients_from(reader.staff()?, &reader.operators()?, cfg)?;
        let last = match &reader {
            store::db::Db::Sqlite(c) => store::last_sequence(c, year)?,
            store::db::Db::Pg(_) => 0,
        };
        Ok((recipients, last))
    })?;
    for r in recipients.values() {
        warn_expiring(r.keys());
    }
    let mut readers = vec![reader];
    if postgres.is_some() {
        for _ in 1..PG_READERS {
            readers.push(store::db::blocking(|| store::db::Db::open(cfg))?);
        }
    }
    let writer = match &postgres {
        None => store::Writer::start(&db)?,
        Some(p) => store::Writer::start_backend(Box::new(store::db::blocking(|| {
            store::pg::Pg::connect(p)
        })?))?,
    };
    let delivery = store::db::blocking(|| deliver::start(cfg, writer.committed()))?;
    let purge = match &postgres {
        None => Some(tokio::spawn(purge_loop(cfg.clone()))),
        Some(p) => {
            super::replica::start_jobs(cfg.clone(), p.clone())?;
            None
        }
    };
    let register = store::db::blocking(|| store::db::Db::open(cfg))?;
    let recipients = Arc::new(super::keys::StaffKeys::new(recipients));
    super::keys::start_reload(cfg.clone(), recipients.clone())?;
    let state = Arc::new(AppState {
        opts: Options::from_config(&cfg.form)?,
        recipients,
        municipalities: cfg.municipalities(),
        writer,
        reader: store::db::Readers::new(readers),
        csrf: Csrf::load(&cfg.csrf_key())?,
        limiter: Limiter::new(cfg.limits.submissions_per_minute, cfg.limits.burst),
        sequence: Mutex::new((year, last)),
        body_timeout: Duration::from_secs(cfg.limits.body_timeout_seconds),
        staff: cfg.staff.clone(),
        register: Mutex::new(register),
        contact_limiter: Limiter::new(
            cfg.limits.submissions_per_minute.saturating_mul(3),
            cfg.limits.burst.saturating_mul(3),
        ),
        contact_lists: crate::contact::Lists::from_config(&cfg.form)?,
        report_names: crate::report::Names::from_config(cfg)?,
        min_cell: cfg.report.min_cell,
    });
    let acceptor = TlsAcceptor::from(tls::server_config(cfg)?);
    let app = router(state.clone());

    let listener = TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.server.listen))?;
    let health = TcpListener::bind(cfg.server.health_listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.server.health_listen))?;
    let staff_site = match &cfg.staff {
        Some(site) => Some((
            staff::bind(site.listen).await?,
            staff_state(cfg, &state.opts)?,
        )),
        None => None,
    };
    let https_addr = listener.local_addr()?;
    let health_addr = health.local_addr()?;
    let staff_addr = match &staff_site {
        Some((l, _)) => format!(" staff https://{}", l.local_addr()?),
        None => String::new(),
    };
    tracing::info!(%https_addr, %health_addr, staff = %staff_addr, staff_keys = state.recipients.get().values().map(Recipients::len).sum::<usize>(), municipalities = state.recipients.get().len(), "serving");
    // A stable line on stdout for scripts and tests (ports may be 0 in config).
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening https://{https_addr} health http://{health_addr}/healthz{staff_addr}"
        )?;
        out.flush()?;
    }

    let checks = Arc::new(HealthChecks {
        db: db.clone(),
        pg: postgres.map(|p| (p, Mutex::new(None))),
        writer: state.writer.clone(),
        delivery: delivery
            .as_ref()
            .map(|d| (d.health.clone(), d.heartbeat_limit)),
        stalled_after: cfg.health.delivery_stalled_seconds,
    });
    let health_app = axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .with_state(checks);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(health, health_app).await {
            tracing::error!(error = %e, "health server stopped");
        }
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let handshake_timeout = Duration::from_secs(cfg.limits.handshake_timeout_seconds);
    if let Some((listener, st)) = staff_site {
        let acceptor = TlsAcceptor::from(tls::staff_config(cfg)?);
        tokio::spawn(staff::serve(
            listener,
            acceptor,
            staff::router(Arc::new(st)),
            // Its own budget: a flood of handshakes on the staff site
            // leaves the operators' handshakes alone, and the reverse.
            Admission::new(cfg.limits.max_handshakes, cfg.limits.handshakes_per_address),
            cfg.limits.max_connections,
            handshake_timeout,
            stop_rx.clone(),
        ));
    }
    // Only connections that finished their handshake hold one of these.
    let slots = Arc::new(Semaphore::new(cfg.limits.max_connections));
    let admission = Admission::new(cfg.limits.max_handshakes, cfg.limits.handshakes_per_address);
    // `stop_tx` flips to true at SIGTERM/Ctrl-C: each connection finishes
    // the request it is serving, then closes.
    let accept = async {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(ticket) = admission.admit(peer.ip()) else {
                tracing::debug!(%peer, "too many handshakes in progress: connection closed");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let app = app.clone();
            let state = state.clone();
            let slots = slots.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await
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
                drop(ticket);
                let permit =
                    match tokio::time::timeout(handshake_timeout, slots.acquire_owned()).await {
                        Ok(Ok(p)) => p,
                        _ => {
                            tracing::warn!(%peer, "max_connections reached: connection closed");
                            return;
                        }
                    };
                let _permit = permit;
                let leaf = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec())
                    .unwrap_or_default();
                let sha = pki::sha256_hex(&leaf);
                // A resumed TLS 1.3 session skips certificate verification:
                // expiry is checked here on every request instead.
                let not_after = pki::not_after(&leaf);
                let current = Mutex::new((Instant::now(), identify(&state, &sha)));
                let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                    // Re-check now and then, so that a revocation also ends
                    // what a keep-alive connection already opened may do.
                    let mut identity = {
                        let mut cur = current.lock().unwrap_or_else(|e| e.into_inner());
                        if cur.0.elapsed() > RECHECK {
                            *cur = (Instant::now(), identify(&state, &sha));
                        }
                        cur.1.clone()
                    };
                    identity.expired =
                        not_after.is_none_or(|t| time::OffsetDateTime::now_utc() > t);
                    req.extensions_mut().insert(identity);
                    app.clone().oneshot(req)
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(tls), svc);
                tokio::pin!(conn);
                let result = tokio::select! {
                    r = conn.as_mut() => r,
                    _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection closed with error");
                }
            });
        }
        #[allow(unreachable_code)]
        Ok::<(), anyhow::Error>(())
    };
    let result = tokio::select! {
        r = accept => r,
        _ = shutdown_signal() => Ok(()),
    };
    // Graceful shutdown: stop accepting, let the requests in flight finish
    // (their referrals are committed before they are answered), then let
    // the delivery worker finish the mail it is sending.
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(cfg.limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy after {DRAIN:?}; closing them");
    }
    if let Some(p) = purge {
        p.abort();
    }
    if let Some(d) = delivery {
        let grace = cfg
            .mail
            .as_ref()
            .map_or(5, |m| m.timeout_seconds.min(30) + 2);
        d.stop(Duration::from_secs(grace)).await;
    }
    tracing::info!("stopped");
    result
}

/// Takes the lock on the data directory (SQLite: one server per file).
fn lock_data_dir(cfg: &Config) -> Result<std::fs::File> {
    match crate::fsutil::try_lock_data_dir(&cfg.paths.data_dir)? {
        Some(lock) => Ok(lock),
        None => bail!(
            "another sportello-inbox serve is using {}",
            cfg.paths.data_dir.display()
        ),
    }
}

/// The staff site's state: labels and lists from the configuration and
/// the guide, its own database connection(s) to the configured store.
fn staff_state(cfg: &Config, opts: &Options) -> Result<staff::StaffState> {
    let site = cfg.staff.as_ref().context("no [staff] section")?;
    let services: Vec<crate::config::Choice> = opts
        .services
        .iter()
        .map(|s| crate::config::Choice {
            slug: s.slug.clone(),
            label: s.title.clone(),
        })
        .collect();
    let mut targets = site.offices.clone();
    targets.extend(services.iter().cloned());
    Ok(staff::StaffState {
        need_areas: opts.need_areas.clone(),
        targets,
        services,
        db: store::db::Readers::new(store::db::blocking(|| -> Result<_> {
            let n = if matches!(cfg.store_kind, StoreKind::Postgres(_)) {
                STAFF_PG_CONNECTIONS
            } else {
                1
            };
            (0..n).map(|_| store::db::Db::open(cfg)).collect()
        })?),
        municipalities: cfg.municipalities(),
        csrf: Csrf::load(&cfg.csrf_key())?,
        limiter: Limiter::new(site.requests_per_minute, site.burst),
        body_timeout: Duration::from_secs(cfg.limits.body_timeout_seconds),
    })
}

/// A staff key whose last encryption subkey expires within 30 days: the
/// staff must extend it before referrals can no longer be encrypted.
fn warn_expiring(keys: &[StaffKey]) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for k in keys {
        if let Some(t) = k.expires_at(now) {
            let days = (t - now) / 86_400;
            if days <= 30 {
                tracing::warn!(fingerprint = %k.fingerprint, days,
                    "staff key expires soon: ask the staff to extend it, then `staff remove` and `staff add` the new export");
            }
        }
    }
}

/// Retention at start, then every `purge_interval_seconds`.
async fn purge_loop(cfg: Config) {
    let interval = Duration::from_secs(cfg.retention.purge_interval_seconds);
    loop {
        let c = cfg.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut conn = store::open(&c.database())?;
            retention::purge(
                &mut conn,
                &c.retention,
                c.staff.as_ref().map(|s| s.link_days),
                time::OffsetDateTime::now_utc(),
            )
        })
        .await;
        match r {
            Ok(Ok(p)) if p != retention::Purged::default() => tracing::info!(
                ciphertexts = p.ciphertexts,
                referrals = p.referrals,
                audit = p.audit,
                "retention purge"
            ),
            Ok(Ok(_)) => tracing::debug!("retention purge: nothing to do"),
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "retention purge failed"),
            Err(e) => tracing::error!(error = %e, "retention purge panicked"),
        }
        tokio::time::sleep(interval).await;
    }
}

fn identify(state: &AppState, sha: &str) -> Identity {
    // The handshake already checked chain, expiry and CRL; the database
    // adds the operator's desk and a second, independent revocation check.
    let operator = match state.with_db(|db| db.operator_by_cert(sha)) {
        Ok(op) => op.map(Arc::new),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "operator lookup failed");
            None
        }
    };
    Identity {
        cert_sha256: sha.to_string(),
        operator,
        expired: false,
    }
}

/// What `/healthz` looks at.
struct HealthChecks {
    db: std::path::PathBuf,
    /// On PostgreSQL: where, and the connection kept between probes.
    pg: Option<(
        crate::store::pg::PgConfig,
        Mutex<Option<Box<crate::store::pg::Pg>>>,
    )>,
    writer: store::Writer,
    delivery: Option<(Arc<deliver::Health>, Duration)>,
    stalled_after: u64,
}

impl HealthChecks {
    /// A fresh SQLite connection each time (as before), or the kept
    /// PostgreSQL one (reopened after a failure).
    fn with_store<T>(&self, f: impl FnOnce(&mut store::db::Db) -> Result<T>) -> Result<T> {
        let Some((cfg, kept)) = &self.pg else {
            return f(&mut store::db::Db::Sqlite(store::open(&self.db)?));
        };
        let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
        let mut db = match kept.take() {
            Some(p) => store::db::Db::Pg(p),
            None => store::db::Db::Pg(Box::new(crate::store::pg::Pg::connect(cfg)?)),
        };
        let out = f(&mut db);
        if let (Ok(_), store::db::Db::Pg(p)) = (&out, db) {
            *kept = Some(p);
        }
        out
    }

    /// The first reason the inbox is not doing its job, if any.
    fn problem(&self) -> Option<String> {
        if self.writer.failing() {
            match self.with_store(|db| db.probe_write()) {
                Ok(()) => self.writer.recovered(),
                Err(e) => return Some(format!("store: cannot write: {e:#}")),
            }
        }
        let (health, heartbeat_limit) = self.delivery.as_ref()?;
        if health.store_failing() {
            return Some("store: delivery outcomes cannot be written".into());
        }
        let now = time::OffsetDateTime::now_utc();
        let t = now.unix_timestamp();
        let beat = health.heartbeat_age(t);
        if beat > heartbeat_limit.as_secs() as i64 {
            return Some(format!("delivery: the worker has not run for {beat} s"));
        }
        let oldest = self.with_store(|db| db.oldest_queued());
        let oldest = match oldest {
            Ok(o) => o.and_then(|s| store::parse_rfc3339(&s)),
            Err(e) => return Some(format!("store: cannot read the queue: {e:#}")),
        };
        let limit = self.stalled_after as i64;
        if let Some(since) = oldest {
            let waiting = (now - since).whole_seconds();
            let progress = health.progress_age(t);
            if waiting > limit && progress > limit {
                return Some(format!(
                    "delivery: stalled, a referral queued for {waiting} s and no mail accepted for {progress} s"
                ));
            }
        }
        None
    }
}

async fn healthz(
    axum::extract::State(checks): axum::extract::State<Arc<HealthChecks>>,
) -> (axum::http::StatusCode, String) {
    let c = checks.clone();
    let problem = tokio::task::spawn_blocking(move || c.problem())
        .await
        .unwrap_or_else(|_| Some("health check panicked".into()));
    match problem {
        None => (axum::http::StatusCode::OK, "ok\n".into()),
        Some(p) => {
            tracing::warn!(reason = %p, "health check failing");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("{p}\n"),
            )
        }
    }
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
