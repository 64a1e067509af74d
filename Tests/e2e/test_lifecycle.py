"""One service process on its own: SIGTERM turns health NOT_SERVING for watchers, lets the in-flight RPC
finish (drain), and the process exits 0. Driven with grpcio stubs generated from Protos/."""

import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import grpc
import pytest

import health_pb2
import health_pb2_grpc
from common.v1 import common_pb2
from contacts.v1 import contacts_pb2, contacts_pb2_grpc

from conftest import find_bin_dir, free_ports

TOKEN = "lifecycle-token"
AUTH = (("x-switchboard-token", TOKEN),)


@pytest.fixture
def _never_a_server_error():
    """No edge in this module: nothing to watch (overrides the conftest's autouse fixture)."""
    yield


@pytest.fixture
def contacts_process():
    port = free_ports(1)[0]
    data = Path(tempfile.mkdtemp(prefix="switchboard-lifecycle-"))
    env = dict(
        os.environ,
        SWITCHBOARD_DATA_DIR=str(data),
        SWITCHBOARD_CONTACTS_PORT=str(port),
        SWITCHBOARD_INTERNAL_TOKEN=TOKEN,
    )
    log = open(data / "contacts.log", "wb")
    proc = subprocess.Popen([str(find_bin_dir() / "contacts-service")], env=env, stdout=log, stderr=subprocess.STDOUT)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
        yield proc, channel, data
    finally:
        channel.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_sigterm_drains_the_in_flight_call_and_exits_zero(contacts_process):
    proc, channel, data = contacts_process
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING

    statuses = []
    watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=30)

    def follow():
        try:
            for response in watch:
                statuses.append(response.status)
        except grpc.RpcError:
            pass

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()

    sent_first = threading.Event()

    def chunks():
        yield contacts_pb2.UploadImportChunk(
            org_id="org-lifecycle", file_name="drain.csv", actor=common_pb2.Actor(kind="system", id="t", name="t"),
            data=b"phone,name\n+15550100001,Before\n")
        sent_first.set()
        time.sleep(1.5)  # SIGTERM lands while this call is still streaming
        yield contacts_pb2.UploadImportChunk(data=b"+15550100002,After\n")

    stub = contacts_pb2_grpc.ContactsServiceStub(channel)
    result = {}

    def upload():
        try:
            result["job"] = stub.UploadImport(chunks(), metadata=AUTH, timeout=20)
        except grpc.RpcError as error:  # recorded for the assertion below
            result["error"] = error

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert sent_first.wait(10)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    uploader.join(30)

    assert "error" not in result, f"in-flight call was not drained: {result.get('error')}"
    job = result["job"]
    assert job.status == "uploaded" and job.total_rows == 2 and list(job.preview.headers) == ["phone", "name"]
    assert proc.wait(timeout=20) == 0
    follower.join(5)
    assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses, statuses
    log = (data / "contacts.log").read_text()
    assert "draining" in log and "stopped" in log


def test_a_wrong_token_is_refused_but_health_needs_none(contacts_process):
    _, channel, _ = contacts_process
    stub = contacts_pb2_grpc.ContactsServiceStub(channel)
    with pytest.raises(grpc.RpcError) as error:
        stub.ListContacts(contacts_pb2.ListContactsRequest(org_id="o"), metadata=(("x-switchboard-token", "no"),),
                          timeout=5)
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
