#!/usr/bin/env python3
"""Call-backs as a contact centre lives them, with a real gRPC client (server reflection).

    pip install grpc_requests
    python3 examples/callbacks.py              # against 127.0.0.1:50051, TLS, `cargo run --release`

A citizen asks to be called back in a window starting a few seconds from now: nobody is offered
the case before it opens, though a nurse is online. The nurse calls; the number is wrong: the
case is unreachable, listed for the duty supervisor, and the SMS gateway's stream gets one entry.
The citizen contacts again about the same thing: the contact joins the case and it is queued and
offered again. Then the supervisor asks for tomorrow's staffing forecast and this month's report.
"""
import datetime
import os
import subprocess
import sys
import time
import uuid

from grpc_requests import Client

endpoint = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
ca = os.environ.get("LUOTSI_CA", "data/dev-auth/ca.pem")
luotsi = os.environ.get("LUOTSI_BIN", "target/release/luotsi")


def token(role, who, *teams):
    args = [luotsi, "token", "--role", role, "--as", who] + [f"--team={t}" for t in teams]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def bearer(t):
    return [("authorization", f"Bearer {t}")]


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


frontend = bearer(token("citizen-frontend", "asiointi"))
supervisor = bearer(token("supervisor", "sv-anna", "suunterveys"))
nurse_id = "suu-hh-2"
nurse = bearer(token("professional", nurse_id))

client = Client.get_by_endpoint(endpoint, ssl=True, credentials={"root_certificates": ca})
CONTACT, WORK, SUPERVISOR = (f"luotsi.v1.{s}" for s in
                             ("ContactService", "WorkService", "SupervisorService"))

# The nurse is online for call-backs only.
client.request(WORK, "SetPresence", {
    "professional_id": nurse_id, "presence": "PRESENCE_AVAILABLE",
    "capacities": [{"channel": "CHANNEL_PHONE", "capacity": 1},
                   {"channel": "CHANNEL_CHAT", "capacity": 0},
                   {"channel": "CHANNEL_E_SERVICE", "capacity": 0}],
}, metadata=nurse)
offers = client.request(WORK, "Offers", {"professional_id": nurse_id}, metadata=nurse)

now = datetime.datetime.now(datetime.timezone.utc)
number = "040 765 4321"
contact = {
    "channel": "CHANNEL_PHONE",
    "citizen": {"callback_number": number, "language": "fi", "municipality": "Joensuu"},
    "text": "Paikka lohkesi hampaasta, ei kuitenkaan satu. Voitteko soittaa?",
    "hints": {"phone_menu": "oral_health"},
}
answer = client.request(CONTACT, "SubmitContact", {
    **contact,
    "idempotency_key": f"callbacks-{uuid.uuid4()}",
    "callback_window": {"not_before": rfc3339(now + datetime.timedelta(seconds=8)),
                        "not_after": rfc3339(now + datetime.timedelta(hours=2))},
}, metadata=frontend)
case_id = answer["case_id"]
print("submitted:", case_id, answer["status"])
print("  tell the citizen:", answer["citizen_message"])
started = time.monotonic()
offer = next(offers)["offer"]
print(f"offered to {nurse_id} after {time.monotonic() - started:.1f} s (the window opened):",
      offer["case_id"] == case_id)

client.request(WORK, "AcceptOffer", {"professional_id": nurse_id, "case_id": case_id,
                                     "purpose": "PURPOSE_OF_USE_CARE_RELATIONSHIP"}, metadata=nurse)
attempt = client.request(WORK, "RecordCallAttempt", {
    "professional_id": nurse_id, "case_id": case_id, "outcome": "CALL_OUTCOME_WRONG_NUMBER",
    "purpose": "PURPOSE_OF_USE_CARE_RELATIONSHIP"}, metadata=nurse)
print("call attempt:", attempt)
print("unreachable:", client.request(SUPERVISOR, "ListUnreachable", {"team_id": "suunterveys"},
                                     metadata=supervisor).get("cases"))

again = client.request(CONTACT, "SubmitContact", {
    **contact, "idempotency_key": f"callbacks-{uuid.uuid4()}",
    "text": "Soitin aiemmin hampaasta, ette saaneet minua kiinni. Uusi yritys!",
}, metadata=frontend)
print("the citizen again: joined", again.get("joined_existing_case", False),
      "the same case", again["case_id"] == case_id)
print("offered again:", next(offers)["offer"]["case_id"] == case_id)

tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
plan = client.request(SUPERVISOR, "PlanStaffing", {"date": tomorrow, "team_id": "suunterveys"},
                      metadata=supervisor)
print(f"staffing for {tomorrow}: {plan.get('weeks', 0)} week(s) of history,",
      len(plan.get("hours", [])), "hour(s) with contacts")
report = client.request(SUPERVISOR, "GetMonthlyReport",
                        {"month": datetime.date.today().strftime("%Y-%m"), "team_id": "suunterveys"},
                        metadata=supervisor)
print("monthly report (CSV):")
print(report["csv"])
