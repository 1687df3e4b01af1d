"""The grading kernel's sandbox: resource limits, and bubblewrap (Debian package `bubblewrap`).

The grader writes a kernelspec "rnn-grader" whose argv is

    python -I -c "<run autograder.sandbox.main>" [options] -- -f {connection_file}

This launcher (isolated, -I: it runs as root in the submission's folder, see launcher()) sets
resource limits (address space, CPU seconds, file size, open files, processes), then execs
`python -m ipykernel_launcher` inside bwrap:

- no network: a new network namespace (--unshare-net); the kernel talks to the grader over ZeroMQ
  *ipc* sockets (unix socket files next to the connection file), which cross network namespaces,
  so KernelManager.transport is "ipc" whenever the sandbox is on;
- the filesystem is read-only, and the build folder (gradebook, source/, release/, submitted/,
  autograded/ of everyone, feedback/), the checkout (solutions/, lessons/), /root, /home and /tmp
  are hidden behind empty tmpfs; only the Python installation, the checkout's `course/` and
  `autograder/` packages (read-only), this submission's own folder (read-write) and the kernel's
  runtime folder come back; /tmp is a private tmpfs;
- new PID, IPC and UTS namespaces, and a user namespace unless grading as root (below); the kernel
  dies with the grader (--die-with-parent);
- when the grader runs as root, the kernel does not: RLIMIT_NPROC never applies to root, and root in
  bwrap's user namespace keeps every capability there (enough to unmount the tmpfs that hides the
  gradebook, or to remount / read-write). So as root bwrap makes no user namespace, and the kernel
  drops to a private uid before ipykernel starts (PRIVATE_UID_BASE + the launcher's pid: one uid
  per live kernel, in no passwd file, owner of nothing; it may only add files to this submission's
  folder and its runtime folder): no capabilities, no_new_privs (bwrap sets it), and RLIMIT_NPROC
  (`processes`) stops a fork bomb. As a non-root user the kernel keeps that user's uid, whose
  process limit counts every other process of the user too, so the grader leaves it alone there.

Without bwrap the limits still apply (RLIMIT_NPROC excepted), the grader says so loudly, and
`require=True` refuses to grade.
"""
import functools
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from autograder.limits import KERNEL_RLIMITS

KERNEL_NAME = "rnn-grader"
# the kernel's rlimits: defined in autograder/limits.py (a run may override some, see write_kernelspec)
DEFAULT_LIMITS = KERNEL_RLIMITS
# Kernels graded as root run as PRIVATE_UID_BASE + pid; above systemd's container uid ranges
# (524288-1879048191), below 2**31.
PRIVATE_UID_BASE = 0x70000000
UNSHARE_ALL_BUT_USER = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]


class SandboxUnavailable(RuntimeError):
    pass


def bwrap_path():
    return shutil.which("bwrap")


def works():
    """(True, '') when bwrap can create the namespaces here, else (False, reason)."""
    path = bwrap_path()
    if not path:
        return False, "bubblewrap (bwrap) is not installed"
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                           capture_output=True, text=True)
    if probe.returncode:
        return False, f"bwrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
    return True, ""


@functools.lru_cache(maxsize=None)
def private_uid_works():
    """(True, '') when kernels can run under a private uid: we are root and bwrap, without a user
    namespace, can start a process that drops to one; else (False, reason)."""
    if os.geteuid() != 0:
        return False, "the grader does not run as root (the kernel keeps the grader's own uid)"
    path = bwrap_path()
    if not path:
        return False, "bubblewrap (bwrap) is not installed"
    uid = PRIVATE_UID_BASE + os.getpid()
    drop = (f"import os; os.setgroups([]); os.setresgid({uid}, {uid}, {uid}); os.setresuid({uid}, {uid}, {uid}); "
            f"assert os.getresuid() == ({uid},) * 3")
    probe = subprocess.run([path, "--ro-bind", "/", "/", *UNSHARE_ALL_BUT_USER, "--die-with-parent",
                            sys.executable, "-I", "-S", "-c", drop], capture_output=True, text=True)
    if probe.returncode:
        return False, f"bwrap cannot run a kernel under a private uid here: {probe.stderr.strip()[-200:]}"
    return True, ""


def ensure_installed(install=True):
    """Install bubblewrap with apt-get when we are root and it is missing. Returns (ok, reason)."""
    ok, reason = works()
    if ok or not install or bwrap_path():
        return ok, reason
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("autograder: installing the sandbox (apt-get install bubblewrap) ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "bubblewrap"], capture_output=True)
        if not bwrap_path():
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "bubblewrap"], capture_output=True)
        return works()
    return False, reason + " (run `apt-get install bubblewrap` as root)"


def check(mode):
    """mode 'auto' (sandbox when possible, warn loudly otherwise), 'require' (refuse without), 'off'.
    Returns True when the sandbox will be used."""
    if mode == "off":
        warnings.warn("autograder: grading WITHOUT a sandbox (sandbox='off'): student code runs with your rights")
        return False
    ok, reason = ensure_installed()
    if ok:
        private, why = private_uid_works()
        if not private and os.geteuid() == 0:
            print(f"autograder: kernels will run as root inside the sandbox ({why}); fork bombs are not bounded",
                  file=sys.stderr)
            warnings.warn(f"autograder: kernels run as root inside the sandbox: {why}")
        return True
    message = f"autograder: NO SANDBOX: {reason}. Student code would run with your rights and see every file."
    if mode == "require":
        raise SandboxUnavailable(message)
    print("\n" + "!" * 100 + f"\n{message}\n" + "!" * 100 + "\n", file=sys.stderr)
    warnings.warn(message)
    return False


def launcher():
    """`python -I -c` that runs main() below. Isolated: the launcher runs as root with the submission's
    folder as its working directory, from where `python -m` would import a student's json.py. (Not -S:
    site.py is what makes sys.prefix the virtual environment.)"""
    home = str(Path(__file__).resolve().parent.parent)
    return [sys.executable, "-I", "-c",
            f"import sys; sys.path.insert(0, {home!r}); from autograder.sandbox import main; main()"]


def write_kernelspec(folder, sandbox, hide, expose, limits=None):
    """Write <folder>/kernels/rnn-grader/kernel.json; returns `folder` (add it to JUPYTER_PATH)."""
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    private_uid = bool(sandbox) and private_uid_works()[0]
    argv = [*launcher(), "--config", json.dumps(
        {"sandbox": sandbox, "hide": [str(p) for p in hide], "expose": [str(p) for p in expose], "limits": limits,
         "private_uid": private_uid}),
        "--", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "RNN course grader", "language": "python",
            "interrupt_mode": "message" if sandbox else "signal",
            "env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}}
    target = Path(folder) / "kernels" / KERNEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    (target / "kernel.json").write_text(json.dumps(spec, indent=1))
    return Path(folder)


def set_limits(limits, private_uid=False):
    """Resource limits of the kernel; RLIMIT_NPROC only for a kernel under a private uid (as root it is
    ignored, and a normal user's count includes every other process of theirs)."""
    import resource

    def cap(which, value):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    cap(resource.RLIMIT_AS, limits["memory_mb"] * 2**20)
    cap(resource.RLIMIT_CPU, limits["cpu_s"])
    cap(resource.RLIMIT_FSIZE, limits["file_mb"] * 2**20)
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_CORE, 0)
    if private_uid:
        cap(resource.RLIMIT_NPROC, limits["processes"])


def connection_folder(kernel_args):
    connection = Path(kernel_args[kernel_args.index("-f") + 1]).resolve()
    if connection.parent in {Path("/"), Path("/tmp"), Path.home()} or not connection.parent.name.startswith("k-"):
        raise SystemExit(f"autograder.sandbox: refusing to expose {connection.parent} (the connection file must "
                         "be in a private k-* folder)")
    return connection.parent


def hand_over(uid, folders, connection_file):
    """Let the private uid (its own group) create files in `folders` (this submission's folder, the
    kernel's runtime folder for its ipc sockets) and read its connection file. Everything stays
    root's: the folders are sticky (mode 1770), so the kernel can neither delete nor replace the files
    nbgrader put there (say, the notebook by a symlink that nbgrader would then write through)."""
    for folder in folders:
        os.chown(folder, -1, uid)
        os.chmod(folder, 0o1770)
    os.chown(connection_file, -1, uid)
    os.chmod(connection_file, 0o640)


def open_the_way(paths):
    """bwrap makes the missing parents of a bind target (inside a tmpfs that hides a folder) with
    mode 0700; let everyone list and traverse those (r-x: they hold nothing but the bound targets, and
    Python's import system lists a package's folder to find its modules, e.g. autograder/ holding only
    __init__.py, in_kernel/, sandbox.py and limits.py). The machine's own folders are mounted
    read-only here, so chmod cannot change them."""
    for path in paths:
        for parent in Path(path).parents:
            try:
                mode = os.stat(parent).st_mode
                if mode & 0o005 != 0o005:
                    os.chmod(parent, (mode & 0o7777) | 0o555)
            except OSError:
                pass


def enter_as(uid, paths, command):
    """Inside the sandbox, still root: open the private /tmp and /dev/shm to everyone (sticky) and the
    way to the bound `paths`, drop to `uid` for good (groups, real/effective/saved ids; the
    capabilities go with them), exec `command`."""
    for folder in ("/tmp", "/dev/shm"):
        try:
            os.chmod(folder, 0o1777)
        except OSError:
            pass
    open_the_way(paths)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or os.getgroups():
        raise SystemExit("autograder.sandbox: could not drop to the private uid")
    os.execv(command[0], command)


def gpu_devices():
    """The NVIDIA device files of this machine (none here), for the lessons' CUDA parts in the sandbox."""
    return sorted(str(p) for p in Path("/dev").glob("nvidia*") if not p.is_dir())


def bwrap_command(config, kernel_args, workdir, uid=None):
    """bwrap's argv; with `uid` (grading as root) no user namespace, and the kernel drops to `uid`."""
    connection_parent = connection_folder(kernel_args)
    unshare = ["--unshare-all"] if uid is None else UNSHARE_ALL_BUT_USER
    command = [bwrap_path(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               *unshare, "--die-with-parent", "--hostname", "grader"]
    for device in gpu_devices():   # bwrap's /dev is minimal: without these a sandboxed kernel has no CUDA
        command += ["--dev-bind", device, device]
    for path in ["/tmp", "/root", "/home", *config["hide"]]:
        if Path(path).exists():
            command += ["--tmpfs", str(path)]
    for path in [sys.prefix, sys.base_prefix, *config["expose"]]:
        if Path(path).exists():
            command += ["--ro-bind", str(path), str(path)]
    command += ["--bind", str(workdir), str(workdir), "--bind", str(connection_parent), str(connection_parent),
                "--chdir", str(workdir), "--setenv", "HOME", "/tmp", "--setenv", "IPYTHONDIR", "/tmp/.ipython",
                "--setenv", "MPLCONFIGDIR", "/tmp/.mpl", "--setenv", "TMPDIR", "/tmp",
                # the kernel's parent is bwrap's init in the new PID namespace: ipykernel must not poll it
                "--unsetenv", "JPY_PARENT_PID"]
    kernel = [sys.executable, "-m", "ipykernel_launcher", *kernel_args]
    if uid is None:
        return command + ["--", *kernel]
    # a uid in no passwd file: getpass.getuser() (torch, matplotlib caches) reads these instead
    command += ["--setenv", "USER", "grader", "--setenv", "LOGNAME", "grader"]
    bound = [str(workdir), str(connection_parent), sys.prefix, sys.base_prefix, *config["expose"]]
    stage = json.dumps({"uid": uid, "paths": bound})
    return command + ["--", *launcher(), "--enter-as", stage, "--", *kernel]


def send_console_output_to_log(kernel_args):
    """The kernel's own console chatter (start-up banner, crash messages) goes to kernel.log beside its
    connection file instead of the grader's terminal; cell output travels over ZeroMQ as usual."""
    folder = Path(kernel_args[kernel_args.index("-f") + 1]).resolve().parent
    log = os.open(str(folder / "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--")
    options, kernel_args = argv[:split], argv[split + 1:]
    if "--enter-as" in options:  # second stage, inside bwrap
        stage = json.loads(options[options.index("--enter-as") + 1])
        enter_as(stage["uid"], stage["paths"], kernel_args)
    config = json.loads(options[options.index("--config") + 1])
    preloader = os.environ.pop("RNN_GRADER_PRELOAD", None)  # autograder/preload.py; never reaches the kernel
    uid = PRIVATE_UID_BASE + os.getpid() if config["sandbox"] and config.get("private_uid") else None
    set_limits(config["limits"], private_uid=uid is not None)
    send_console_output_to_log(kernel_args)
    workdir = Path.cwd()
    if config["sandbox"]:
        if uid is not None:
            hand_over(uid, [workdir, connection_folder(kernel_args)], kernel_args[kernel_args.index("-f") + 1])
        command = bwrap_command(config, kernel_args, workdir, uid)
        if preloader:  # the same sandbox, with a pre-imported kernel put into it; returns if unusable
            from autograder.preload import exec_preloaded
            exec_preloaded(command, kernel_args, preloader)
    else:
        command = [sys.executable, "-m", "ipykernel_launcher", *kernel_args]
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
