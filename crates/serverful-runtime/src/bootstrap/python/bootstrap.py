"""Serverful's Python bootstrap.

Imports the handler named by _HANDLER from LAMBDA_TASK_ROOT and serves invocations from the
server at AWS_LAMBDA_RUNTIME_API, one at a time, like AWS's Python runtime (context object,
error objects, `logging` lines in Lambda's format).
"""

import importlib
import json
import logging
import os
import socket
import struct
import sys
import time
import traceback

_current_request_id = ""


_PREFACE = b"\0serverful-frames/1\n"
_PREFIX = struct.Struct(">BII")
_NEXT, _RESPONSE, _ERROR, _INIT_ERROR, _EVENT = b"n"[0], b"r"[0], b"e"[0], b"i"[0], b"E"[0]
# Above this a body is sent on its own rather than copied behind its prefix.
_COPY_LIMIT = 64 * 1024


class _Channel:
    """Serverful's frame channel to the server, on a connection to the Runtime API's address
    (the runtime crate's frames.rs documents it): a 9-byte prefix (kind, header length, body
    length, big-endian), the header, the body. The server writes an event (`E`); the answer
    (`r` response, `e` error) also asks for the next one."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.socket = socket.create_connection((host, int(port)))
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.socket.makefile("rb", buffering=64 * 1024)
        self.socket.sendall(_PREFACE)

    def send(self, kind, header=b"", body=b""):
        prefix = _PREFIX.pack(kind, len(header), len(body))
        if len(body) <= _COPY_LIMIT:
            self.socket.sendall(prefix + header + body)
        else:
            self.socket.sendall(prefix + header)
            self.socket.sendall(body)

    def _read(self, size):
        data = self.reader.read(size)
        if len(data) != size:
            raise ConnectionError("the server closed the Runtime API connection")
        return data

    def receive(self):
        """The next frame from the server: (kind, header, body)."""
        kind, header_length, body_length = _PREFIX.unpack(self._read(_PREFIX.size))
        return kind, self._read(header_length), self._read(body_length)


class _FaultError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class CognitoIdentity:
    def __init__(self, value):
        value = value or {}
        self.cognito_identity_id = value.get("cognitoIdentityId")
        self.cognito_identity_pool_id = value.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, value):
        value = value or {}
        self.installation_id = value.get("installation_id")
        self.app_title = value.get("app_title")
        self.app_version_name = value.get("app_version_name")
        self.app_version_code = value.get("app_version_code")
        self.app_package_name = value.get("app_package_name")


class ClientContext:
    def __init__(self, value):
        self.client = Client(value.get("client"))
        self.custom = value.get("custom")
        self.env = value.get("env")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_function_arn, identity, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity(identity)
        self.client_context = ClientContext(client_context) if client_context else None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(str(message))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={0.aws_request_id},log_group_name={0.log_group_name},"
            "log_stream_name={0.log_stream_name},function_name={0.function_name},"
            "memory_limit_in_mb={0.memory_limit_in_mb},function_version={0.function_version},"
            "invoked_function_arn={0.invoked_function_arn}])".format(self)
        )


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id
        return True


_JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"
# `ApplicationLogLevel` as `logging` names it (Lambda's FATAL is `logging`'s CRITICAL).
_LEVELS = {"TRACE": 5, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}
_LEVEL_NAMES = {logging.WARNING: "WARN", logging.CRITICAL: "FATAL", 5: "TRACE"}
# What every `LogRecord` has, so that only the fields a caller added with `extra=` are
# copied into a JSON line.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "aws_request_id"}


def _timestamp(created):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + ".{:03d}Z".format(int(created * 1000) % 1000)


class _JsonFormatter(logging.Formatter):
    """Lambda's JSON application log line: `timestamp`, `level`, `message`, `logger`,
    `requestId`, the fields given with `extra=`, and an exception's `errorType`,
    `errorMessage`, `stackTrace` and `location`."""

    def format(self, record):
        line = {
            "timestamp": _timestamp(record.created),
            "level": _LEVEL_NAMES.get(record.levelno, record.levelname),
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": _current_request_id,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["errorType"] = type(error).__name__
            line["errorMessage"] = str(error)
            line["stackTrace"] = traceback.format_tb(error.__traceback__)
            line["location"] = "{}:{}:{}".format(record.pathname, record.funcName, record.lineno)
        return json.dumps(line, default=str)


def _configure_logging():
    """Lambda's text format, `[INFO]\t2024-01-01T00:00:00.000Z\t{request_id}\tmessage`, or
    with `LogFormat: JSON` one JSON object per line, the root logger at the function's
    `ApplicationLogLevel` (`AWS_LAMBDA_LOG_LEVEL`)."""
    handler = logging.StreamHandler(sys.stdout)
    if _JSON_LOGS:
        logging.addLevelName(5, "TRACE")
        handler.setFormatter(_JsonFormatter())
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
        logging.getLogger().setLevel(_LEVELS.get(level, logging.INFO))
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def _parse_json_header(value):
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _load_handler(handler):
    if "." not in handler:
        raise _FaultError(
            "Runtime.MalformedHandlerName",
            "Bad handler '{}': not enough values to unpack (expected 2, got 1)".format(handler),
        )
    module_name, function_name = handler.rsplit(".", 1)
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise _FaultError(
            "Runtime.ImportModuleError", "Unable to import module '{}': {}".format(module_name, error)
        )
    except SyntaxError as error:
        raise _FaultError(
            "Runtime.UserCodeSyntaxError", "Syntax error in module '{}': {}".format(module_name, error)
        )
    function = getattr(module, function_name, None)
    if function is None:
        raise _FaultError(
            "Runtime.HandlerNotFound",
            "Handler '{}' missing on module '{}'".format(function_name, module_name),
        )
    return function


def _stack_trace(error):
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
    return traceback.format_list(frames)


def _error_body(error, request_id):
    if isinstance(error, _FaultError):
        return {"errorMessage": error.message, "errorType": error.error_type, "requestId": request_id, "stackTrace": []}
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": _stack_trace(error),
    }


def _log_error(body):
    if _JSON_LOGS:
        if logging.getLogger().isEnabledFor(logging.ERROR):
            line = {
                "timestamp": _timestamp(time.time()),
                "level": "ERROR",
                "message": "{}: {}".format(body["errorType"], body["errorMessage"]),
                "requestId": _current_request_id,
                "errorType": body["errorType"],
                "errorMessage": body["errorMessage"],
                "stackTrace": body["stackTrace"],
            }
            sys.stdout.write(json.dumps(line) + "\n")
        return
    lines = ["[ERROR] {}: {}".format(body["errorType"], body["errorMessage"])]
    if body["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in body["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")


def _post_error(channel, kind, request_id, body):
    channel.send(kind, request_id.encode("utf-8"), json.dumps(body).encode("utf-8"))


def main():
    global _current_request_id
    channel = _Channel(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    _configure_logging()
    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""))
    except Exception as error:
        body = _error_body(error, "")
        _log_error(body)
        _post_error(channel, _INIT_ERROR, "", body)
        sys.exit(1)

    channel.send(_NEXT)
    while True:
        kind, header, payload = channel.receive()
        if kind != _EVENT:
            sys.stderr.write("Serverful runtime channel: unexpected frame {}\n".format(kind))
            sys.exit(1)
        invocation = json.loads(header)
        request_id = invocation.get("requestId", "")
        _current_request_id = request_id
        trace_id = invocation.get("traceId")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            event = json.loads(payload)
        except ValueError as error:
            body = _error_body(_FaultError("Runtime.UnmarshalError", "Unable to unmarshal input: {}".format(error)), request_id)
            _log_error(body)
            _post_error(channel, _ERROR, request_id, body)
            continue
        context = LambdaContext(
            request_id,
            int(invocation.get("deadlineMs") or 0),
            invocation.get("invokedFunctionArn"),
            _parse_json_header(invocation.get("cognitoIdentity")),
            _parse_json_header(invocation.get("clientContext")),
        )
        try:
            result = handler(event, context)
        except Exception as error:
            body = _error_body(error, request_id)
            _log_error(body)
            _post_error(channel, _ERROR, request_id, body)
            continue
        try:
            answer = json.dumps(result).encode("utf-8")
        except (TypeError, ValueError) as error:
            body = _error_body(_FaultError("Runtime.MarshalError", "Unable to marshal response: {}".format(error)), request_id)
            _log_error(body)
            _post_error(channel, _ERROR, request_id, body)
            continue
        channel.send(_RESPONSE, request_id.encode("utf-8"), answer)


if __name__ == "__main__":
    main()
