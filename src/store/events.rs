//! The county's event channel: what the scripts announce (`event(...)` in `lua/prelude.lua`
//! writes them) and the one parser of it.
//!
//! - `c|<case>|<what>`: a case changed;
//! - `p|<pro>`: a professional's presence changed;
//! - `o|<pro>|<case>|<expires>|<channel>|<needs>|<urgency>|<lang>|<deadline>|<team>|<interpreter>[|<consultation for>[|<connection>]]`:
//!   an offer reserved for a professional, addressed to the Offers stream that held their
//!   connection then (a stream replaced since never sends it).

/// One announcement on the event channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    CaseChanged {
        case_id: String,
    },
    PresenceChanged {
        professional: String,
    },
    Offer {
        professional: String,
        /// Boxed: an offer is much larger than the other events.
        offer: Box<Reserved>,
    },
}

/// An offer just reserved for a professional, as announced on the event channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub expires_ms: i64,
    pub interpreter_needed: bool,
    pub case_id: String,
    pub channel: String,
    pub needs: String,
    pub urgency: String,
    pub language: String,
    pub deadline_ms: i64,
    pub team: String,
    /// Set when this is a request to consult on a case held by this professional.
    pub consultation_for: String,
    /// The connection token of the Offers stream it is for; empty from older versions.
    pub connection: String,
}

impl Event {
    /// Parses one message; None for anything this version does not know.
    pub fn parse(text: &str) -> Option<Event> {
        let mut p = text.split('|');
        match p.next()? {
            "c" => Some(Event::CaseChanged {
                case_id: p.next()?.to_string(),
            }),
            "p" => Some(Event::PresenceChanged {
                professional: p.next().unwrap_or_default().to_string(),
            }),
            "o" => {
                let professional = p.next()?.to_string();
                let mut next = || p.next().map(String::from);
                let case_id = next()?;
                let expires_ms = next()?.parse().ok()?;
                Some(Event::Offer {
                    professional,
                    offer: Box::new(Reserved {
                        case_id,
                        expires_ms,
                        channel: next()?,
                        needs: next()?,
                        urgency: next()?,
                        language: next()?,
                        deadline_ms: next()?.parse().ok()?,
                        team: next()?,
                        interpreter_needed: next().as_deref() == Some("1"),
                        consultation_for: next().unwrap_or_default(),
                        connection: next().unwrap_or_default(),
                    }),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_event_parses() {
        assert_eq!(
            Event::parse("c|case-1|queued"),
            Some(Event::CaseChanged {
                case_id: "case-1".into()
            })
        );
        assert_eq!(
            Event::parse("p|nurse-1"),
            Some(Event::PresenceChanged {
                professional: "nurse-1".into()
            })
        );
        let Some(Event::Offer {
            professional,
            offer,
        }) = Event::parse("o|n1|case-1|99|phone|acute_symptoms|soon|fi|120|t|1|dr-2|i7:3")
        else {
            panic!("an offer")
        };
        assert_eq!(professional, "n1");
        assert_eq!((offer.expires_ms, offer.deadline_ms), (99, 120));
        assert!(offer.interpreter_needed);
        assert_eq!(offer.consultation_for, "dr-2");
        assert_eq!(offer.connection, "i7:3");
        assert_eq!(Event::parse("o|n1|case-1|soon"), None);
        assert_eq!(Event::parse("x|y"), None);
    }
}
