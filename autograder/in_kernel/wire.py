"""The checker's wire format: plain data only, never pickle, never code.

A message is one frame: a 4-byte length and a JSON header, then the raw bytes of every array or
tensor it carries, each behind an 8-byte length. Values the format can carry are None, bool, int,
float, complex, str, bytes, tuple, list, dict, NumPy arrays and scalars (numbers, booleans, fixed-width
strings), torch tensors (dtype, shape, device, requires_grad), torch dtypes and devices. Any other
object (a module, a generator, a student's class instance) travels as a *handle*: a number that
names it in the kernel's object table; a function of the checker's travels as a *stub* number the
kernel calls back. Decoding checks every size, depth and type tag, so a frame a student forged can
make a check fail but cannot run code or exhaust the grader's memory.

Both sides import this module: the checker (autograder.checker) and the kernel (autograder.in_kernel).
"""
import json
import socket
import struct

import numpy as np

MAX_FRAME_BYTES = 512 * 2**20
MAX_DEPTH = 64
MAX_ITEMS = 1_000_000
ARRAY_KINDS = set("biufcUS")


class WireError(Exception):
    """A frame that breaks the format."""


class ConnectionLost(WireError):
    """The other side closed the connection (it died, or its time ran out)."""


class Handle:
    """An object that stays in the kernel, named by its number there."""

    def __init__(self, number, type_name):
        self.number, self.type_name = number, type_name

    def __repr__(self):
        return f"<kernel object #{self.number}: {self.type_name}>"


class Stub:
    """A function of the checker, named by its number, that the kernel may call back."""

    def __init__(self, number):
        self.number = number


def _torch():
    import torch
    return torch


class Encoder:
    """Turns a value into (header, buffers). `handle_of(obj)` names what is not data (None: refuse)."""

    def __init__(self, handle_of=None, stub_of=None):
        self.buffers = []
        self.handle_of = handle_of
        self.stub_of = stub_of
        self.items = 0

    def encode(self, value, depth=0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("value nested too deeply or too large to send")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value if -2**63 <= value < 2**63 else {"I": str(value)}
        if isinstance(value, float):
            return {"f": repr(value)} if value != value or value in (float("inf"), float("-inf")) else value
        if isinstance(value, complex):
            return {"C": [repr(value.real), repr(value.imag)]}
        if isinstance(value, bytes):
            return {"B": self._buffer(value)}
        if isinstance(value, Handle):
            return {"H": value.number, "type": value.type_name}
        if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS and value.dtype.names is None:
            return {"A": self._buffer(np.ascontiguousarray(value).tobytes()), "dt": value.dtype.str,
                    "sh": list(value.shape)}
        if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
            return {"S": self._buffer(value.tobytes()), "dt": value.dtype.str}
        if isinstance(value, tuple):
            return {"T": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return {"L": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"D": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        encoded = self._torch_value(value)
        if encoded is not None:
            return encoded
        if self.stub_of is not None and callable(value):
            return {"F": self.stub_of(value)}
        if self.handle_of is not None:
            return {"H": self.handle_of(value), "type": type(value).__name__}
        raise WireError(f"cannot send a {type(value).__name__}")

    def _torch_value(self, value):
        import sys
        torch = sys.modules.get("torch")
        if torch is None:
            return None
        if isinstance(value, torch.Tensor):
            if value.is_sparse or value.is_quantized:
                raise WireError("sparse or quantized tensors are not supported")
            data = value.detach().to("cpu").contiguous()
            if data.dtype == torch.bfloat16:
                raw = data.view(torch.int16).numpy().tobytes()
            else:
                raw = data.numpy().tobytes()
            return {"X": self._buffer(raw), "dt": str(value.dtype).replace("torch.", ""),
                    "sh": list(value.shape), "rg": bool(value.requires_grad), "dev": value.device.type}
        if isinstance(value, torch.dtype):
            return {"dtype": str(value).replace("torch.", "")}
        if isinstance(value, torch.device):
            return {"device": str(value)}
        return None

    def _buffer(self, raw):
        self.buffers.append(bytes(raw))
        return len(self.buffers) - 1


class Decoder:
    """The inverse of Encoder; `handle(number, type)` and `stub(number)` rebuild those references."""

    def __init__(self, buffers, handle=None, stub=None):
        self.buffers = buffers
        self.handle = handle or (lambda number, type_name: Handle(number, type_name))
        self.stub = stub or Stub
        self.items = 0

    def decode(self, node, depth=0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("value nested too deeply or too large")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list) or not isinstance(node, dict) or len(node) == 0:
            raise WireError("malformed value")
        tag = next(iter(node))
        if tag == "T":
            return tuple(self.decode(v, depth + 1) for v in self._list(node["T"]))
        if tag == "L":
            return [self.decode(v, depth + 1) for v in self._list(node["L"])]
        if tag == "D":
            result = {}
            for pair in self._list(node["D"]):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("malformed dict")
                key = self.decode(pair[0], depth + 1)
                try:
                    result[key] = self.decode(pair[1], depth + 1)
                except TypeError:
                    raise WireError("unhashable dict key") from None
            return result
        if tag == "I":
            return int(self._str(node["I"])[:4000])
        if tag == "f":
            return float(self._str(node["f"]))
        if tag == "C":
            real, imag = self._list(node["C"])
            return complex(float(self._str(real)), float(self._str(imag)))
        if tag == "B":
            return self._raw(node["B"])
        if tag == "A":
            return self._array(node, self._raw(node["A"])).copy()
        if tag == "S":
            return self._array({"dt": node.get("dt"), "sh": []}, self._raw(node["S"]))[()]
        if tag == "X":
            return self._tensor(node)
        if tag == "dtype":
            return self._dtype(node["dtype"])
        if tag == "device":
            return _torch().device(self._str(node["device"]))
        if tag == "H":
            return self.handle(self._int(node["H"]), self._str(node.get("type", "object")))
        if tag == "F":
            return self.stub(self._int(node["F"]))
        raise WireError(f"unknown value tag {tag!r}")

    def _list(self, value):
        if not isinstance(value, list):
            raise WireError("malformed list")
        return value

    def _str(self, value):
        if not isinstance(value, str):
            raise WireError("malformed string")
        return value

    def _int(self, value):
        if not isinstance(value, int) or isinstance(value, bool):
            raise WireError("malformed number")
        return value

    def _raw(self, index):
        if not isinstance(index, int) or not 0 <= index < len(self.buffers):
            raise WireError("reference to a missing buffer")
        return self.buffers[index]

    def _shape(self, shape):
        shape = self._list(shape)
        if len(shape) > 32 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise WireError("malformed shape")
        return tuple(shape)

    def _array(self, node, raw):
        try:
            dtype = np.dtype(self._str(node.get("dt")))
        except TypeError:
            raise WireError("unknown dtype") from None
        if dtype.kind not in ARRAY_KINDS or dtype.names is not None or dtype.subdtype is not None:
            raise WireError(f"arrays of dtype {dtype} are not accepted")
        shape = self._shape(node.get("sh"))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * dtype.itemsize != len(raw):
            raise WireError("array size does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape)

    def _dtype(self, name):
        torch = _torch()
        value = getattr(torch, self._str(name), None) if name.isidentifier() else None
        if not isinstance(value, torch.dtype):
            raise WireError(f"unknown torch dtype {name!r}")
        return value

    def _tensor(self, node):
        torch = _torch()
        dtype = self._dtype(node.get("dt"))
        shape = self._shape(node.get("sh"))
        raw = self._raw(node["X"])
        if dtype == torch.bfloat16:
            base = torch.from_numpy(np.frombuffer(raw, dtype=np.int16).copy()).view(torch.bfloat16)
        else:
            numpy_dtype = torch.empty((), dtype=dtype).numpy().dtype
            if len(raw) % max(1, numpy_dtype.itemsize):
                raise WireError("tensor size does not match its dtype")
            base = torch.from_numpy(np.frombuffer(raw, dtype=numpy_dtype).copy())
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if base.numel() != count:
            raise WireError("tensor size does not match its shape")
        tensor = base.reshape(shape)
        device = self._str(node.get("dev", "cpu"))
        if device != "cpu" and device_ok_here(device):
            tensor = tensor.to(device)
        if node.get("rg") is True:
            if not (tensor.is_floating_point() or tensor.is_complex()):
                raise WireError("only floating point tensors can require gradients")
            tensor.requires_grad_(True)
        return tensor


# ------------------------------------------------------------------------------------------ frames
def pack(message, encoder):
    """One frame: message is a dict whose 'value'-like entries were already encoded by `encoder`."""
    header = json.dumps(message, separators=(",", ":")).encode()
    parts = [struct.pack(">I", len(header)), header, struct.pack(">I", len(encoder.buffers))]
    for raw in encoder.buffers:
        parts += [struct.pack(">Q", len(raw)), raw]
    total = sum(len(p) for p in parts)
    if total > MAX_FRAME_BYTES:
        raise WireError(f"message of {total} bytes is over the limit of {MAX_FRAME_BYTES}")
    return b"".join(parts)


def _exactly(sock, count, budget):
    if count > budget[0]:
        raise WireError("frame over the size limit")
    budget[0] -= count
    chunks, left = [], count
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionLost("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock):
    """(header dict, buffers) of the next frame."""
    budget = [MAX_FRAME_BYTES]
    (length,) = struct.unpack(">I", _exactly(sock, 4, budget))
    try:
        header = json.loads(_exactly(sock, length, budget))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WireError("a frame whose header is not JSON") from None
    if not isinstance(header, dict):
        raise WireError("a frame whose header is not an object")
    (count,) = struct.unpack(">I", _exactly(sock, 4, budget))
    if count > 100_000:
        raise WireError("too many buffers in one frame")
    buffers = []
    for _ in range(count):
        (size,) = struct.unpack(">Q", _exactly(sock, 8, budget))
        buffers.append(_exactly(sock, size, budget))
    return header, buffers


class Peer:
    """One end of a question's connection: requests with numbers, replies that name them, and the
    other side's requests served while this side waits (a callback during a call)."""

    def __init__(self, sock, serve_request, make_encoder, make_decoder):
        self.sock = sock
        self.serve_request = serve_request        # (op, body, decoder) -> value
        self.make_encoder = make_encoder
        self.make_decoder = make_decoder
        self.next_id = 1
        self.stray = 0

    def send(self, message, encoder=None):
        self.sock.sendall(pack(message, encoder or self.make_encoder()))

    def request(self, op, **body):
        """Send a request and return the decoded reply (RemoteError when the other side failed)."""
        number = self.next_id
        self.next_id += 1
        encoder = self.make_encoder()
        encoded = {key: encoder.encode(value) for key, value in body.items()}
        self.send({"op": op, "id": number, "body": encoded}, encoder)
        while True:
            header, buffers = receive(self.sock)
            if header.get("re") == number:
                decoder = self.make_decoder(buffers)
                if "error" in header:
                    error = header["error"] if isinstance(header["error"], dict) else {}
                    raise RemoteError(str(error.get("type", "Exception"))[:100], str(error.get("message", ""))[:2000])
                return decoder.decode(header.get("value"))
            if "op" in header and isinstance(header.get("id"), int):
                self.answer(header, buffers)
            else:
                self.stray += 1

    def answer(self, header, buffers):
        number = header["id"]
        try:
            body = header.get("body") or {}
            if not isinstance(body, dict):
                raise WireError("malformed request")
            decoder = self.make_decoder(buffers)
            value = self.serve_request(str(header["op"]), {k: decoder.decode(v) for k, v in body.items()})
            encoder = self.make_encoder()
            self.send({"re": number, "value": encoder.encode(value)}, encoder)
        except (ConnectionLost, OSError):
            raise
        except WireError as error:
            self.send({"re": number, "error": {"type": type(error).__name__, "message": str(error)}})
        except BaseException as error:   # the student's code may raise anything, KeyboardInterrupt too
            self.send({"re": number, "error": {"type": type(error).__name__, "message": _message(error)}})
            if not isinstance(error, Exception):
                raise


def _message(error):
    try:
        return str(error)[:2000]
    except BaseException:
        return "(an exception whose message cannot be shown)"


class RemoteError(Exception):
    """The other side raised while serving a request."""

    def __init__(self, type_name, message):
        super().__init__(message)
        self.type_name, self.message = type_name, message

    def __str__(self):
        return self.message


def device_ok_here(device):
    """Whether this process can put a tensor on `device` (the other side may have a GPU this one lacks)."""
    try:
        import torch
        kind = torch.device(device).type
        return kind == "cpu" or (kind == "cuda" and torch.cuda.is_available())
    except (ImportError, RuntimeError, ValueError, TypeError):
        return False


def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock
