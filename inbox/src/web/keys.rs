//! The staff keys a running server seals to, re-read from the store every
//! few seconds: `staff add` and `staff remove`, through any machine, reach
//! every `serve` (every replica on PostgreSQL) without a restart. A set
//! that no longer makes sense (a municipality left without keys, a key
//! that does not parse) is refused: the server keeps sealing to the last
//! good set and says why in its log.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;

use crate::config::Config;
use crate::seal::Recipients;
use crate::store::db::Db;
use crate::store::Staff;

/// How often the staff table is compared with the keys in use.
pub const RELOAD_EVERY: Duration = Duration::from_secs(3);

type ByMunicipality = BTreeMap<String, Recipients>;

/// Each municipality's staff keys, by slug, swapped whole.
pub struct StaffKeys {
    current: RwLock<Arc<ByMunicipality>>,
}

impl StaffKeys {
    pub fn new(keys: ByMunicipality) -> StaffKeys {
        StaffKeys {
            current: RwLock::new(Arc::new(keys)),
        }
    }

    /// The set in use now; a submission seals to one set from start to end.
    pub fn get(&self) -> Arc<ByMunicipality> {
        // A panic cannot happen while the lock is held (only an Arc is
        // cloned or replaced), so a poisoned lock still holds a whole set.
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, keys: ByMunicipality) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
    }
}

/// What identifies a set of staff rows: a change of any reloads the keys.
fn signature(staff: &[Staff]) -> Vec<(i64, String, Option<String>)> {
    staff
        .iter()
        .map(|s| (s.id, s.fingerprint.clone(), s.municipality.clone()))
        .collect()
}

/// Starts the thread that keeps `keys` equal to the store's staff table.
pub fn start_reload(cfg: Config, keys: Arc<StaffKeys>) -> Result<()> {
    std::thread::Builder::new()
        .name("staff-keys".into())
        .spawn(move || reload_loop(&cfg, &keys))?;
    Ok(())
}

fn reload_loop(cfg: &Config, keys: &StaffKeys) {
    let mut db: Option<Db> = None;
    let mut last = None;
    let mut refused = None;
    loop {
        std::thread::sleep(RELOAD_EVERY);
        let conn = match db.as_mut() {
            Some(c) => c,
            None => match Db::open(cfg) {
                Ok(c) => db.insert(c),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "staff keys: cannot open the store");
                    continue;
                }
            },
        };
        let staff = match conn.staff() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "staff keys: cannot read the staff table");
                db = None;
                continue;
            }
        };
        let sig = signature(&staff);
        // The first look reloads too: `staff add` may have run between the
        // start of `serve` and now.
        if last.as_ref() == Some(&sig) {
            continue;
        }
        // A municipality left without keys is refused here, as at start.
        let fresh = conn
            .operators()
            .and_then(|operators| crate::municipality::recipients_from(staff, &operators, cfg));
        match fresh {
            Ok(set) => {
                if last.is_some() {
                    tracing::info!(
                        staff_keys = set.values().map(Recipients::len).sum::<usize>(),
                        municipalities = set.len(),
                        "staff keys reloaded from the store"
                    );
                }
                keys.set(set);
                last = Some(sig);
                refused = None;
            }
            Err(e) => {
                let why = format!("{e:#}");
                if refused.as_ref() != Some(&why) {
                    tracing::error!(error = %why,
                        "staff keys changed in the store but cannot be used: still sealing to the previous keys");
                    refused = Some(why);
                }
            }
        }
    }
}
