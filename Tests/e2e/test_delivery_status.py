"""Delivery statuses from provider webhooks applied to outbound messages: only forward, failures with the
provider's code and text, and a status that arrives before its message kept until the message is recorded.

Outbound sending arrives with the next issue; here the outbound message is recorded by calling the conversations
service directly over gRPC (Python stubs generated from Protos/), the way the messaging service will."""

import time

import grpc
import pytest

try:
    from conversations.v1 import conversations_pb2, conversations_pb2_grpc
except ImportError as e:  # pragma: no cover - a setup problem, not a product failure
    raise ImportError(f"Python gRPC stubs missing ({e}): run scripts/setup-test-env") from e

from conftest import assert_json, rand_phone
from inbound_helpers import (
    create_whatsapp_channel,
    digits,
    load_fixture,
    messages,
    new_wamid,
    retarget,
    send_text,
    send_whatsapp,
    wait_for,
    wait_message,
)

TOKEN_HEADER = "x-switchboard-token"


@pytest.fixture(scope="module")
def stub(cluster):
    channel = grpc.insecure_channel(f"127.0.0.1:{cluster.ports['conversations']}")
    grpc.channel_ready_future(channel).result(timeout=30)
    yield conversations_pb2_grpc.ConversationsServiceStub(channel)
    channel.close()


def status_webhook(wa, fixture: str, wamid: str, customer: str) -> dict:
    payload = retarget(load_fixture(fixture), wa.phone_number_id, sender=customer)
    for value in (change["value"] for entry in payload["entry"] for change in entry["changes"]):
        for status in value.get("statuses", []):
            status["id"] = wamid
    return payload


def record_outbound(stub, cluster, org_id: str, conversation_id: str, wamid: str):
    return stub.RecordOutbound(
        conversations_pb2.RecordOutboundRequest(
            org_id=org_id, conversation_id=conversation_id, type="text", text="Your order shipped",
            content_json='{"body":"Your order shipped"}', provider_message_id=wamid, status="sent"),
        metadata=((TOKEN_HEADER, cluster.internal_token),), timeout=30)


def outbound(org, conversation_id: str, wamid: str) -> dict:
    return next(m for m in messages(org, conversation_id) if m["providerMessageId"] == wamid)


@pytest.fixture
def conversation(org):
    wa = create_whatsapp_channel(org)
    customer = digits(rand_phone())
    inbound = send_text(org.cluster, wa, "where is my order?", sender=customer)
    conv, _ = wait_message(org, inbound["id"])
    return wa, customer, conv


def test_statuses_only_move_forward(org, stub, conversation):
    wa, customer, conv = conversation
    wamid = new_wamid()
    sent = record_outbound(stub, org.cluster, org.id, conv["id"], wamid)
    assert sent.status == "sent" and sent.direction == "outbound"
    send_whatsapp(org.cluster, wa, status_webhook(wa, "pywa_status_read.json", wamid, customer))
    wait_for(lambda: outbound(org, conv["id"], wamid)["status"] == "read", what="read")
    # delivered arrives late (providers do not keep order): read stays
    send_whatsapp(org.cluster, wa, status_webhook(wa, "pywa_status_delivered.json", wamid, customer))
    marker = send_text(org.cluster, wa, "thanks", sender=customer)  # processed after the late status
    wait_message(org, marker["id"])
    assert outbound(org, conv["id"], wamid)["status"] == "read"
    send_whatsapp(org.cluster, wa, status_webhook(wa, "pywa_status_played.json", wamid, customer))
    wait_for(lambda: outbound(org, conv["id"], wamid)["status"] == "played", what="played")


def test_a_failure_records_the_providers_code_and_text(org, stub, conversation):
    wa, customer, conv = conversation
    wamid = new_wamid()
    record_outbound(stub, org.cluster, org.id, conv["id"], wamid)
    send_whatsapp(org.cluster, wa, status_webhook(wa, "pywa_status_failed.json", wamid, customer))
    message = wait_for(lambda: (m := outbound(org, conv["id"], wamid))["status"] == "failed" and m, what="failed")
    assert message["error"]["code"] == "130472"
    assert "experiment" in message["error"]["message"].lower()


def test_a_status_before_its_message_is_applied_when_the_message_is_recorded(org, stub, conversation):
    wa, customer, conv = conversation
    wamid = new_wamid()
    send_whatsapp(org.cluster, wa, status_webhook(wa, "pywa_status_delivered.json", wamid, customer))
    marker = send_text(org.cluster, wa, "ok", sender=customer)
    wait_message(org, marker["id"])
    time.sleep(0.3)
    recorded = record_outbound(stub, org.cluster, org.id, conv["id"], wamid)
    assert recorded.status == "delivered"
    assert outbound(org, conv["id"], wamid)["status"] == "delivered"
    assert assert_json(org.get(f"/conversations/{conv['id']}"), 200)["lastMessage"]["direction"] == "outbound"
