//! Who may start a TLS handshake. Handshakes in progress have their own
//! budget, in all and per IP address, apart from `max_connections`: a
//! socket that never finishes its handshake holds one handshake place for
//! at most `handshake_timeout_seconds`, never an operator's connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Admission {
    budget: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    per_address_max: usize,
}

/// A handshake place; given back when dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(max: usize, per_address_max: usize) -> Arc<Admission> {
        Arc::new(Admission {
            budget: Arc::new(Semaphore::new(max)),
            per_address: Mutex::new(HashMap::new()),
            per_address_max,
        })
    }

    /// A place for a handshake from `ip`, or `None` when that address or
    /// everybody together already has as many handshakes going as allowed
    /// (the connection is then closed at once, holding nothing).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Ticket> {
        let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_address_max {
            return None;
        }
        let permit = self.budget.clone().try_acquire_owned().ok()?;
        *n += 1;
        Some(Ticket {
            admission: self.clone(),
            ip,
            _permit: permit,
        })
    }

    #[cfg(test)]
    fn in_progress(&self, ip: IpAddr) -> usize {
        let map = self.per_address.lock().unwrap();
        map.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut map = self
            .admission
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_and_total_budgets_hold_and_are_given_back() {
        let a = Admission::new(3, 2);
        let x: IpAddr = "192.0.2.1".parse().unwrap();
        let y: IpAddr = "192.0.2.2".parse().unwrap();
        let t1 = a.admit(x).unwrap();
        let _t2 = a.admit(x).unwrap();
        assert!(a.admit(x).is_none(), "third from one address");
        let _t3 = a.admit(y).unwrap();
        assert!(a.admit(y).is_none(), "total budget of 3 reached");
        drop(t1);
        assert_eq!(a.in_progress(x), 1);
        assert!(a.admit(y).is_some(), "a place given back is usable");
    }
}
