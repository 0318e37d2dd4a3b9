//! Taking charge ("presa in carico"): the states the municipality's staff
//! set on a referral through the link inside the encrypted mail, and the
//! rules between them. No free text except the staff member's name: free
//! text would invite personal data onto a server that promises none.

use std::fmt;

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// The longest staff member's name accepted.
pub const MAX_NAME: usize = 80;

/// A state the staff set. A referral without any is "in attesa".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Someone took the case: their name, maybe a planned first contact.
    PresaInCarico,
    /// Redirected to another office or service of the guide.
    NonDiCompetenza,
    /// The person could not be reached.
    NonRintracciabile,
    /// Closed, with an outcome from a list.
    Chiusa,
}

impl State {
    pub const ALL: [State; 4] = [
        State::PresaInCarico,
        State::NonDiCompetenza,
        State::NonRintracciabile,
        State::Chiusa,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            State::PresaInCarico => "presa_in_carico",
            State::NonDiCompetenza => "non_di_competenza",
            State::NonRintracciabile => "non_rintracciabile",
            State::Chiusa => "chiusa",
        }
    }

    pub fn from_slug(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.slug() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            State::PresaInCarico => "Presa in carico",
            State::NonDiCompetenza => "Non di competenza",
            State::NonRintracciabile => "Persona non rintracciabile",
            State::Chiusa => "Chiusa",
        }
    }

    /// The states that may follow `current` (`None`: in attesa).
    /// "Non di competenza" and "chiusa" are final; a person not reachable
    /// may be reached later, or the case closed.
    pub fn allowed_after(current: Option<State>) -> &'static [State] {
        match current {
            None => &[
                State::PresaInCarico,
                State::NonDiCompetenza,
                State::NonRintracciabile,
            ],
            Some(State::PresaInCarico) => &[State::NonRintracciabile, State::Chiusa],
            Some(State::NonRintracciabile) => &[State::PresaInCarico, State::Chiusa],
            Some(State::NonDiCompetenza) | Some(State::Chiusa) => &[],
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl ToSql for State {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.slug()))
    }
}

impl FromSql for State {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        State::from_slug(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown state {s:?}").into()))
    }
}

/// Outcomes of a closed referral: a fixed list.
pub const OUTCOMES: &[(&str, &str)] = &[
    ("servizio_attivato", "Servizio attivato"),
    ("informazioni", "Risolta con informazioni"),
    ("rifiutata", "Rifiutata dalla persona"),
    ("altro", "Altro"),
];

pub fn outcome_label(slug: &str) -> &str {
    OUTCOMES.iter().find(|o| o.0 == slug).map_or(slug, |o| o.1)
}

/// A new state with what goes with it (already checked against the lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub state: State,
    /// Presa in carico: who.
    pub staff_name: Option<String>,
    /// Presa in carico: planned first contact (YYYY-MM-DD).
    pub planned_contact: Option<String>,
    /// Non di competenza: the office or service slug; chiusa with
    /// "servizio attivato": the service slug.
    pub target: Option<String>,
    /// Chiusa: the outcome slug.
    pub outcome: Option<String>,
}

/// The token of the staff link: 128 random bits, as 32 hex digits.
pub fn new_token() -> Option<String> {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).ok()?;
    Some(hex::encode(b))
}

/// What the store keeps of a token: its SHA-256. `None` for anything that
/// is not 32 lowercase hex digits (never looked up).
pub fn token_hash(token: &str) -> Option<String> {
    let ok = token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| hex::encode(digest::digest(&digest::SHA256, token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_allow_nothing_and_waiting_allows_no_closing() {
        assert!(State::allowed_after(Some(State::Chiusa)).is_empty());
        assert!(State::allowed_after(Some(State::NonDiCompetenza)).is_empty());
        assert!(!State::allowed_after(None).contains(&State::Chiusa));
        assert!(State::allowed_after(Some(State::PresaInCarico)).contains(&State::Chiusa));
        for s in State::ALL {
            assert_eq!(State::from_slug(s.slug()), Some(s));
        }
    }

    #[test]
    fn tokens_are_random_and_only_well_formed_ones_hash() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(token_hash(&a).unwrap().len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(token_hash(&a.to_uppercase()).is_none() || a == a.to_uppercase());
        assert!(token_hash("../../etc/passwd").is_none());
        assert!(token_hash(&a[..31]).is_none());
    }
}
