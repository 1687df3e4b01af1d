"""The kernel's side of a check: run what the checker asks for on the student's code, send back data.

The checker (autograder/checker/, in a process of the grader's) drives a question. It sends requests;
this module answers each with plain data (autograder/in_kernel/wire.py):

| request | what the kernel does |
|---|---|
| exists(name) | is `name` a callable in the notebook's namespace? |
| value(name) | the value of a notebook variable (a concept question's answer) |
| call(target, attr, args, kwargs) | calls the notebook's function (or a kernel object's method) and returns its result, plus the arguments as they are afterwards (so the checker sees changes made in place) |
| getattr(target, attr) / items(target) | an attribute of a kernel object / the items of an iterable one |
| grad_call(target, attr, args, kwargs, grad_outputs, forbid) | forward on tensors (those sent with requires_grad become leaves), then backward of sum(output * grad_output); returns the outputs, the leaves' gradients and a module's parameter gradients |
| inject(name, stub) / restore(name) | while the checker says so, the notebook's `name` is a function that calls the checker back (the reference step function for a sequence question, a counter) |

No request carries code, and nothing here compares, scores or knows an expected value: what the
student's code can change in this process changes only its own answers. Every request runs under
`library_defaults()`.
"""
import contextlib

from autograder.in_kernel import wire
from autograder.in_kernel.defaults import library_defaults

MAX_ITEMS = 100_000


class Forbidden(Exception):
    """The student's code used a torch.nn layer the exercise asks them to write themselves."""


class KernelSide:
    """Serves one question: the notebook's namespace, the objects handed out, the checker's stubs."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.objects = {}        # number -> object handed to the checker as a handle
        self.numbers = {}        # id(object) -> number
        self.saved = {}          # names replaced by inject, with their values before
        self.peer = None

    # ---------------------------------------------------------------- wire plumbing
    def handle_of(self, value):
        number = self.numbers.get(id(value))
        if number is None or self.objects.get(number) is not value:
            number = len(self.objects) + 1
            self.objects[number] = value
            self.numbers[id(value)] = number
        return number

    def encoder(self):
        return wire.Encoder(handle_of=self.handle_of)

    def decoder(self, buffers):
        return wire.Decoder(buffers, handle=self._object, stub=self._stub)

    def _object(self, number, type_name):
        if number not in self.objects:
            raise wire.WireError(f"no kernel object #{number}")
        return self.objects[number]

    def _stub(self, number):
        peer = self.peer

        def call_checker(*args, **kwargs):
            return peer.request("callback", stub=number, args=args, kwargs=kwargs)
        call_checker.__name__ = call_checker.__qualname__ = "provided_by_the_grader"
        return call_checker

    # ---------------------------------------------------------------- requests
    def serve(self, op, body):
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            raise wire.WireError(f"unknown request {op!r}")
        return handler(**body)

    def _target(self, target, attr=None):
        if isinstance(target, str):
            if target not in self.namespace:
                raise NameError(f"`{target}` is not defined: run its cell, and keep its name")
            value = self.namespace[target]
        else:
            value = target
        if attr is not None:
            with library_defaults():
                value = getattr(value, attr)
        return value

    def op_exists(self, name):
        return callable(self.namespace.get(name))

    def op_value(self, name):
        """A notebook variable's value (a concept question's answer), as data; a handle otherwise."""
        if name not in self.namespace:
            raise NameError(f"`{name}` is not defined: run its cell, and keep its name")
        return self.namespace[name]

    def op_call(self, target, attr=None, args=(), kwargs=None):
        function = self._target(target, attr)
        args = list(args)
        with library_defaults():
            result = function(*args, **(kwargs or {}))
        return {"value": result, "args": args}

    def op_getattr(self, target, attr):
        return self._target(target, attr)

    def op_items(self, target):
        with library_defaults():
            items = []
            for item in self._target(target):
                items.append(item)
                if len(items) > MAX_ITEMS:
                    raise ValueError("more items than the checker accepts")
        return items

    def op_inject(self, name, stub):
        if name not in self.saved:
            self.saved[name] = self.namespace.get(name, _MISSING)
        self.namespace[name] = stub
        return None

    def op_restore(self, name):
        self._put_back(name)
        return None

    def restore_all(self):
        for name in list(self.saved):
            self._put_back(name)

    def _put_back(self, name):
        if name in self.saved:
            value = self.saved.pop(name)
            if value is _MISSING:
                self.namespace.pop(name, None)
            else:
                self.namespace[name] = value

    def op_grad_call(self, target, attr=None, args=(), kwargs=None, grad_outputs=None, forbid=None):
        import torch

        obj = self._target(target)
        function = self._target(target, attr) if attr else obj
        module = obj if isinstance(obj, torch.nn.Module) else None
        leaves = [t for t in _tensors((args, kwargs)) if t.requires_grad and t.is_leaf]
        with library_defaults():
            if module is not None:
                for parameter in module.parameters():
                    parameter.grad = None
            with _forbidden(forbid):
                out = function(*args, **(kwargs or {}))
            if grad_outputs is not None:
                outputs, grads = _tensors(out), _tensors(grad_outputs, keep_none=True)
                if len(outputs) != len(grads):
                    raise ValueError(f"returned {len(outputs)} tensors where {len(grads)} were expected")
                terms = [(o * g.to(o.device, o.dtype)).sum() for o, g in zip(outputs, grads)
                         if g is not None and o.requires_grad]
                if not terms:
                    raise ValueError("no output depends on the inputs or the parameters (a .detach(), or "
                                     "torch.no_grad()?)")
                sum(terms).backward()
        return {"out": out, "input_grads": [leaf.grad for leaf in leaves],
                "param_grads": {name: p.grad for name, p in module.named_parameters()} if module is not None else None}


_MISSING = object()



def _tensors(value, keep_none=False, depth=0):
    """The tensors in a nested tuple/list/dict, in order (with keep_none, Nones hold their place)."""
    import torch

    if depth > wire.MAX_DEPTH:
        return []
    if isinstance(value, torch.Tensor):
        return [value]
    if value is None:
        return [None] if keep_none and depth > 0 else []
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v, keep_none, depth + 1)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v, keep_none, depth + 1)]
    return []


@contextlib.contextmanager
def _forbidden(forbid):
    """While the student's code runs, the named torch.nn layers refuse to run (forbid: {classes, message})."""
    import torch

    if not forbid:
        yield
        return
    message = str(forbid.get("message", "this layer is not allowed here"))
    classes = [getattr(torch.nn, name) for name in forbid.get("classes", ())
               if isinstance(getattr(torch.nn, name, None), type)]
    saved = [(cls, cls.__dict__.get("forward")) for cls in classes]

    def refuse(self, *args, **kwargs):
        raise Forbidden(message)

    for cls, _ in saved:
        cls.forward = refuse
    try:
        yield
    finally:
        for cls, original in saved:
            if original is None:
                del cls.forward
            else:
                cls.forward = original


def _language():
    try:
        from course.i18n import language
        return language()
    except Exception:   # the course package is the student's to break; the report falls back to English
        return "en"


def serve_question(sock, namespace, name, points):
    """Tell the checker this kernel is ready for question `name`, then serve it until it is done.
    Returns (score, report) as the checker sent them."""
    side = KernelSide(namespace)
    peer = wire.Peer(sock, side.serve, side.encoder, side.decoder)
    side.peer = peer
    try:
        peer.send({"op": "ready", "question": str(name), "points": float(points), "language": _language()})
        while True:
            header, buffers = wire.receive(sock)
            if header.get("op") == "done":
                body = header.get("body") or {}
                decoder = side.decoder(buffers)
                score = decoder.decode(body.get("score"))
                report = decoder.decode(body.get("report"))
                peer.send({"re": header.get("id"), "value": None})
                return float(score), str(report)
            if "op" in header and isinstance(header.get("id"), int):
                peer.answer(header, buffers)
    finally:
        side.restore_all()
        side.objects.clear()
