//! The vocabulary of routing: needs, urgency classes, channels, languages, professions and the
//! states of cases and professionals. Codes are the strings of the domain brief.

use std::fmt;
use std::str::FromStr;

/// Declares a closed set of domain codes with their string form, parsing and display.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, UnknownCode> {
                match s { $($code => Ok($name::$variant),)+ _ => Err(UnknownCode(s.to_string())) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A code that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown code `{0}`")]
pub struct UnknownCode(pub String);

codes! {
    /// A need, as the classifier names it (domain brief §2).
    Need {
        AcuteSymptoms => "acute_symptoms",
        ChronicCare => "chronic_care",
        Medication => "medication",
        TestResults => "test_results",
        Vaccination => "vaccination",
        OralHealth => "oral_health",
        MentalHealth => "mental_health",
        SubstanceUse => "substance_use",
        FamilyServices => "family_services",
        ChildWelfare => "child_welfare",
        SocialSupport => "social_support",
        ElderlyServices => "elderly_services",
        Rehabilitation => "rehabilitation",
        Lifestyle => "lifestyle",
        WorkAbility => "work_ability",
        ServiceGuidance => "service_guidance",
    }
}

codes! {
    /// How urgent a need is. Declared most urgent first, so `Ord` sorts by urgency.
    Urgency {
        Emergency => "emergency",
        Urgent => "urgent",
        Soon => "soon",
        Routine => "routine",
    }
}

codes! {
    /// How the citizen reached the county.
    Channel {
        Phone => "phone",
        Chat => "chat",
        EService => "e_service",
    }
}

codes! {
    /// A language of service.
    Language {
        Finnish => "fi",
        Swedish => "sv",
        NorthSami => "se",
        InariSami => "smn",
        SkoltSami => "sms",
        English => "en",
    }
}

codes! {
    /// A profession of a team member.
    Profession {
        Nurse => "nurse",
        Doctor => "doctor",
        PublicHealthNurse => "public_health_nurse",
        PsychiatricNurse => "psychiatric_nurse",
        Psychologist => "psychologist",
        SocialWorker => "social_worker",
        SocialCounsellor => "social_counsellor",
        SubstanceAbuseWorker => "substance_abuse_worker",
        FamilyWorker => "family_worker",
        DentalNurse => "dental_nurse",
        OralHygienist => "oral_hygienist",
        Dentist => "dentist",
        ElderlyServicesCounsellor => "elderly_services_counsellor",
        HomeCareNurse => "home_care_nurse",
        Physiotherapist => "physiotherapist",
        OccupationalTherapist => "occupational_therapist",
        SpeechTherapist => "speech_therapist",
        Nutritionist => "nutritionist",
        WorkAbilityCoordinator => "work_ability_coordinator",
        ServiceCounsellor => "service_counsellor",
    }
}

codes! {
    /// Where a case is in its life.
    CaseStatus {
        Queued => "queued",
        Offered => "offered",
        InProgress => "in_progress",
        Completed => "completed",
        Cancelled => "cancelled",
        Unreachable => "unreachable",
    }
}

codes! {
    /// What came of one call-back attempt.
    CallOutcome {
        Answered => "answered",
        NoAnswer => "no_answer",
        Busy => "busy",
        WrongNumber => "wrong_number",
    }
}

codes! {
    /// How a handled case ended.
    Outcome {
        ResolvedAtFirstContact => "resolved_at_first_contact",
        FollowUpBooked => "follow_up_booked",
        ReferredOn => "referred_on",
        CitizenNotReached => "citizen_not_reached",
    }
}

codes! {
    /// A professional's presence.
    Presence {
        Available => "available",
        Busy => "busy",
        OnBreak => "on_break",
        Offline => "offline",
    }
}

impl Need {
    /// The professions that can take this need (domain brief §2), most typical first.
    pub fn professions(self) -> &'static [Profession] {
        use Profession::*;
        match self {
            Need::AcuteSymptoms => &[Nurse, Doctor],
            Need::ChronicCare => &[Nurse, Doctor],
            Need::Medication => &[Nurse, Doctor],
            Need::TestResults => &[Nurse, Doctor],
            Need::Vaccination => &[Nurse, PublicHealthNurse],
            Need::OralHealth => &[DentalNurse, OralHygienist, Dentist],
            Need::MentalHealth => &[PsychiatricNurse, Psychologist, Doctor],
            Need::SubstanceUse => &[SubstanceAbuseWorker, PsychiatricNurse, SocialWorker],
            Need::FamilyServices => &[PublicHealthNurse, FamilyWorker, Psychologist],
            Need::ChildWelfare => &[SocialWorker],
            Need::SocialSupport => &[SocialWorker, SocialCounsellor],
            Need::ElderlyServices => &[ElderlyServicesCounsellor, HomeCareNurse, SocialWorker],
            Need::Rehabilitation => &[Physiotherapist, OccupationalTherapist, SpeechTherapist],
            Need::Lifestyle => &[Nurse, Nutritionist, Physiotherapist],
            Need::WorkAbility => &[WorkAbilityCoordinator, Doctor, SocialWorker],
            Need::ServiceGuidance => &[ServiceCounsellor],
        }
    }

    /// Social welfare needs run on the Social Welfare Act's clock, health needs on the Health
    /// Care Act's.
    pub fn is_social_welfare(self) -> bool {
        matches!(
            self,
            Need::ChildWelfare | Need::SocialSupport | Need::ElderlyServices | Need::SubstanceUse
        )
    }
}

impl Language {
    /// North, Inari or Skolt Sámi.
    pub fn is_sami(self) -> bool {
        matches!(
            self,
            Language::NorthSami | Language::InariSami | Language::SkoltSami
        )
    }
}

impl Urgency {
    /// Rank used in queue ordering: 0 is the most urgent.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for n in Need::ALL {
            assert_eq!(n.code().parse::<Need>().unwrap(), *n);
        }
        assert_eq!(Need::ALL.len(), 16);
        assert!("acute".parse::<Need>().is_err());
        assert_eq!("e_service".parse::<Channel>().unwrap(), Channel::EService);
    }

    #[test]
    fn urgency_orders_most_urgent_first() {
        let mut v = vec![
            Urgency::Routine,
            Urgency::Emergency,
            Urgency::Soon,
            Urgency::Urgent,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Urgency::Emergency,
                Urgency::Urgent,
                Urgency::Soon,
                Urgency::Routine
            ]
        );
    }

    #[test]
    fn every_need_has_a_profession() {
        for n in Need::ALL {
            assert!(!n.professions().is_empty(), "{n}");
        }
    }
}

/// Why a citizen's data is used (Act 703/2023: the access log records the purpose of each use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The professional's own care or service relationship with the citizen.
    CareRelationship,
    /// Consulted by the professional in charge.
    Consultation,
    /// Supervising the queues and the service.
    Supervision,
    /// Statistics, quality and oversight of the service.
    QualityAssurance,
    /// Answering the citizen's own request (e.g. their request for the access log).
    CitizenRequest,
    /// The citizen's own contact, through a front end (reading, withdrawing).
    OwnContact,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [
        Purpose::CareRelationship,
        Purpose::Consultation,
        Purpose::Supervision,
        Purpose::QualityAssurance,
        Purpose::CitizenRequest,
        Purpose::OwnContact,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Purpose::CareRelationship => "care_relationship",
            Purpose::Consultation => "consultation",
            Purpose::Supervision => "supervision",
            Purpose::QualityAssurance => "quality_assurance",
            Purpose::CitizenRequest => "citizen_request",
            Purpose::OwnContact => "own_contact",
        }
    }

    pub fn from_code(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.code() == s)
    }
}
