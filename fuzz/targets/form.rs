//! The referral form as the inbox reads it: urlencoded decoding, then
//! validation against the form's lists, then the plaintext that is sealed.
//! Any input must give a value or an error, never a panic.

use sportello_inbox::config::Choice;
use sportello_inbox::form::{self, Envelope, Input};

pub fn options() -> form::Options {
    let choice = |slug: &str, label: &str| Choice {
        slug: slug.into(),
        label: label.into(),
    };
    form::Options {
        need_areas: vec![
            choice("non-autosufficienza", "Non autosufficienza"),
            choice("casa", "Casa"),
        ],
        city_areas: vec![choice("centro", "Centro"), choice("nord", "Zona nord")],
        services: vec![form::Service {
            slug: "pasti-a-domicilio".into(),
            title: "Pasti a domicilio".into(),
            category: "anziani".into(),
            url: "/servizi/pasti-a-domicilio/".into(),
        }],
    }
}

pub fn run(opts: &form::Options, data: &[u8]) {
    let Ok(input) = Input::parse(data) else {
        return;
    };
    if let Ok(referral) = form::validate(&input, opts, 2026) {
        let env = Envelope {
            reference: "SEG-2026-000001",
            created_at: "2026-12-01T10:00:00Z",
            operator_id: 1,
            operator_name: "Operatore",
            desk: "cremona-centro",
        };
        let sealed = form::render_plaintext(&referral, &env, opts);
        assert!(sealed.text.contains("SEG-2026-000001"));
        assert!(serde_json::from_str::<serde_json::Value>(&sealed.json).is_ok());
        let _ = form::age_band(referral.birth_year, 2026);
    }
}
