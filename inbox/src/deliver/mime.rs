//! The mails: a referral as PGP/MIME (RFC 3156) and the admin notice.
//! Headers carry the reference and the urgency only; everything about the
//! person is inside the OpenPGP ciphertext.

use anyhow::{Context, Result};
use lettre::message::header::{ContentDisposition, ContentType};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::config::Mail;
use crate::kinds::Urgency;

/// Binary OpenPGP message as an ASCII-armored block (what mail clients expect).
pub fn armor(ciphertext: &[u8]) -> Result<String> {
    struct Raw<'a>(&'a [u8]);
    impl pgp::ser::Serialize for Raw<'_> {
        fn to_writer<W: std::io::Write>(&self, w: &mut W) -> pgp::errors::Result<()> {
            w.write_all(self.0)?;
            Ok(())
        }
        fn write_len(&self) -> usize {
            self.0.len()
        }
    }
    let mut out = Vec::with_capacity(ciphertext.len() * 4 / 3 + 128);
    pgp::armor::write(
        &Raw(ciphertext),
        pgp::armor::BlockType::Message,
        &mut out,
        None,
        true,
    )
    .context("cannot armor the ciphertext")?;
    String::from_utf8(out).context("armor is not ASCII")
}

/// Same reference, same Message-ID: a resend after a crash is recognisably
/// the same mail (and mail clients can fold it).
pub fn message_id(reference: &str, domain: &str) -> String {
    format!("<{reference}@{domain}>")
}

pub fn subject(reference: &str, urgency: Urgency) -> String {
    let label = match urgency {
        Urgency::Urgent => "urgente",
        Urgency::Ordinary => "ordinaria",
    };
    format!("Segnalazione {reference} ({label})")
}

fn mailbox(addr: &str) -> Result<Mailbox> {
    addr.parse()
        .with_context(|| format!("`{addr}` is not a valid address"))
}

/// The line that introduces the staff link in the readable part.
pub const STAFF_LINK_INTRO: &str =
    "Per prendere in carico la segnalazione, o per indicare che non è di competenza, aprire:";

/// The MIME entity that gets encrypted (RFC 3156 section 4: the encrypted
/// data is itself a MIME entity). Without it a strict client parses the first
/// lines of a bare text ("Segnalazione: SEG-...") as headers.
///
/// `multipart/mixed` with:
/// 1. `text/plain; charset=utf-8`: `text`, then, when given, the staff link on
///    a line of its own (so every client makes it clickable);
/// 2. `application/json` as an attachment named `REFERENCE.json`: the same
///    data for programs. JSON is UTF-8 by definition (RFC 8259), so the part
///    has no charset parameter.
///
/// Line ends become CRLF and lettre picks the transfer encoding (7bit for
/// ASCII, otherwise quoted-printable or base64), so the entity survives any
/// mail path once decrypted.
pub fn payload(
    reference: &str,
    text: &str,
    json: &str,
    staff_link: Option<&str>,
) -> Result<Vec<u8>> {
    let mut readable = text.trim_end_matches('\n').to_owned();
    readable.push('\n');
    if let Some(link) = staff_link {
        readable.push('\n');
        readable.push_str(STAFF_LINK_INTRO);
        readable.push('\n');
        readable.push_str(link);
        readable.push('\n');
    }
    let text_part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentDisposition::inline())
        .body(readable);
    let json_part = Attachment::new(format!("{reference}.json")).body(
        json.to_owned(),
        ContentType::parse("application/json").context("bad JSON content type")?,
    );
    Ok(MultiPart::mixed()
        .singlepart(text_part)
        .singlepart(json_part)
        .formatted())
}

/// The referral mail: multipart/encrypted; protocol="application/pgp-encrypted",
/// a "Version: 1" control part, then the armored ciphertext.
pub fn referral(
    mail: &Mail,
    reference: &str,
    urgency: Urgency,
    ciphertext: &[u8],
) -> Result<Message> {
    encrypted(
        mail,
        subject(reference, urgency),
        message_id(reference, &mail.message_id_domain()),
        ciphertext,
    )
}

/// The `n`th reminder: PGP/MIME too (the link is inside the encryption),
/// the subject names the reference only.
pub fn reminder(mail: &Mail, reference: &str, n: u32, ciphertext: &[u8]) -> Result<Message> {
    encrypted(
        mail,
        format!("Promemoria: segnalazione {reference}"),
        format!("<reminder{n}.{reference}@{}>", mail.message_id_domain()),
        ciphertext,
    )
}

/// The readable part of a reminder, sealed at submission with the link.
pub fn reminder_payload(reference: &str, link: &str) -> Result<Vec<u8>> {
    let text = format!(
        "Promemoria: la segnalazione {reference} non risulta ancora presa in carico.\n\n\
         {STAFF_LINK_INTRO}\n{link}\n\n\
         Il contenuto della segnalazione è nel messaggio \"Segnalazione {reference}\" ricevuto in precedenza.\n"
    );
    Ok(SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentDisposition::inline())
        .body(text)
        .formatted())
}

fn encrypted(mail: &Mail, subject: String, id: String, ciphertext: &[u8]) -> Result<Message> {
    let mut b = Message::builder()
        .from(mailbox(&mail.from)?)
        .subject(subject)
        .message_id(Some(id));
    for to in &mail.to {
        b = b.to(mailbox(to)?);
    }
    let control = SinglePart::builder()
        .header(ContentType::parse("application/pgp-encrypted")?)
        .header(ContentDisposition::inline())
        .body(String::from("Version: 1\r\n"));
    let payload = SinglePart::builder()
        .header(ContentType::parse(
            "application/octet-stream; name=\"encrypted.asc\"",
        )?)
        .header(ContentDisposition::inline_with_name("encrypted.asc"))
        .body(armor(ciphertext)?);
    b.multipart(
        MultiPart::encrypted("application/pgp-encrypted".to_owned())
            .singlepart(control)
            .singlepart(payload),
    )
    .context("cannot build the mail")
}

/// To the administrator while a staff key is about to expire.
pub fn key_expiry(mail: &Mail, fingerprint: &str, expires: &str, today: &str) -> Result<Message> {
    let body = format!(
        "La chiave OpenPGP dello staff {fingerprint} scade il {expires}.\n\
         \n\
         Dopo quella data le segnalazioni non potranno più essere cifrate per questa chiave.\n\
         Chiedere allo staff di prolungarla (gpg --quick-set-expire) o di crearne una nuova,\n\
         poi esportarla e aggiornarla nell'inbox:\n\
         \n\
         \x20   sportello-inbox staff add --name ... --key NUOVA.asc\n\
         \x20   sportello-inbox staff remove ID\n\
         \n\
         e riavviare sportello-inbox serve.\n"
    );
    Message::builder()
        .from(mailbox(&mail.from)?)
        .to(mailbox(&mail.admin)?)
        .subject(format!("Chiave dello staff in scadenza: {expires}"))
        .message_id(Some(format!(
            "<key-expiry.{fingerprint}.{today}@{}>",
            mail.message_id_domain()
        )))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .context("cannot build the notice")
}

/// To the administrator after the second reminder: the reference only.
pub fn escalation(mail: &Mail, reference: &str, delivered_at: &str) -> Result<Message> {
    let body = format!(
        "La segnalazione {reference}, consegnata allo staff il {delivered_at} (UTC), non risulta\n\
         presa in carico dopo due promemoria.\n\
         \n\
         Contattare lo Staff Non Autosufficienza citando il numero di riferimento.\n\
         \n\
         Questo messaggio non contiene dati personali.\n"
    );
    Message::builder()
        .from(mailbox(&mail.from)?)
        .to(mailbox(&mail.admin)?)
        .subject(format!("Non presa in carico: {reference}"))
        .message_id(Some(format!(
            "<escalation.{reference}@{}>",
            mail.message_id_domain()
        )))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .context("cannot build the notice")
}

/// The notice to the administrator: reference, time, error class. The
/// referral's content is unreadable to the server anyway; its metadata
/// (desk, area...) is left out too: the reference is enough to look it up.
pub fn notice(mail: &Mail, reference: &str, failed_at: &str, error: &str) -> Result<Message> {
    let body = format!(
        "La segnalazione {reference} non è stata consegnata allo staff.\n\
         \n\
         Quando: {failed_at} (UTC)\n\
         Errore: {error}\n\
         \n\
         La segnalazione resta cifrata nell'archivio dell'inbox. Dopo aver risolto\n\
         il problema (indirizzo, server di posta), rimetterla in coda con:\n\
         \n\
         \x20   sportello-inbox queue retry {reference}\n\
         \n\
         Questo messaggio non contiene dati personali.\n"
    );
    Message::builder()
        .from(mailbox(&mail.from)?)
        .to(mailbox(&mail.admin)?)
        .subject(format!("Consegna non riuscita: {reference}"))
        .message_id(Some(format!(
            "<notice.{reference}@{}>",
            mail.message_id_domain()
        )))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .context("cannot build the notice")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_has_reference_and_urgency_only() {
        assert_eq!(
            subject("SEG-2026-000123", Urgency::Urgent),
            "Segnalazione SEG-2026-000123 (urgente)"
        );
        assert_eq!(
            subject("SEG-2026-000124", Urgency::Ordinary),
            "Segnalazione SEG-2026-000124 (ordinaria)"
        );
    }

    #[test]
    fn armor_block() {
        let a = armor(&[1, 2, 3, 4]).unwrap();
        assert!(a.starts_with("-----BEGIN PGP MESSAGE-----"));
        assert!(a.trim_end().ends_with("-----END PGP MESSAGE-----"));
    }
}
