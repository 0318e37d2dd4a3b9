//! CSRF tokens: an HMAC of the operator's certificate hash and the time of
//! issue. A page on another site cannot read it, so it cannot forge a post
//! even though the browser would present the operator's certificate.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ring::hmac;

/// How long a form stays valid: a long phone call plus a coffee.
const MAX_AGE_SECS: i64 = 12 * 3600;

pub struct Csrf {
    key: hmac::Key,
}

impl Csrf {
    pub fn load(path: &Path) -> Result<Csrf> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the CSRF key {}", path.display()))?;
        if bytes.len() < 32 {
            bail!("{} is too short: 32 random bytes expected", path.display());
        }
        Ok(Csrf {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    fn mac(&self, binding: &str, ts: i64) -> hmac::Tag {
        hmac::sign(&self.key, format!("csrf|{binding}|{ts}").as_bytes())
    }

    /// A keyed fingerprint of a validated form's content, bound to the
    /// operator: equal forms give equal values, and without the server's key
    /// nobody can test a guess of the content against a stored value.
    pub fn content_mac(&self, binding: &str, content: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"content|");
        ctx.update(binding.as_bytes());
        ctx.update(b"|");
        ctx.update(content);
        hex::encode(ctx.sign().as_ref())
    }

    pub fn issue(&self, binding: &str, now: i64) -> String {
        format!("{now}.{}", hex::encode(self.mac(binding, now).as_ref()))
    }

    pub fn verify(&self, binding: &str, token: &str, now: i64) -> bool {
        let Some((ts, mac)) = token.split_once('.') else {
            return false;
        };
        let (Ok(ts), Ok(mac)) = (ts.parse::<i64>(), hex::decode(mac)) else {
            return false;
        };
        if ts > now + 60 || now - ts > MAX_AGE_SECS {
            return false;
        }
        hmac::verify(&self.key, format!("csrf|{binding}|{ts}").as_bytes(), &mac).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csrf() -> Csrf {
        Csrf {
            key: hmac::Key::new(hmac::HMAC_SHA256, &[7u8; 32]),
        }
    }

    #[test]
    fn bound_to_operator_and_time() {
        let c = csrf();
        let t = c.issue("aa", 1_000_000);
        assert!(c.verify("aa", &t, 1_000_100));
        assert!(!c.verify("bb", &t, 1_000_100), "another certificate");
        assert!(!c.verify("aa", &t, 1_000_000 + MAX_AGE_SECS + 1), "expired");
        assert!(!c.verify("aa", &t, 999_000), "from the future");
        assert!(!c.verify("aa", "garbage", 1_000_100));
        assert!(!c.verify("aa", &t.replace('.', ".0"), 1_000_100));
    }
}
