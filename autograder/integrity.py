"""Kernel-side integrity guard: the grader runs `install()` in every grading kernel before the first
student cell, and `verify()` before every grade cell.

install() imports what the hidden checks use (numpy, torch, course, autograder.checks and every
lesson module) and records, for each protected module and class, the objects its names refer to
(functions, classes, modules), the code objects of its Python functions, the check registry, the
sys hooks and IPython's display machinery.

verify() compares the present state with that record. Whatever student code replaced (e.g.
`np.allclose = lambda *a, **k: True`, `core.expect_close = ...`, a display formatter for float,
`sys.displayhook`) is put back before the check runs, and each restoration is reported as a flag
"<what>: <how it was changed>". The grader shows the flags to the instructor.

Limits (see autograder/GRADING.md, threat model): code that reaches this module's own state
(gc, ctypes, frame hacks) can defeat it; the grader's out-of-kernel checks then still catch a
missing or inconsistent score, and the static scan flags such code.
"""
import builtins
import importlib
import sys
import types

PROTECTED = [
    "builtins", "sys", "math", "warnings", "contextlib", "io", "secrets", "json",
    "numpy", "numpy.testing", "numpy.linalg", "numpy.random", "numpy.lib",
    "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.autograd", "torch.linalg",
    "torch.nn.utils.rnn",
]
PROTECTED_PREFIXES = ("course", "autograder.checks", "autograder.references", "autograder.integrity")
EXTRA_CLASSES = ["torch.Tensor", "torch.nn.Module", "torch.nn.Parameter"]
# sys.displayhook/excepthook are swapped by IPython around every execution; a tampered display hook is
# caught outside the kernel (a grade cell without a score scores 0).
SYS_HOOKS = ["stdout", "stderr", "modules", "meta_path", "path_hooks"]
INSTANCE_KEYS_SET_BY_IPYTHON = {"sys_excepthook"}

BUILTINS_SET_BY_IPYTHON = {"input", "raw_input", "get_ipython", "exit", "quit", "display", "help",
                           "copyright", "credits", "license", "breakpoint", "getpass"}
GUARDED_PRINTERS = {"formatter[text/plain]"}
_state = {}


def _internal(owner, value):
    """True when `value` comes from the same top-level package as the module `owner` (torch rebinding
    torch.manual_seed to torch.random.manual_seed is torch's business, not the student's)."""
    top = getattr(owner, "__name__", "").split(".")[0]
    module = getattr(value, "__module__", None) or ""
    return top in ("numpy", "torch") and module.split(".")[0] == top and \
        getattr(getattr(value, "__code__", None), "co_filename", "").find("site-packages") >= 0 \
        if isinstance(value, types.FunctionType) else top in ("numpy", "torch") and module.split(".")[0] == top


def _same(a, b):
    """Identity, or equality for bound methods (a new object at every attribute access)."""
    return a is b or (isinstance(a, (types.MethodType, types.BuiltinMethodType)) and a == b)


def _is_guarded_value(value):
    return callable(value) or isinstance(value, types.ModuleType)


def _describe(value):
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or type(value).__name__
    module = getattr(value, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _protected_modules():
    names = [n for n in PROTECTED if n in sys.modules]
    names += sorted(n for n in list(sys.modules) if n.startswith(PROTECTED_PREFIXES))
    return {n: sys.modules[n] for n in names if isinstance(sys.modules.get(n), types.ModuleType)}


def _resolve(dotted):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _shell_objects():
    """IPython objects whose methods decide what a cell's result looks like."""
    try:
        shell = get_ipython()  # noqa: F821  (defined in a kernel)
    except NameError:
        try:
            from IPython import get_ipython as _get
            shell = _get()
        except Exception:
            shell = None
    if shell is None:
        return {}
    objects = {"shell": shell, "display_formatter": shell.display_formatter, "displayhook": shell.displayhook,
               "display_pub": shell.display_pub}
    for mime, formatter in shell.display_formatter.formatters.items():
        objects[f"formatter[{mime}]"] = formatter
    return objects


def install(extra_modules=()):
    """Import the checks and record the state verify() restores. Returns the number of names guarded."""
    import numpy  # noqa: F401
    import numpy.testing  # noqa: F401
    import numpy.linalg  # noqa: F401
    import torch  # noqa: F401
    import torch.nn.functional  # noqa: F401
    import torch.testing  # noqa: F401
    import torch.nn.utils.rnn  # noqa: F401
    import course  # noqa: F401
    import course.numerics  # noqa: F401
    import autograder.checks
    import autograder.checks.core  # noqa: F401
    autograder.checks.load_all()
    for name in extra_modules:
        importlib.import_module(name)

    modules = _protected_modules()
    entries = {}   # (label, owner, key) -> value
    codes = {}     # label -> (function, code, defaults, kwdefaults)
    classes = {}
    for mname, module in modules.items():
        for key, value in list(vars(module).items()):
            if (mname == "builtins" and key in BUILTINS_SET_BY_IPYTHON) or \
                    (mname == "sys" and key in ("displayhook", "excepthook")):
                continue
            if _is_guarded_value(value):
                entries[(f"{mname}.{key}", module, key)] = value
            if isinstance(value, type) and (mname.startswith(PROTECTED_PREFIXES) and value.__module__ == mname):
                classes[f"{mname}.{key}"] = value
            if isinstance(value, types.FunctionType):
                codes[f"{mname}.{key}"] = (value, value.__code__, value.__defaults__, value.__kwdefaults__)
    for dotted in EXTRA_CLASSES:
        try:
            classes[dotted] = _resolve(dotted)
        except Exception:
            pass
    class_entries = {}
    for label, cls in classes.items():
        for key, value in list(vars(cls).items()):
            class_entries[(f"{label}.{key}", cls, key)] = value
            if isinstance(value, types.FunctionType):
                codes[f"{label}.{key}"] = (value, value.__code__, value.__defaults__, value.__kwdefaults__)
    shell_objects = _shell_objects()
    instance_entries = {}
    for label, obj in shell_objects.items():
        instance_entries[label] = (obj, dict(vars(obj)) if hasattr(obj, "__dict__") else {})
        for cls in type(obj).__mro__:
            if cls.__module__.startswith(("IPython", "ipykernel", "traitlets")) and cls not in classes.values():
                classes[f"{cls.__module__}.{cls.__qualname__}"] = cls
                for key, value in list(vars(cls).items()):
                    class_entries[(f"{cls.__module__}.{cls.__qualname__}.{key}", cls, key)] = value
    printers = {label: (obj, dict(obj.type_printers), dict(obj.deferred_printers), obj.enabled)
                for label, obj in shell_objects.items() if label in GUARDED_PRINTERS}
    display_formatter = shell_objects.get("display_formatter")
    _state.update(
        entries=entries, codes=codes, class_entries=class_entries, instance_entries=instance_entries,
        printers=printers,
        formatters=(display_formatter, dict(display_formatter.formatters),
                    list(display_formatter.active_types)) if display_formatter is not None else None,
        sys_hooks={key: getattr(sys, key) for key in SYS_HOOKS},
        sys_modules={name: module for name, module in modules.items()},
        registry=dict(autograder.checks.QUESTIONS),
        registry_owner=autograder.checks,
        builtins_dict=builtins.__dict__,
        setattr=setattr, delattr=delattr, vars=vars, getattr=getattr, isinstance=isinstance, type=type,
        list=list, dict=dict, sorted=sorted, len=len, str=str, object=object,
    )
    return len(entries) + len(class_entries) + len(codes)


def verify():
    """Restore everything recorded by install() that changed; return a list of flag strings."""
    s = _state
    if not s:
        return ["integrity guard was not installed in this kernel"]
    setattr_, getattr_, vars_, type_ = s["setattr"], s["getattr"], s["vars"], s["type"]
    flags = []
    # sys hooks and sys.modules first: everything else is looked up through them.
    for key, value in s["sys_hooks"].items():
        if not _same(getattr_(sys, key, None), value):
            flags.append(f"sys.{key} was replaced")
            setattr_(sys, key, value)
    for name, module in s["sys_modules"].items():
        if sys.modules.get(name) is not module:
            flags.append(f"sys.modules[{name!r}] was replaced")
            sys.modules[name] = module
    for entry, value in s["list"](s["entries"].items()):
        label, owner, key = entry
        current = vars_(owner).get(key, s["object"])
        if not _same(current, value) and _internal(owner, current):
            s["entries"][entry] = current  # the library rebound its own name (lazy import, wrapper)
            continue
        if not _same(current, value):
            flags.append(f"{label} was replaced" + ("" if current is s["object"] else f" by {_describe(current)}"))
            setattr_(owner, key, value)
    for (label, cls, key), value in s["class_entries"].items():
        current = vars_(cls).get(key, s["object"])
        if not _same(current, value):
            flags.append(f"{label} (class attribute) was replaced")
            try:
                setattr_(cls, key, value)
            except (TypeError, AttributeError):
                pass
    for label, (function, code, defaults, kwdefaults) in s["codes"].items():
        if function.__code__ is not code or function.__defaults__ is not defaults \
                or function.__kwdefaults__ is not kwdefaults:
            flags.append(f"{label}: its code or defaults were changed")
            function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
    for label, (obj, saved) in s["instance_entries"].items():
        current = vars_(obj) if hasattr(obj, "__dict__") else {}
        for key in s["list"](current):
            if key not in saved and key not in INSTANCE_KEYS_SET_BY_IPYTHON and callable(current[key]):
                flags.append(f"IPython {label}.{key} was patched on the instance")
                s["delattr"](obj, key)
        for key, value in saved.items():
            if key in INSTANCE_KEYS_SET_BY_IPYTHON:
                continue
            if callable(value) and not _same(current.get(key, s["object"]), value):
                flags.append(f"IPython {label}.{key} was replaced")
                setattr_(obj, key, value)
    for label, (obj, types_, deferred, enabled) in s["printers"].items():
        if s["dict"](obj.type_printers) != types_ or s["dict"](obj.deferred_printers) != deferred:
            flags.append(f"IPython {label}: a display printer was registered")
            obj.type_printers.clear()
            obj.type_printers.update(types_)
            obj.deferred_printers.clear()
            obj.deferred_printers.update(deferred)
        if obj.enabled != enabled:
            flags.append(f"IPython {label} was disabled")
            obj.enabled = enabled
    if s["formatters"] is not None:
        display_formatter, formatters, active = s["formatters"]
        if s["dict"](display_formatter.formatters) != formatters:
            flags.append("IPython display formatters were replaced")
            display_formatter.formatters = s["dict"](formatters)
        if s["list"](display_formatter.active_types) != active:
            flags.append("IPython display_formatter.active_types was changed")
            display_formatter.active_types = s["list"](active)
    registry_owner = s["registry_owner"]
    if registry_owner.QUESTIONS != s["registry"]:
        flags.append("autograder.checks.QUESTIONS (the check registry) was changed")
        registry_owner.QUESTIONS.clear()
        registry_owner.QUESTIONS.update(s["registry"])
    return flags
