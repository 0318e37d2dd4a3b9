//! The closed lists of the inbox as Rust enums: each has a stable slug (in
//! the database, the forms and the JSON) and an Italian label (on the
//! pages). One macro writes the conversions, so a new value is one line.

/// An enum whose variants are stored and sent as slugs.
macro_rules! slug_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = ($slug:literal, $label:literal) ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn slug(self) -> &'static str {
                match self { $($name::$variant => $slug),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.slug() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.slug())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.slug())
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.slug().into())
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                v: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                $name::parse(s).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(
                        format!(concat!("unknown ", stringify!($name), " {:?}"), s).into(),
                    )
                })
            }
        }
    };
}

pub(crate) use slug_enum;

slug_enum! {
    /// How soon the person must be called back.
    pub enum Urgency {
        Ordinary = ("ordinary", "Ordinaria"),
        Urgent = ("urgent", "Urgente"),
    }
}

slug_enum! {
    /// Where a referral is on its way to the staff's mailbox.
    pub enum Status {
        /// Committed, waiting for (another) delivery attempt.
        Queued = ("queued", "In consegna"),
        /// The staff's mail server accepted it.
        Delivered = ("delivered", "Consegnata"),
        /// Given up after `mail.give_up_hours`; the admin was told.
        Failed = ("failed", "Consegna non riuscita"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip_and_unknown_ones_are_refused() {
        for u in Urgency::ALL {
            assert_eq!(Urgency::parse(u.slug()), Some(*u));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.slug()), Some(*s));
        }
        assert_eq!(Urgency::parse("URGENT"), None);
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let bad: rusqlite::Result<Status> = conn.query_row("SELECT 'lost'", [], |r| r.get(0));
        assert!(bad.is_err());
        let good: Status = conn
            .query_row("SELECT ?1", [Status::Delivered], |r| r.get(0))
            .unwrap();
        assert_eq!(good, Status::Delivered);
        assert_eq!(
            serde_json::to_string(&Urgency::Urgent).unwrap(),
            "\"urgent\""
        );
    }
}
