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
    CallbackWindow(Window),
    /// Waiting, about this long.
    Waiting(Duration),
    /// Being handled (offered to a professional at once).
    Taken,
}

/// A promised call-back window, and what the citizen must know about it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// From and to, ms since the epoch.
    pub start: i64,
    pub end: i64,
    /// Now, to say the date when the call comes on another day.
    pub now: i64,
    /// An urgent case whose call waits for office hours: the citizen is told where to turn
    /// meanwhile.
    pub urgent_after_hours: bool,
    /// The window is the one the citizen chose (not an estimate).
    pub chosen: bool,
}

/// The national medical helpline (Päivystysapu), answering day and night.
const ON_CALL: &str = "116 117";

pub fn citizen_message(lang: Language, standing: Standing) -> String {
    match standing {
        Standing::CallbackWindow(w) => {
            let local = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .unwrap_or_default()
                    .with_timezone(&TZ)
            };
            let (start, end) = (local(w.start), local(w.end));
            let other_day = start.date_naive() != local(w.now).date_naive();
            let (s_fi, e_fi) = (start.format("%-H.%M"), end.format("%-H.%M"));
            let (s, e) = (start.format("%H:%M"), end.format("%H:%M"));
            let fi_day = if other_day { start.format("%-d.%-m. ").to_string() } else { String::new() };
            let en_day = if other_day { start.format(" on %-d %b").to_string() } else { String::new() };
            let mut text = match (lang, w.chosen) {
                (Language::Swedish, true) => format!(
                    "Din kontakt har tagits emot. Vi kontaktar dig under den tid du valde, {fi_day}kl. {s_fi}–{e_fi}."
                ),
                (Language::English, true) => format!(
                    "Your contact has been received. We will contact you in the time you chose, {s}–{e}{en_day}."
                ),
                (_, true) => format!(
                    "Yhteydenottosi on vastaanotettu. Otamme sinuun yhteyttä valitsemanasi aikana {fi_day}klo {s_fi}–{e_fi}."
                ),
                (Language::Swedish, false) => format!(
                    "Din kontakt har tagits emot. Vi ringer dig upp cirka {fi_day}kl. {s_fi}–{e_fi}."
                ),
                (Language::English, false) => format!(
                    "Your contact has been received. We will call you back at about {s}–{e}{en_day}."
                ),
                (_, false) => format!(
                    "Yhteydenottosi on vastaanotettu. Soitamme sinulle arviolta {fi_day}klo {s_fi}–{e_fi}."
                ),
            };
            if w.urgent_after_hours {
                text.push_str(&match lang {
                    Language::Swedish => format!(
                        " Behöver du hjälp före det, ring jourhjälpen {ON_CALL}. I en nödsituation, ring 112."
                    ),
                    Language::English => format!(
                        " If you need help before then, call the medical helpline {ON_CALL}. In an emergency, call 112."
                    ),
                    _ => format!(
                        " Jos tarvitset apua ennen sitä, soita Päivystysapuun {ON_CALL}. Hätätilanteessa soita 112."
                    ),
                });
            }
            text
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
        let window = |now, urgent_after_hours| {
            Standing::CallbackWindow(Window {
                start,
                end: start + 1_800_000,
                now,
                urgent_after_hours,
                chosen: false,
            })
        };
        let m = citizen_message(Language::Finnish, window(start - 600_000, false));
        assert!(m.contains("arviolta klo 10.00–10.30."), "{m}");
        // Asked for the evening before: the date, and for an urgent case where to turn now.
        let evening = start - 13 * 3_600_000;
        let m = citizen_message(Language::Finnish, window(evening, true));
        assert!(m.contains("arviolta 24.11. klo 10.00–10.30."), "{m}");
        assert!(
            m.contains("Päivystysapuun 116 117") && m.contains("112"),
            "{m}"
        );
        let m = citizen_message(Language::English, window(evening, false));
        assert!(m.contains("at about 10:00–10:30 on 24 Nov."), "{m}");
        assert!(!m.contains("116"), "{m}");
        let m = citizen_message(Language::Swedish, window(evening, true));
        assert!(
            m.contains("cirka 24.11. kl. 10.00–10.30.") && m.contains("jourhjälpen"),
            "{m}"
        );
        // A window the citizen chose is said as theirs, in each language.
        let chosen = Standing::CallbackWindow(Window {
            start,
            end: start + 7_200_000,
            now: evening,
            urgent_after_hours: false,
            chosen: true,
        });
        let m = citizen_message(Language::Finnish, chosen);
        assert!(
            m.contains("valitsemanasi aikana 24.11. klo 10.00–12.00."),
            "{m}"
        );
        let m = citizen_message(Language::Swedish, chosen);
        assert!(
            m.contains("den tid du valde, 24.11. kl. 10.00–12.00."),
            "{m}"
        );
        let m = citizen_message(Language::English, chosen);
        assert!(
            m.contains("in the time you chose, 10:00–12:00 on 24 Nov."),
            "{m}"
        );
    }
}
