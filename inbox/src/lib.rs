//! Sportello inbox: help-desk operators send referrals over mutual TLS; each
//! referral is sealed with OpenPGP to the staff keys and committed to SQLite
//! before the operator sees its reference.
//!
//! Modules follow the path of a referral:
//! `tls` (who is connecting) -> `form` (what was sent) -> `seal` (encrypt)
//! -> `store` (commit) -> `deliver` (mail to the staff) -> `retention`
//! (forget) ; `care` holds the staff's states (set on the staff site,
//! `web::staff`); `pki` and `admin` set things up, `stats` counts, `backup` copies.

pub mod admin;
pub mod backup;
pub mod care;
pub mod cli;
mod cli_stats;
pub mod config;
pub mod contact;
pub mod deliver;
pub mod form;
pub mod fsutil;
pub mod kinds;
pub mod municipality;
pub mod pki;
pub mod report;
pub mod retention;
pub mod seal;
pub mod stats;
pub mod store;
pub mod tls;
pub mod web;
pub mod workdays;
