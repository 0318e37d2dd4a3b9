//! Taking charge ("presa in carico"): the states the municipality's staff
//! set on a referral through the link inside the encrypted mail, and the
//! rules between them. No free text except the staff member's name: free
//! text would invite personal data onto a server that promises none.

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// The longest staff member's name accepted.
pub const MAX_NAME: usize = 80;

crate::kinds::slug_enum! {
    /// A state the staff set. A referral without any is "in attesa".
    pub enum State {
        /// Someone took the case: their name, maybe a planned first contact.
        PresaInCarico = ("presa_in_carico", "Presa in carico"),
        /// Redirected to another office or service of the guide.
        NonDiCompetenza = ("non_di_competenza", "Non di competenza"),
        /// The person could not be reached.
        NonRintracciabile = ("non_rintracciabile", "Persona non rintracciabile"),
        /// Closed, with an outcome from a list.
        Chiusa = ("chiusa", "Chiusa"),
    }
}

impl State {
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

crate::kinds::slug_enum! {
    /// Outcomes of a closed referral: a fixed list.
    pub enum Outcome {
        ServizioAttivato = ("servizio_attivato", "Servizio attivato"),
        Informazioni = ("informazioni", "Risolta con informazioni"),
        Rifiutata = ("rifiutata", "Rifiutata dalla persona"),
        Altro = ("altro", "Altro"),
    }
}

/// A new state with what goes with it (already checked against the lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub state: State,
    /// Presa in carico: who.
    pub staff_name: Option<String>,
    /// Presa in carico: planned first contact.
    pub planned_contact: Option<time::Date>,
    /// Non di competenza: the office or service slug; chiusa with
    /// "servizio attivato": the service slug.
    pub target: Option<String>,
    /// Chiusa: the outcome.
    pub outcome: Option<Outcome>,
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
            assert_eq!(State::parse(s.slug()), Some(*s));
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
