"""The gRPC interop test cases as a Python client, and a Python
grpc.testing.TestService server, both following gRPC's
interop-test-descriptions. Import after grpc_test_lib.gen_testing_stubs()."""
import threading
import time
from concurrent import futures

import grpc
from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
SPECIAL_MSG = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"

CASES = ["empty_unary", "large_unary", "client_streaming", "server_streaming",
         "ping_pong", "empty_stream", "status_code_and_message",
         "special_status_message", "custom_metadata", "unimplemented_method",
         "unimplemented_service", "cancel_after_begin",
         "cancel_after_first_response", "timeout_on_sleeping_server"]


class Failure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def payload(n):
    return messages_pb2.Payload(body=b"\0" * n)


# ---------------------------------------------------------------- client


def empty_unary(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    r = stub.EmptyCall(empty_pb2.Empty(), timeout=10)
    check(isinstance(r, empty_pb2.Empty), "EmptyCall returned %r" % r)


def large_unary(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    r = stub.UnaryCall(messages_pb2.SimpleRequest(
        response_size=314159, payload=payload(271828)), timeout=10)
    check(r.payload.body == b"\0" * 314159, "payload of %d bytes" %
          len(r.payload.body))


def client_streaming(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    reqs = (messages_pb2.StreamingInputCallRequest(payload=payload(n))
            for n in (27182, 8, 1828, 45904))
    r = stub.StreamingInputCall(reqs, timeout=10)
    check(r.aggregated_payload_size == 74922,
          "aggregated_payload_size %d" % r.aggregated_payload_size)


def server_streaming(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    sizes = (31415, 9, 2653, 58979)
    req = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(size=n) for n in sizes])
    got = [len(r.payload.body) for r in stub.StreamingOutputCall(req, timeout=10)]
    check(got == list(sizes), "response sizes %r" % got)


class _Pipe:
    """A request iterator fed one message at a time (for ping-pong)."""

    def __init__(self):
        self._cv = threading.Condition()
        self._q = []
        self._closed = False

    def add(self, m):
        with self._cv:
            self._q.append(m)
            self._cv.notify()

    def close(self):
        with self._cv:
            self._closed = True
            self._cv.notify()

    def __iter__(self):
        return self

    def __next__(self):
        with self._cv:
            while not self._q and not self._closed:
                self._cv.wait()
            if self._q:
                return self._q.pop(0)
            raise StopIteration


def ping_pong(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    pipe = _Pipe()
    it = stub.FullDuplexCall(pipe, timeout=10)
    for size, psize in zip((31415, 9, 2653, 58979), (27182, 8, 1828, 45904)):
        pipe.add(messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=size)],
            payload=payload(psize)))
        r = next(it)
        check(len(r.payload.body) == size, "ping_pong response %d != %d" %
              (len(r.payload.body), size))
    pipe.close()
    check(list(it) == [], "extra responses after close")
    check(it.code() == grpc.StatusCode.OK, "status %s" % it.code())


def empty_stream(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    got = list(stub.FullDuplexCall(iter([]), timeout=10))
    check(got == [], "responses on an empty stream: %d" % len(got))


def _expect_status(fn, code, message=None):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, "status %s, want %s (%s)" %
              (e.code(), code, e.details()))
        if message is not None:
            check(e.details() == message, "message %r, want %r" %
                  (e.details(), message))
        return e
    raise Failure("call succeeded, want %s" % code)


def _status_case(ch, msg):
    stub = test_pb2_grpc.TestServiceStub(ch)
    st = messages_pb2.EchoStatus(code=2, message=msg)
    _expect_status(lambda: stub.UnaryCall(
        messages_pb2.SimpleRequest(response_status=st), timeout=10),
        grpc.StatusCode.UNKNOWN, msg)
    _expect_status(lambda: list(stub.FullDuplexCall(iter([
        messages_pb2.StreamingOutputCallRequest(response_status=st)]),
        timeout=10)), grpc.StatusCode.UNKNOWN, msg)


def status_code_and_message(ch):
    _status_case(ch, "test status message")


def special_status_message(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    st = messages_pb2.EchoStatus(code=2, message=SPECIAL_MSG)
    _expect_status(lambda: stub.UnaryCall(
        messages_pb2.SimpleRequest(response_status=st), timeout=10),
        grpc.StatusCode.UNKNOWN, SPECIAL_MSG)


def custom_metadata(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    md = ((ECHO_INITIAL, "test_initial_metadata_value"),
          (ECHO_TRAILING, b"\xab\xab\xab"))
    r, call = stub.UnaryCall.with_call(messages_pb2.SimpleRequest(
        response_size=314159, payload=payload(271828)), metadata=md,
        timeout=10)
    check(len(r.payload.body) == 314159, "payload size")
    init = dict(call.initial_metadata())
    trail = dict(call.trailing_metadata())
    check(init.get(ECHO_INITIAL) == "test_initial_metadata_value",
          "initial metadata %r" % (init,))
    check(trail.get(ECHO_TRAILING) == b"\xab\xab\xab",
          "trailing metadata %r" % (trail,))
    it = stub.FullDuplexCall(iter([messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=314159)],
        payload=payload(271828))]), metadata=md, timeout=10)
    got = list(it)
    check(len(got) == 1 and len(got[0].payload.body) == 314159,
          "duplex response")
    init = dict(it.initial_metadata())
    trail = dict(it.trailing_metadata())
    check(init.get(ECHO_INITIAL) == "test_initial_metadata_value",
          "duplex initial metadata %r" % (init,))
    check(trail.get(ECHO_TRAILING) == b"\xab\xab\xab",
          "duplex trailing metadata %r" % (trail,))


def unimplemented_method(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    _expect_status(lambda: stub.UnimplementedCall(empty_pb2.Empty(),
                                                  timeout=10),
                   grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service(ch):
    stub = test_pb2_grpc.UnimplementedServiceStub(ch)
    _expect_status(lambda: stub.UnimplementedCall(empty_pb2.Empty(),
                                                  timeout=10),
                   grpc.StatusCode.UNIMPLEMENTED)


def cancel_after_begin(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    pipe = _Pipe()
    fut = stub.StreamingInputCall.future(pipe, timeout=10)
    check(fut.cancel(), "cancel() refused")
    pipe.close()
    check(fut.code() == grpc.StatusCode.CANCELLED, "status %s" % fut.code())


def cancel_after_first_response(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    pipe = _Pipe()
    it = stub.FullDuplexCall(pipe, timeout=10)
    pipe.add(messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=31415)],
        payload=payload(27182)))
    r = next(it)
    check(len(r.payload.body) == 31415, "first response")
    it.cancel()
    pipe.close()
    check(it.code() == grpc.StatusCode.CANCELLED, "status %s" % it.code())


def timeout_on_sleeping_server(ch):
    stub = test_pb2_grpc.TestServiceStub(ch)
    pipe = _Pipe()
    it = stub.FullDuplexCall(pipe, timeout=0.001)
    pipe.add(messages_pb2.StreamingOutputCallRequest(payload=payload(27182)))
    try:
        for _ in it:
            pass
    except grpc.RpcError:
        pass
    pipe.close()
    check(it.code() == grpc.StatusCode.DEADLINE_EXCEEDED,
          "status %s" % it.code())


def run_case(ch, name):
    globals()[name](ch)


# ---------------------------------------------------------------- server


def _echo_metadata(context):
    md = dict(context.invocation_metadata())
    if ECHO_INITIAL in md:
        context.send_initial_metadata(((ECHO_INITIAL, md[ECHO_INITIAL]),))
    if ECHO_TRAILING in md:
        context.set_trailing_metadata(((ECHO_TRAILING, md[ECHO_TRAILING]),))


DETAILS = b"\x08\x03\x12\x07details"  # google.rpc.Status{3, "details"}


def _maybe_status(req, context):
    if req.HasField("response_status") and req.response_status.code != 0:
        if req.response_status.message == "with details":
            context.set_trailing_metadata(
                (("grpc-status-details-bin", DETAILS),))
        context.abort(grpc.StatusCode(
            [c for c in grpc.StatusCode
             if c.value[0] == req.response_status.code][0]),
            req.response_status.message)


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, req, context):
        _echo_metadata(context)
        return empty_pb2.Empty()

    def UnaryCall(self, req, context):
        _echo_metadata(context)
        _maybe_status(req, context)
        return messages_pb2.SimpleResponse(payload=payload(req.response_size))

    def CacheableUnaryCall(self, req, context):
        return self.UnaryCall(req, context)

    def StreamingOutputCall(self, req, context):
        _echo_metadata(context)
        for p in req.response_parameters:
            if p.interval_us:
                time.sleep(p.interval_us / 1e6)
            yield messages_pb2.StreamingOutputCallResponse(
                payload=payload(p.size))
        _maybe_status(req, context)

    def StreamingInputCall(self, it, context):
        _echo_metadata(context)
        n = sum(len(r.payload.body) for r in it)
        return messages_pb2.StreamingInputCallResponse(
            aggregated_payload_size=n)

    def FullDuplexCall(self, it, context):
        _echo_metadata(context)
        for req in it:
            _maybe_status(req, context)
            for p in req.response_parameters:
                if p.interval_us:
                    time.sleep(p.interval_us / 1e6)
                yield messages_pb2.StreamingOutputCallResponse(
                    payload=payload(p.size))

    def HalfDuplexCall(self, it, context):
        _echo_metadata(context)
        reqs = list(it)
        for req in reqs:
            for p in req.response_parameters:
                yield messages_pb2.StreamingOutputCallResponse(
                    payload=payload(p.size))


def start_server(port=0, creds=None):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    addr = "127.0.0.1:%d" % port
    if creds is None:
        port = server.add_insecure_port(addr)
    else:
        port = server.add_secure_port(addr, creds)
    server.start()
    return server, port
