"""Pre-imported grading kernels: one sandbox per notebook, without paying `import torch` each time.

The grader starts one *preloader* (a zygote) per batch: a process that imports the heavy third-party
libraries once (numpy, torch, matplotlib, IPython/ipykernel) and never runs student code. For each
notebook the sandbox launcher (autograder/sandbox.py) starts bubblewrap exactly as for an ordinary
kernel, except that the sandbox's command is a tiny *holder* (`cat`, reading a pipe) instead of
`python -m ipykernel_launcher`. The preloader then forks a child that

1. joins every namespace of the holder (user, mount, PID, network, IPC, UTS, cgroup: setns(2)),
   forks once more so that it is a member of the sandbox's PID namespace;
2. takes the holder's resource limits, environment, uid/gid/groups, capabilities and
   no_new_privs, and *verifies* that its credentials, namespaces and root directory now equal the
   holder's (it exits instead of running a kernel when anything differs);
3. closes every inherited file descriptor, reseeds NumPy's global generator, forgets this
   checkout's modules, and runs ipykernel's IPKernelApp in place.

So every notebook still gets a fresh kernel process in a fresh bubblewrap sandbox (never reused,
nothing shared with another student's kernel but copy-on-write pages of the pristine preloader);
only the Python start-up and the imports are done once per batch instead of once per notebook.
The kernel lives exactly as long as the sandbox: the holder exits when the kernel's end of its pipe
closes, and a killed sandbox (bwrap is still the process the kernel manager started and kills)
takes the kernel with it, because the kernel is in the sandbox's PID namespace.

Only third-party modules are preloaded: the course's own packages (`course`, `autograder.checks`)
may depend on the notebook's working folder or environment when imported, so every kernel imports
them itself. Modules whose import looks at the running IPython shell (tqdm.auto, ipywidgets,
matplotlib_inline's backend) are deliberately not preloaded either.

Whenever the preloader cannot be used (no sandbox, the preloader did not start, a sandbox command
this module does not recognise) the launcher falls back to starting an ordinary kernel.
"""
import ctypes
import fcntl
import gc
import json
import os
import select
import shutil
import socket
import sys
import time
from pathlib import Path

from autograder.limits import PRELOAD_READY_TIMEOUT_S, PRELOAD_STEP_TIMEOUT_S

ENV = "RNN_GRADER_PRELOAD"
NAMESPACES = ["user", "ipc", "uts", "net", "cgroup", "pid", "mnt"]
PRELOAD = [
    "numpy", "numpy.testing", "numpy.linalg", "numpy.random", "numpy.lib",
    "torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch.testing", "torch.autograd", "torch.linalg",
    "torch.nn.utils.rnn", "torch.utils.data",
    # torch imports dynamo (with sympy, mpmath: ~1 s) the first time an optimizer steps or a function
    # that opts out of torch.compile runs: in every lesson from 2 on
    "torch._dynamo", "numpy.fft", "psutil",
    "matplotlib", "matplotlib.pyplot", "matplotlib.font_manager", "matplotlib.figure", "PIL.Image",
    "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "jupyter_client.session", "zmq",
    # what IPKernelApp.initialize() imports (0.08 s of each kernel's start, most of it the debugger's)
    "ipykernel.debugger", "IPython.core.debugger", "IPython.core.completerlib", "IPython.extensions.storemagic",
    "sqlite3", "pdb", "tornado.queues", "tornado.locks", "tornado.platform.asyncio",
]
CREDENTIAL_FIELDS = ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"]
NS_GET_USERNS, NS_GET_PARENT = 0xB701, 0xB702   # ioctl(2)s on namespace fds
MAX_NESTING = 8
IMPORTS_SET = {}  # environment variables the preloaded imports set
PRELOADER_FOLDER = ""   # the preloader's working folder (what imports computed paths from)
# defined in autograder/limits.py: waiting for the preloader to be ready, each step of forking a kernel
READY_TIMEOUT_S = PRELOAD_READY_TIMEOUT_S
STEP_TIMEOUT_S = PRELOAD_STEP_TIMEOUT_S

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 8, 24, 36, 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE, PR_CAP_AMBIENT_CLEAR_ALL = 2, 4


# ================================================================================= worker side
def start(folder, kernel_env):
    """Start a preloader (listening on <folder>/preload.sock, a private folder); returns (process,
    socket path). `kernel_env`: the kernelspec's environment (thread counts), which must be in force
    when the libraries load."""
    import subprocess

    folder = Path(folder)
    path = folder / "preload.sock"
    env = dict(os.environ, **kernel_env)
    env.pop(ENV, None)
    # What ipykernel sets before any cell runs (matplotlib reads it when imported); a private
    # matplotlib config folder for the font cache, which the preloader builds once.
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["MPLCONFIGDIR"] = str(folder / "preload-mpl")
    # torch's compiler makes its cache folder when imported: in this private folder, not the machine's /tmp
    env["TORCHINDUCTOR_CACHE_DIR"] = str(folder / "preload-torchinductor")
    log = open(folder / "preload.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "autograder.preload", "--serve", str(path)], env=env,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(folder))
    log.close()
    deadline = time.monotonic() + STEP_TIMEOUT_S   # it listens before it imports: a moment
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return process, str(path)


def stop(process):
    if process.poll() is None:
        process.kill()
        process.wait()


# ================================================================================= launcher side
def _read_json(fd, timeout):
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        try:
            return json.loads(data)
        except ValueError:
            continue
    raise TimeoutError("bwrap did not report its sandbox")


def _children(pid):
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait_for_exec(init, program, timeout):
    """The pid of the sandbox's one process (init's child) once it runs `program`: bwrap (and the
    sandbox's own second stage, if any) have finished building the sandbox by then."""
    target = os.stat(program)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(init)
        if len(kids) > 1:
            raise RuntimeError(f"expected one process in the sandbox, found {kids}")
        if kids:
            try:
                exe = os.stat(f"/proc/{kids[0]}/exe")
                if (exe.st_dev, exe.st_ino) == (target.st_dev, target.st_ino):
                    return kids[0]
            except OSError:
                pass
        time.sleep(0.002)
    raise TimeoutError("the sandbox did not start")


def _user_chain(user_fd):
    """The user namespaces between this process's and the holder's (which is not in it), outermost first."""
    chain, fd, mine = [], user_fd, os.stat("/proc/self/ns/user").st_ino
    while len(chain) < MAX_NESTING:
        try:
            parent = fcntl.ioctl(fd, NS_GET_PARENT)
        except OSError:   # the holder's is ours (no user namespace), or the top was reached
            break
        if os.fstat(parent).st_ino == mine:
            os.close(parent)
            break
        chain.append(parent)
        fd = parent
    return chain[::-1]


def _ask(socket_path, message, fds, timeout):
    """One request to the preloader (a connection each: the preloader is never kept waiting)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(socket_path)
        if fds:
            socket.send_fds(conn, [message], fds)
        else:
            conn.sendall(message)
        return conn.recv(16)


def exec_preloaded(command, kernel_args, socket_path):
    """In the sandbox launcher: run `command` (the bwrap command line of an ordinary kernel) with the
    holder in place of ipykernel, and have the preloader put a kernel into that sandbox. Replaces
    this process with bwrap; returns only when the preloader cannot be used (nothing started yet)."""
    tail = [sys.executable, "-m", "ipykernel_launcher", *kernel_args]
    if command[-len(tail):] != tail or any(a.startswith(("--seccomp", "--add-seccomp")) for a in command):
        return
    try:
        if _ask(socket_path, b"hello", [], READY_TIMEOUT_S) != b"ready":
            return
    except OSError:
        return
    holder = os.path.realpath(shutil.which("cat") or "/bin/cat")
    hold_r, hold_w = os.pipe()      # the holder reads it; the kernel keeps the write end until it dies
    info_r, info_w = os.pipe()      # bwrap's --info-fd: the host pid of the sandbox's init
    os.set_inheritable(hold_r, True)
    os.set_inheritable(info_w, True)
    broker = os.fork()
    if broker:  # this process becomes the sandbox, as an ordinary kernel's launcher would
        os.dup2(hold_r, 0)
        for fd in (hold_r, hold_w, info_r):
            os.close(fd)
        os.execv(command[0], [command[0], "--info-fd", str(info_w), *command[1:-len(tail)], holder])
    # the broker: wait for the sandbox, then hand its namespaces to the preloader
    code = 1
    try:
        os.close(hold_r)
        os.close(info_w)
        init = _read_json(info_r, STEP_TIMEOUT_S)["child-pid"]
        kid = _wait_for_exec(init, holder, STEP_TIMEOUT_S)
        fds = [os.open(f"/proc/{kid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC) for name in NAMESPACES]
        chain = _user_chain(fds[0])
        config_r, config_w = os.pipe()
        os.write(config_w, json.dumps({"kernel_args": kernel_args, "workdir": os.getcwd()}).encode())
        os.close(config_w)
        # fd 2 is the kernel's log, opened by the launcher (the kernel may not be allowed to open it)
        code = 0 if _ask(socket_path, b"fork", [*fds, hold_w, config_r, 2, *chain], STEP_TIMEOUT_S) == b"ok" else 1
    except Exception as error:  # the sandbox then ends by itself (nobody holds the pipe): a dead kernel
        print(f"autograder.preload: {type(error).__name__}: {error}", file=sys.stderr)
    os._exit(code)


# ================================================================================= preloader side
def serve(path):
    """The preloader: import, then fork a kernel into each sandbox handed over on `path`."""
    import signal

    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # dies with the grader that started it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    old = os.umask(0o177)
    listener.bind(path)
    os.umask(old)
    listener.listen(8)
    started = time.monotonic()
    global PRELOADER_FOLDER
    PRELOADER_FOLDER = os.getcwd()
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]   # what ipykernel_launcher does: a kernel's sys.path has no start folder
    import importlib

    before = dict(os.environ)
    for name in PRELOAD:
        importlib.import_module(name)
    # what the imports put into the environment (debugpy: PYDEVD_USE_FRAME_EVAL); an ordinary kernel
    # gets it by importing them, a preloaded one from here
    IMPORTS_SET.update({key: value for key, value in os.environ.items() if before.get(key) != value})
    import matplotlib.font_manager  # noqa: F401  (builds the font list once)
    skip_unseen_figure_drawing()
    # The imported objects live as long as the kernels do: keep the garbage collector of every kernel
    # from walking them (and from dirtying their copy-on-write pages to do so).
    gc.collect()
    gc.freeze()
    threads = len(os.listdir("/proc/self/task"))
    print(f"preloaded {len(sys.modules)} modules in {time.monotonic() - started:.1f} s; {threads} thread(s)",
          flush=True)
    if threads != 1:  # forking a multi-threaded process is unsafe: let every launcher fall back
        print("more than one thread after the imports: not serving", flush=True)
        return 1
    # The kernels are orphaned when their joiner exits: make them this process's children (not pid 1's,
    # which in a container may never reap them) and reap them between requests.
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    listener.settimeout(1.0)
    while True:
        _reap()
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        try:
            _handle(listener, conn)
        except Exception as error:
            print(f"request failed: {type(error).__name__}: {error}", flush=True)
        finally:
            conn.close()


INLINE_BACKEND_NAMES = ("module://matplotlib_inline.backend_inline", "inline")   # the second after %matplotlib inline


def skip_unseen_figure_drawing():
    """pyplot's post-execute hook draws every stale figure after each cell; with the inline backend
    that drawing is never shown, because matplotlib-inline's own post-execute hook then draws each
    figure again into the PNG the notebook stores (and closes it). A preloaded kernel skips the unseen
    drawing under the inline backend (a figure drawn once instead of twice, identical PNGs: tested in
    test_preload); under any other backend the hook draws as before."""
    import matplotlib
    import matplotlib.pyplot as pyplot

    draw_all = pyplot._draw_all_if_interactive

    def draw_all_unless_inline():
        if matplotlib.get_backend() not in INLINE_BACKEND_NAMES:
            draw_all()
    pyplot._draw_all_if_interactive = draw_all_unless_inline


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _handle(listener, conn):
    conn.settimeout(STEP_TIMEOUT_S)
    message, fds, _, _ = socket.recv_fds(conn, 16, len(NAMESPACES) + 3 + MAX_NESTING)
    if message == b"hello" and not fds:
        conn.sendall(b"ready")
        return
    if message != b"fork" or len(fds) < len(NAMESPACES) + 3:
        for fd in fds:
            os.close(fd)
        return
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            listener.close()
            conn.close()
            n = len(NAMESPACES)
            _join(fds[:n], *fds[n:n + 3], fds[n + 3:])
        except BaseException as error:
            print(f"joining the sandbox failed: {type(error).__name__}: {error}", flush=True)
        os._exit(status)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    conn.sendall(b"ok" if status == 0 else b"failed")


def _owner(fd):
    owner = fcntl.ioctl(fd, NS_GET_USERNS)
    try:
        return os.fstat(owner).st_ino
    finally:
        os.close(owner)


def _enter(fds, user_chain):
    """setns() into the sandbox: each namespace right after the user namespace that owns it (whose
    capabilities that takes), from this process's own user namespace down to the holder's. As root
    without a user namespace that is simply every namespace; as another user, bwrap makes one user
    namespace that owns the others and a second one inside it for the sandbox's processes."""
    mine = {name: os.stat(f"/proc/self/ns/{name}").st_ino for name in NAMESPACES}  # (before /proc changes)
    owners = {name: _owner(fd) for name, fd in fds.items() if name != "user"}
    levels = [(mine["user"], None)] + [(os.fstat(fd).st_ino, fd) for fd in [*user_chain, fds["user"]]]
    now = mine["user"]
    for inode, fd in levels:
        if fd is not None and inode != now:
            _check(_libc.setns(fd, 0), "setns(user)")
            now = inode
        for name in NAMESPACES[1:]:   # the mount namespace last: it changes what /proc shows
            if owners[name] == inode and os.fstat(fds[name]).st_ino != mine[name]:
                _check(_libc.setns(fds[name], 0), f"setns({name})")
    for fd in [*fds.values(), *user_chain]:
        os.close(fd)


def _join(namespace_fds, hold_w, config_r, log, user_chain):
    """In a child of the preloader: enter the sandbox's namespaces, fork the kernel, exit."""
    with os.fdopen(config_r, "rb") as handle:
        config = json.loads(handle.read())
    _enter(dict(zip(NAMESPACES, namespace_fds)), user_chain)
    if os.fork():
        os._exit(0)   # the kernel is orphaned to the sandbox's init, like every process in it
    try:
        code = _run_kernel(config, hold_w, log)
    except BaseException as error:
        import traceback

        print(f"the preloaded kernel did not start: {type(error).__name__}: {error}\n{traceback.format_exc()}",
              file=sys.stderr, flush=True)
        code = 70
    os._exit(code)


# ------------------------------------------------------------------------------ in the sandbox
def _status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return fields


def _holder_pid():
    """The holder, seen from inside the sandbox's PID namespace: the one process there besides
    bwrap's init (1) and this one."""
    me = os.getpid()
    others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
    if len(others) != 1:
        raise RuntimeError(f"expected one other process in the sandbox, found {others}")
    return others[0]


def _capset(effective, permitted, inheritable):
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)()
    for i in range(2):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(Header(0x20080522, 0)), data), "capset")


LIMIT_NAMES = {"Max cpu time": "CPU", "Max file size": "FSIZE", "Max data size": "DATA", "Max stack size": "STACK",
               "Max core file size": "CORE", "Max resident set": "RSS", "Max processes": "NPROC",
               "Max open files": "NOFILE", "Max locked memory": "MEMLOCK", "Max address space": "AS",
               "Max file locks": "LOCKS", "Max pending signals": "SIGPENDING", "Max msgqueue size": "MSGQUEUE",
               "Max nice priority": "NICE", "Max realtime priority": "RTPRIO", "Max realtime timeout": "RTTIME"}


def _limits(pid):
    """{RLIMIT_*: (soft, hard)} of a process, from /proc/<pid>/limits (readable by anyone; prlimit()
    on another uid's process would need CAP_SYS_RESOURCE, which containers often lack)."""
    import resource

    def value(text):
        return resource.RLIM_INFINITY if text == "unlimited" else int(text)

    limits = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name = line[:26].strip()
        fields = line[26:].split()
        which = getattr(resource, f"RLIMIT_{LIMIT_NAMES.get(name, '?')}", None)
        if which is not None and len(fields) >= 2:
            limits[which] = (value(fields[0]), value(fields[1]))
    return limits


def _become_like(holder):
    """Take the holder's resource limits and credentials (uid, gid, groups, capabilities,
    no_new_privs): the kernel must be exactly as confined as a process bwrap started."""
    import resource

    for which, limits in _limits(holder).items():
        resource.setrlimit(which, limits)
    target = _status(holder)
    bounding = int(target["CapBnd"][0], 16)
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if not bounding >> cap & 1:
            _prctl(PR_CAPBSET_DROP, cap)
    groups = [int(g) for g in target.get("Groups", [])]
    if sorted(os.getgroups()) != sorted(groups):
        os.setgroups(groups)
    _prctl(PR_SET_KEEPCAPS, 1)
    os.setresgid(*[int(g) for g in target["Gid"][:3]])
    os.setresuid(*[int(u) for u in target["Uid"][:3]])
    _capset(int(target["CapEff"][0], 16), int(target["CapPrm"][0], 16), int(target["CapInh"][0], 16))
    _prctl(PR_SET_KEEPCAPS, 0)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    ambient = int(target["CapAmb"][0], 16)
    for cap in range(last + 1):
        if ambient >> cap & 1:
            _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
    if target["NoNewPrivs"][0] == "1":
        _prctl(PR_SET_NO_NEW_PRIVS, 1)


def _verify_like(holder):
    """Refuse to run unless credentials, limits, namespaces and mounts (as seen from this process's
    root) equal the holder's."""
    mine, theirs = _status("self"), _status(holder)
    differ = [f for f in CREDENTIAL_FIELDS if mine.get(f) != theirs.get(f)]
    if Path("/proc/self/limits").read_text() != Path(f"/proc/{holder}/limits").read_text():
        differ.append("limits")
    for name in NAMESPACES:
        if os.readlink(f"/proc/self/ns/{name}") != os.readlink(f"/proc/{holder}/ns/{name}"):
            differ.append(f"{name} namespace")
    if Path("/proc/self/mountinfo").read_text() != Path(f"/proc/{holder}/mountinfo").read_text():
        differ.append("root directory or mounts")
    if differ:
        raise RuntimeError("the kernel would not be confined like the sandbox: " + ", ".join(differ))


def _checkout_modules():
    """This checkout's packages (the preloader itself is `autograder.preload`): every kernel imports
    them afresh."""
    return [name for name in list(sys.modules) if name.split(".")[0] in ("autograder", "course")]


def _same_python_path(preloader_path):
    """sys.path starts with PYTHONPATH's entries: those of this kernel's environment, not the preloader's."""
    old = [p for p in preloader_path.split(os.pathsep) if p]
    new = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if old != new:
        for entry in old:
            if entry in sys.path:
                sys.path.remove(entry)
        sys.path[0:0] = new


def _recompute_import_time_state(preloader_folder):
    """What the preloaded libraries worked out from the preloader's folder, user or environment when
    they were imported, worked out again for this kernel (found by scanning every preloaded module
    for the preloader's folder and user): matplotlib's config and cache folders (memoised in
    closures) and user style path, multiprocessing's start folder, the default folders of torch's
    compiler configs, tempfile's cached temporary folder."""
    import multiprocessing.process
    import tempfile

    import matplotlib

    for getter in ("get_configdir", "get_cachedir"):
        function = getattr(matplotlib, getter, None)
        names = getattr(getattr(function, "__code__", None), "co_freevars", ())
        if "called" in names and function.__closure__:
            function.__closure__[names.index("called")].cell_contents = False
    for module in ("matplotlib.style", "matplotlib.style.core"):
        if hasattr(sys.modules.get(module), "USER_LIBRARY_PATHS"):
            sys.modules[module].USER_LIBRARY_PATHS = [os.path.join(matplotlib.get_configdir(), "stylelib")]
    multiprocessing.process.ORIGINAL_DIR = os.getcwd()
    tempfile.tempdir = None
    for module in ("torch._dynamo.config", "torch._inductor.config", "torch._functorch.config"):
        entries = getattr(sys.modules.get(module), "_config", None)
        for entry in (entries or {}).values():
            default = getattr(entry, "default", None)
            if isinstance(default, str) and default.startswith(preloader_folder):
                entry.default = os.getcwd() + default[len(preloader_folder):]


def _run_kernel(config, hold_w, log):
    import atexit
    import importlib

    os.setsid()
    holder = _holder_pid()
    environment = Path(f"/proc/{holder}/environ").read_bytes().split(b"\0")
    _become_like(holder)
    _verify_like(holder)
    # file descriptors: stdin from /dev/null, stdout/stderr to the kernel's log, the pipe; nothing else
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    keep = {0, 1, 2, hold_w}
    for fd in [int(f) for f in os.listdir("/proc/self/fd")]:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.set_inheritable(hold_w, False)
    survivors = []
    for fd in {int(f) for f in os.listdir("/proc/self/fd")} - keep:  # (one was the listing's own, closed now)
        try:
            os.fstat(fd)
            survivors.append(fd)
        except OSError:
            pass
    if survivors:
        raise RuntimeError(f"file descriptors survived the clean-up: {survivors}")
    preloader_path = os.environ.get("PYTHONPATH", "")
    os.environ.clear()
    os.environ.update(dict(item.decode("utf-8", "surrogateescape").split("=", 1)
                           for item in environment if b"=" in item))
    os.environ.update(IMPORTS_SET)
    os.chdir(config["workdir"])
    _same_python_path(preloader_path)
    # what a fresh `python -m ipykernel_launcher` in that folder would have (the preloader registered
    # no exit handlers of its own; the libraries' are those an ordinary kernel registers too)
    for name in _checkout_modules():
        del sys.modules[name]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    _recompute_import_time_state(PRELOADER_FOLDER)
    import numpy
    import torch

    # the generators were seeded from the OS once, in the preloader: every kernel gets its own seeds
    # (Python's `random` reseeds itself in a forked child)
    numpy.random.seed()
    torch.seed()
    from ipykernel import kernelapp

    sys.argv = [str(Path(kernelapp.__file__).parent.parent / "ipykernel_launcher.py"), *config["kernel_args"]]
    sys.orig_argv = [sys.executable, "-m", "ipykernel_launcher", *config["kernel_args"]]

    code = 0
    try:
        kernelapp.launch_new_instance(argv=config["kernel_args"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    atexit._run_exitfuncs()
    return code


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve"] and len(argv) == 2:
        return serve(argv[1])
    print("usage: python -m autograder.preload --serve SOCKET", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
