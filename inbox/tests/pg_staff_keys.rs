//! On PostgreSQL, `staff add` and `staff remove` through the command line
//! of any machine reach every running replica without a restart: each
//! seals the next referrals to the new keys only.

mod common;

use common::pg::Postgres;
use common::*;

struct Setup {
    pg: Postgres,
    url: String,
    fx: Fixture,
}

impl Setup {
    fn client(&self) -> anyhow::Result<postgres::Client> {
        let mut cfg = self.pg.config.clone();
        cfg.url = self.url.clone();
        sportello_inbox::store::pg::connect(&cfg)
    }

    fn ciphertext(&self, reference: &str) -> anyhow::Result<Vec<u8>> {
        tokio::task::block_in_place(|| {
            Ok(self
                .client()?
                .query_one(
                    "SELECT ciphertext FROM inbox.referrals WHERE reference = $1",
                    &[&reference],
                )?
                .get(0))
        })
    }

    fn staff_ids(&self) -> anyhow::Result<Vec<i64>> {
        tokio::task::block_in_place(|| {
            Ok(self
                .client()?
                .query("SELECT id FROM inbox.staff ORDER BY id", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }
}

fn setup() -> anyhow::Result<Setup> {
    let pg = Postgres::start()?;
    let fx = Fixture::new(100_000, 100_000)?;
    let url = common::pg::use_postgres(&fx, &pg, "keys")?;
    let s = Setup { pg, url, fx };
    s.fx.add_staff("Staff Esempio", &s.fx.staff.public_armored, &[])?;
    Ok(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_seals_to_the_staff_keys_of_the_database() -> anyhow::Result<()> {
    // The sync PostgreSQL client must not run on the test's async threads.
    let s = tokio::task::block_in_place(setup)?;
    let giulia = s.fx.add_operator("Giulia Esempio", "via-mantova")?;
    let dir = s.fx.dir.path();
    let one = Server::start(&s.fx.config, &dir.join("one.log"))?;
    let two = Server::start(&s.fx.config, &dir.join("two.log"))?;
    let mut c1 = connect(one.https, &s.fx.ca, Some(&giulia)).await?;
    let mut c2 = connect(two.https, &s.fx.ca, Some(&giulia)).await?;
    for c in [&mut c1, &mut c2] {
        let r = submit(c, valid_fields("", "")).await?;
        assert!(decrypt(&s.fx.staff.secret, &s.ciphertext(&r)?).is_ok());
    }

    let old = s.staff_ids()?;
    let new = staff_keys();
    s.fx.add_staff("Staff Due", &new.public_armored, &[])?;
    bin(&[
        "staff",
        "remove",
        "--config",
        s.fx.config_str(),
        &old[0].to_string(),
    ])?;

    for c in [&mut c2, &mut c1] {
        let ct = submit_until_sealed_to(c, &new.secret, |r| s.ciphertext(r)).await?;
        assert!(
            decrypt(&s.fx.staff.secret, &ct).is_err(),
            "a removed staff key can still read a new referral"
        );
    }
    Ok(())
}
