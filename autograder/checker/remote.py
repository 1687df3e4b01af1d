"""The student's kernel as the checks see it.

`Kernel.function(name)` is a proxy of the notebook's function or class `name`: calling it sends the
arguments (arrays, tensors, numbers, containers) and returns the result as data. What is not data (a
module instance, a generator) comes back as a `RemoteObject`: its attributes and methods are fetched
and called the same way, `list(obj)` fetches its items. Arguments the student's code changed in place
are written back into the caller's arrays, so a check can see that it happened.

A function of the checker passed as an argument (or installed with `Kernel.inject`) reaches the kernel
as a stub: when the student's code calls it, the kernel asks the checker to run it (a reference step
function, a counter). A stub answers only while the call or the `inject` that handed it out lasts.
"""
import numpy as np

from autograder.in_kernel import wire


class RemoteObject(wire.Handle):
    """An object that stays in the student's kernel."""

    def __init__(self, kernel, number, type_name):
        object.__setattr__(self, "_kernel", kernel)
        super().__init__(number, type_name)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._kernel.getattr(self, name)

    def __call__(self, *args, **kwargs):
        return self._kernel.call(self, None, args, kwargs)

    def __iter__(self):
        return iter(self._kernel.items(self))

    def method(self, name):
        """A proxy of one method, for grad_call(obj.method("forward"), ...)."""
        return BoundMethod(self, name)


class BoundMethod:
    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __call__(self, *args, **kwargs):
        return self.obj._kernel.call(self.obj, self.name, args, kwargs)


class RemoteFunction:
    """The notebook's global `name` (looked up again at every call)."""

    def __init__(self, kernel, name):
        self.kernel, self.name = kernel, name

    def __call__(self, *args, **kwargs):
        return self.kernel.call(self.name, None, args, kwargs)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return self.kernel.getattr(self.name, attr)

    def __repr__(self):
        return f"<the notebook's {self.name}>"


class GradResult:
    """What grad_call returns: the outputs, the gradients of the inputs sent with requires_grad (in
    order), and a module's parameter gradients by name (None for a function)."""

    def __init__(self, value):
        self.out = value["out"]
        self.input_grads = value["input_grads"]
        self.param_grads = value["param_grads"]


class Kernel:
    """One question's connection to the student's kernel."""

    def __init__(self, peer_factory):
        self.stubs = {}
        self.peer = peer_factory(self)

    # ---------------------------------------------------------------- wire plumbing
    def encoder(self):
        return wire.Encoder(stub_of=self._stub_number)

    def decoder(self, buffers):
        return wire.Decoder(buffers, handle=lambda number, type_name: RemoteObject(self, number, type_name))

    def _stub_number(self, function):
        for number, known in self.stubs.items():
            if known is function:
                return number
        number = len(self.stubs) + 1
        self.stubs[number] = function
        return number

    def serve_callback(self, op, body):
        """The kernel calls a stub back (the only request a kernel may make)."""
        if op != "callback":
            raise wire.WireError(f"the checker does not serve {op!r}")
        function = self.stubs.get(body.get("stub"))
        if function is None:
            raise RuntimeError("this function of the grader is no longer available here")
        args, kwargs = body.get("args", ()), body.get("kwargs") or {}
        if not isinstance(args, (tuple, list)) or not isinstance(kwargs, dict) or \
                not all(isinstance(k, str) for k in kwargs):
            raise wire.WireError("malformed callback")
        return function(*args, **kwargs)

    # ---------------------------------------------------------------- requests
    def exists(self, name):
        return self.peer.request("exists", name=name) is True

    def function(self, name):
        return RemoteFunction(self, name)

    def value(self, name):
        """The notebook variable `name`, as data (NameError-like RemoteError when it is missing)."""
        return self.peer.request("value", name=name)

    def call(self, target, attr, args, kwargs):
        before = len(self.stubs)
        try:
            reply = self.peer.request("call", target=target, attr=attr, args=tuple(args), kwargs=dict(kwargs))
        finally:
            for number in range(before + 1, len(self.stubs) + 1):   # stubs passed as arguments expire
                self.stubs[number] = None
        if not isinstance(reply, dict) or "value" not in reply:
            raise wire.WireError("malformed reply")
        write_back(args, reply.get("args"))
        return reply["value"]

    def getattr(self, target, attr):
        return self.peer.request("getattr", target=target, attr=attr)

    def items(self, target):
        value = self.peer.request("items", target=target)
        if not isinstance(value, list):
            raise wire.WireError("malformed reply")
        return value

    def inject(self, name, function):
        self.peer.request("inject", name=name, stub=function)

    def restore(self, name, function):
        number = self._stub_number(function)
        self.stubs[number] = None
        self.peer.request("restore", name=name)

    def grad_call(self, target, *args, attr=None, grad_outputs=None, forbid=None, **kwargs):
        """Forward in the kernel on `args` (tensors with requires_grad become leaves there), then
        backward of sum(output * grad_output); target is a name, a RemoteObject or obj.method(name)."""
        if isinstance(target, BoundMethod):
            target, attr = target.obj, target.name
        elif isinstance(target, RemoteFunction):
            target = target.name
        value = self.peer.request("grad_call", target=target, attr=attr, args=tuple(args), kwargs=kwargs,
                                  grad_outputs=grad_outputs, forbid=forbid)
        if not isinstance(value, dict) or not {"out", "input_grads", "param_grads"} <= set(value):
            raise wire.WireError("malformed reply")
        return GradResult(value)


def write_back(sent, returned, depth=0):
    """Copy into the checker's arrays (and tensors) what the kernel's code left in its copies."""
    if depth > 16 or returned is None:
        return
    if isinstance(sent, np.ndarray) and isinstance(returned, np.ndarray):
        if sent.shape == returned.shape and sent.flags.writeable:
            try:
                np.copyto(sent, returned, casting="unsafe")
            except (TypeError, ValueError):
                pass
        return
    if isinstance(sent, (tuple, list)) and isinstance(returned, (tuple, list)) and len(sent) == len(returned):
        for a, b in zip(sent, returned):
            write_back(a, b, depth + 1)
        return
    if isinstance(sent, dict) and isinstance(returned, dict):
        for key in sent:
            if key in returned:
                write_back(sent[key], returned[key], depth + 1)
        return
    _write_back_tensor(sent, returned)


def _write_back_tensor(sent, returned):
    import sys
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(sent, torch.Tensor) or not isinstance(returned, torch.Tensor):
        return
    if sent.shape == returned.shape and not sent.requires_grad:
        with torch.no_grad():
            sent.copy_(returned.to(sent.device, sent.dtype))

