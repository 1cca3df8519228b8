#!/usr/bin/env python3
"""Walk-through of Luotsi with a real gRPC client that learns the API by server reflection.

    pip install grpc_requests
    python3 examples/walkthrough.py            # against 127.0.0.1:50051, TLS

Every caller brings a credential: this script asks the running service's development issuer for
tokens (`luotsi token`), one per role, and trusts its development CA (data/dev-auth/ca.pem).

A citizen's e-service front end asks for a call-back about toothache; a supervisor looks at the
queue; dental nurse suu-hh-1 comes online, receives the offer on her stream, accepts it (and only
then sees the number and the words), and completes it. Then the front end reads the case back
with the case access token it was given, and ops read who used the citizen's data.
"""
import datetime
import os
import subprocess
import sys
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


frontend = bearer(token("citizen-frontend", "asiointi"))
supervisor = bearer(token("supervisor", "sv-anna", "suunterveys"))
nurse_id = "suu-hh-1"
nurse = bearer(token("professional", nurse_id))
ops = bearer(token("ops", "tietosuoja"))

client = Client.get_by_endpoint(endpoint, ssl=True, credentials={"root_certificates": ca})
CONTACT, WORK, SUPERVISOR, LOG = (f"luotsi.v1.{s}" for s in
                                  ("ContactService", "WorkService", "SupervisorService", "AccessLogService"))

answer = client.request(CONTACT, "SubmitContact", {
    "channel": "CHANNEL_PHONE",
    # A new key per run: a retry with the same key would get the first run's answer back.
    "idempotency_key": f"walkthrough-{uuid.uuid4()}",
    "citizen": {"identity_code": "131052-308T", "callback_number": "040 123 4567",
                "language": "fi", "municipality": "Joensuu"},
    "text": "Viisaudenhammasta särkee ja poski on vähän turvonnut, voisiko joku soittaa?",
    "hints": {"phone_menu": "oral_health"},
}, metadata=frontend)
print("submitted:", answer["case_id"], answer["team_id"], answer["queue"], answer["status"])
print("  tell the citizen:", answer["citizen_message"])
print("queues:", client.request(SUPERVISOR, "ListQueues", {"team_id": answer["team_id"]},
                                metadata=supervisor)["queues"])

care = {"professional_id": nurse_id, "purpose": "PURPOSE_OF_USE_CARE_RELATIONSHIP"}
client.request(WORK, "SetPresence", {"professional_id": nurse_id, "presence": "PRESENCE_AVAILABLE"},
               metadata=nurse)
for message in client.request(WORK, "Offers", {"professional_id": nurse_id}, metadata=nurse):
    offer = message["offer"]
    print("offer:", offer["case_id"], offer["needs"], offer["urgency"], "expires", offer["expires_at"])
    case = client.request(WORK, "AcceptOffer", {**care, "case_id": offer["case_id"]}, metadata=nurse)["case"]
    print("accepted:", case["status"], "call back", case["callback_number"])
    done = client.request(WORK, "CompleteCase", {**care, "case_id": offer["case_id"],
                                                 "outcome": "OUTCOME_RESOLVED_AT_FIRST_CONTACT"},
                          metadata=nurse)["case"]
    print("completed:", done["status"], done["outcome"])
    break
seen = client.request(CONTACT, "GetCase", {"case_id": answer["case_id"],
                                           "case_access_token": answer["case_access_token"]},
                      metadata=frontend)["case"]
print("case as the citizen's front end sees it:",
      {k: v for k, v in seen.items() if k in ("status", "outcome", "deadline_rule", "recontact")})
today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
log = client.request(LOG, "ReadAccessLog", {"from": today.isoformat().replace("+00:00", "Z"),
                                            "case_id": answer["case_id"],
                                            "purpose": "PURPOSE_OF_USE_CITIZEN_REQUEST"},
                     metadata=ops)
print("access log:", [(e["subject"], e["action"], e["purpose"]) for e in log.get("entries", [])])
