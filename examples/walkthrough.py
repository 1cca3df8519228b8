#!/usr/bin/env python3
"""Walk-through of Luotsi with a real gRPC client that learns the API by server reflection.

    pip install grpc_requests
    python3 examples/walkthrough.py            # against 127.0.0.1:50051

A citizen asks for a call-back about toothache; a dental nurse comes online, receives the offer
on her stream, accepts it (and only then sees the number and the words), and completes it.
"""
import sys
import uuid

from grpc_requests import Client

endpoint = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
client = Client.get_by_endpoint(endpoint)
CONTACT, WORK, SUPERVISOR = (f"luotsi.v1.{s}" for s in ("ContactService", "WorkService", "SupervisorService"))

answer = client.request(CONTACT, "SubmitContact", {
    "channel": "CHANNEL_PHONE",
    # A new key per run: a retry with the same key would get the first run's answer back.
    "idempotency_key": f"walkthrough-{uuid.uuid4()}",
    "citizen": {"identity_code": "131052-308T", "callback_number": "040 123 4567",
                "language": "fi", "municipality": "Joensuu"},
    "text": "Viisaudenhammasta särkee ja poski on vähän turvonnut, voisiko joku soittaa?",
    "hints": {"phone_menu": "oral_health"},
})
print("submitted:", answer["case_id"], answer["team_id"], answer["queue"], answer["status"])
print("  tell the citizen:", answer["citizen_message"])
print("queues:", client.request(SUPERVISOR, "ListQueues", {"team_id": answer["team_id"]})["queues"])

nurse = "suu-hh-1"
client.request(WORK, "SetPresence", {"professional_id": nurse, "presence": "PRESENCE_AVAILABLE"})
for message in client.request(WORK, "Offers", {"professional_id": nurse}):
    offer = message["offer"]
    print("offer:", offer["case_id"], offer["needs"], offer["urgency"], "expires", offer["expires_at"])
    case = client.request(WORK, "AcceptOffer", {"professional_id": nurse, "case_id": offer["case_id"]})["case"]
    print("accepted:", case["status"], "call back", case["callback_number"])
    done = client.request(WORK, "CompleteCase", {"professional_id": nurse, "case_id": offer["case_id"],
                                                 "outcome": "OUTCOME_RESOLVED_AT_FIRST_CONTACT"})["case"]
    print("completed:", done["status"], done["outcome"])
    break
print("case as the citizen's front end sees it:",
      {k: v for k, v in client.request(CONTACT, "GetCase", {"case_id": answer["case_id"]})["case"].items()
       if k in ("status", "outcome", "deadline_rule", "recontact")})
