//! The one permission table: which roles may call each RPC. Anything not listed is refused
//! (except health checks, and server reflection when it is switched on). README shows this table;
//! a test fails when an RPC of the API is missing here.
//!
//! The table says who may call at all. Finer rules live with the handlers and are checked from
//! the caller's credential: a professional acts only as themselves and reads only cases offered
//! to them, held by them or where they are consulted; a supervisor acts only on their own teams
//! unless county-wide; a front end reads a case only with that case's access token.

use super::Role;
use super::Role::*;

/// `(gRPC path, roles allowed)`, in the order of the API.
pub const PERMISSIONS: &[(&str, &[Role])] = &[
    (
        "/luotsi.v1.ContactService/SubmitContact",
        &[CitizenFrontend, ContactCentre],
    ),
    (
        "/luotsi.v1.ContactService/Classify",
        &[CitizenFrontend, ContactCentre, Professional, Supervisor],
    ),
    (
        "/luotsi.v1.ContactService/GetCase",
        &[CitizenFrontend, ContactCentre, Professional, Supervisor],
    ),
    (
        "/luotsi.v1.ContactService/WatchCase",
        &[CitizenFrontend, ContactCentre, Professional, Supervisor],
    ),
    (
        "/luotsi.v1.ContactService/CancelContact",
        &[CitizenFrontend, ContactCentre],
    ),
    (
        "/luotsi.v1.ContactService/AcceptCallback",
        &[CitizenFrontend, ContactCentre],
    ),
    ("/luotsi.v1.WorkService/SetPresence", &[Professional]),
    ("/luotsi.v1.WorkService/Offers", &[Professional]),
    ("/luotsi.v1.WorkService/AcceptOffer", &[Professional]),
    ("/luotsi.v1.WorkService/DeclineOffer", &[Professional]),
    ("/luotsi.v1.WorkService/CompleteCase", &[Professional]),
    ("/luotsi.v1.WorkService/TransferCase", &[Professional]),
    (
        "/luotsi.v1.WorkService/RequestConsultation",
        &[Professional],
    ),
    ("/luotsi.v1.WorkService/ListUnconfirmed", &[Professional]),
    ("/luotsi.v1.WorkService/ConfirmTriage", &[Professional]),
    ("/luotsi.v1.WorkService/RecordCallAttempt", &[Professional]),
    (
        "/luotsi.v1.SupervisorService/ListQueues",
        &[Supervisor, Ops],
    ),
    (
        "/luotsi.v1.SupervisorService/WatchQueues",
        &[Supervisor, Ops],
    ),
    (
        "/luotsi.v1.SupervisorService/ListQueuedCases",
        &[Supervisor],
    ),
    ("/luotsi.v1.SupervisorService/MoveCase", &[Supervisor]),
    ("/luotsi.v1.SupervisorService/SetUrgency", &[Supervisor]),
    ("/luotsi.v1.SupervisorService/ReleaseOffer", &[Supervisor]),
    ("/luotsi.v1.SupervisorService/GetStats", &[Supervisor, Ops]),
    (
        "/luotsi.v1.SupervisorService/ListDisconnectedHolders",
        &[Supervisor],
    ),
    (
        "/luotsi.v1.SupervisorService/ListUnreachable",
        &[Supervisor],
    ),
    (
        "/luotsi.v1.SupervisorService/PlanStaffing",
        &[Supervisor, Ops],
    ),
    (
        "/luotsi.v1.SupervisorService/GetMonthlyReport",
        &[Supervisor, Ops],
    ),
    ("/luotsi.v1.AccessLogService/ReadAccessLog", &[Ops]),
];

/// The prefix of Luotsi's own RPCs: a path under it that is not in the table is refused.
pub const LUOTSI: &str = "/luotsi.";

/// Paths any caller reaches without a credential.
pub const OPEN: &[&str] = &["/grpc.health.v1.Health/"];

/// Server reflection (only served when switched on; then open, it shows the schema only).
pub const REFLECTION: &str = "/grpc.reflection.";

/// The roles allowed to call `path`, or None when the path is not in the table.
pub fn allowed(path: &str) -> Option<&'static [Role]> {
    PERMISSIONS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, roles)| *roles)
}

/// The table as Markdown, for README (`luotsi permissions`).
pub fn markdown() -> String {
    let mut out = String::from("| RPC |");
    for r in Role::ALL {
        out.push_str(&format!(" {r} |"));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    for (path, roles) in PERMISSIONS {
        let name = path.trim_start_matches("/luotsi.v1.").replace('/', ".");
        out.push_str(&format!("\n| `{name}` |"));
        for r in Role::ALL {
            out.push_str(if roles.contains(&r) { " ✓ |" } else { " |" });
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Every RPC the API declares has a row, and every row names an RPC that exists.
    #[test]
    fn every_rpc_of_the_api_is_in_the_table() {
        let set = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut declared = Vec::new();
        for file in &set.file {
            for svc in &file.service {
                for m in &svc.method {
                    declared.push(format!("/{}.{}/{}", file.package(), svc.name(), m.name()));
                }
            }
        }
        for path in &declared {
            assert!(allowed(path).is_some(), "{path} is not in PERMISSIONS");
        }
        for (path, roles) in PERMISSIONS {
            assert!(declared.contains(&path.to_string()), "{path} is no RPC");
            assert!(!roles.is_empty(), "{path} allows nobody");
        }
    }

    #[test]
    fn staff_rpcs_are_not_open_to_front_ends() {
        for (path, roles) in PERMISSIONS {
            if path.contains("WorkService") || path.contains("SupervisorService") {
                assert!(
                    !roles.iter().any(|r| r.is_front_end()),
                    "{path} is open to a front end"
                );
            }
        }
    }
}
