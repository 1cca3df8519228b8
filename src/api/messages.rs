//! What the citizen is told, in Finnish, Swedish or English (Sámi speakers get Finnish here;
//! the professional sees the language on the case).

use std::time::Duration;

use crate::domain::Language;
use crate::domain::deadline::TZ;

/// Where the citizen's contact stands, as far as the message is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Standing {
    /// Call 112 now.
    Emergency,
    /// Joined the citizen's earlier case.
    Joined,
    /// A call-back expected within this window (ms since the epoch).
    CallbackWindow(i64, i64),
    /// Waiting, about this long.
    Waiting(Duration),
    /// Being handled (offered to a professional at once).
    Taken,
}

pub fn citizen_message(lang: Language, standing: Standing) -> String {
    match standing {
        Standing::CallbackWindow(start, end) => {
            let hm = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| t.with_timezone(&TZ))
                    .map(|t| (t.format("%H.%M").to_string(), t.format("%H:%M").to_string()))
                    .unwrap_or_default()
            };
            let ((s_fi, s), (e_fi, e)) = (hm(start), hm(end));
            match lang {
                Language::Swedish => {
                    format!("Din kontakt har tagits emot. Vi ringer dig upp cirka kl. {s}–{e}.")
                }
                Language::English => format!(
                    "Your contact has been received. We will call you back at about {s}–{e}."
                ),
                _ => format!(
                    "Yhteydenottosi on vastaanotettu. Soitamme sinulle arviolta klo {s_fi}–{e_fi}."
                ),
            }
        }
        Standing::Waiting(wait) => {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            match lang {
                Language::Swedish => format!(
                    "Din kontakt har tagits emot. Uppskattad väntetid cirka {minutes} min."
                ),
                Language::English => format!(
                    "Your contact has been received. Estimated wait about {minutes} min."
                ),
                _ => format!(
                    "Yhteydenottosi on vastaanotettu. Arvioitu odotusaika noin {minutes} min."
                ),
            }
        }
        Standing::Emergency => match lang {
            Language::Swedish => "Ring nödnumret 112 genast.",
            Language::English => "Call the emergency number 112 now.",
            _ => "Soita heti hätänumeroon 112.",
        }
        .to_string(),
        Standing::Joined => match lang {
            Language::Swedish => {
                "Din kontakt har lagts till ditt tidigare ärende; du behöver inte köa på nytt."
            }
            Language::English => {
                "Your contact was added to your earlier case; you do not need to queue again."
            }
            _ => {
                "Yhteydenottosi liitettiin aiempaan asiaasi, eikä sinun tarvitse jonottaa uudelleen."
            }
        }
        .to_string(),
        Standing::Taken => match lang {
            Language::Swedish => "Din kontakt har tagits emot och behandlas.",
            Language::English => "Your contact has been received and is being handled.",
            _ => "Yhteydenottosi on vastaanotettu ja sitä käsitellään.",
        }
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_standing_is_told_in_the_citizens_language() {
        assert!(citizen_message(Language::Finnish, Standing::Emergency).contains("112"));
        assert!(citizen_message(Language::Swedish, Standing::Joined).contains("tidigare ärende"));
        let w = citizen_message(
            Language::English,
            Standing::Waiting(Duration::from_secs(61)),
        );
        assert!(w.contains("about 2 min"), "{w}");
        // 2026-11-24 08:00 and 08:30 UTC are 10.00 and 10.30 in Helsinki.
        let start = 1_795_507_200_000;
        let m = citizen_message(
            Language::Finnish,
            Standing::CallbackWindow(start, start + 1_800_000),
        );
        assert!(m.contains("klo 10.00–10.30"), "{m}");
    }
}
