"""The grading kernel's sandbox: resource limits, and bubblewrap (Debian package `bubblewrap`).

The grader writes a kernelspec "rnn-grader" whose argv is

    python -m autograder.sandbox [options] -- -f {connection_file}

This launcher sets resource limits (address space, CPU seconds, file size, open files), then execs
`python -m ipykernel_launcher` inside bwrap:

- no network: a new network namespace (--unshare-all); the kernel talks to the grader over ZeroMQ
  *ipc* sockets (unix socket files next to the connection file), which cross network namespaces,
  so KernelManager.transport is "ipc" whenever the sandbox is on;
- the filesystem is read-only, and the build folder (gradebook, source/, release/, submitted/,
  autograded/ of everyone, feedback/), the checkout (solutions/, lessons/), /root, /home and /tmp
  are hidden behind empty tmpfs; only the Python installation, the checkout's `course/` and
  `autograder/` packages (read-only), this submission's own folder (read-write) and the kernel's
  runtime folder come back; /tmp is a private tmpfs;
- new PID, IPC, UTS and user namespaces; the kernel dies with the grader (--die-with-parent).

Without bwrap the limits still apply, the grader says so loudly, and `require=True` refuses to grade.
"""
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

KERNEL_NAME = "rnn-grader"
DEFAULT_LIMITS = {"memory_mb": 6144, "cpu_s": 900, "file_mb": 256, "open_files": 512}


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
        return True
    message = f"autograder: NO SANDBOX: {reason}. Student code would run with your rights and see every file."
    if mode == "require":
        raise SandboxUnavailable(message)
    print("\n" + "!" * 100 + f"\n{message}\n" + "!" * 100 + "\n", file=sys.stderr)
    warnings.warn(message)
    return False


def write_kernelspec(folder, sandbox, hide, expose, limits=None):
    """Write <folder>/kernels/rnn-grader/kernel.json; returns `folder` (add it to JUPYTER_PATH)."""
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    argv = [sys.executable, "-m", "autograder.sandbox", "--config", json.dumps(
        {"sandbox": sandbox, "hide": [str(p) for p in hide], "expose": [str(p) for p in expose], "limits": limits}),
        "--", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "RNN course grader", "language": "python",
            "interrupt_mode": "message" if sandbox else "signal",
            "env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}}
    target = Path(folder) / "kernels" / KERNEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    (target / "kernel.json").write_text(json.dumps(spec, indent=1))
    return Path(folder)


def set_limits(limits):
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


def bwrap_command(config, kernel_args, workdir):
    connection = Path(kernel_args[kernel_args.index("-f") + 1]).resolve()
    if connection.parent in {Path("/"), Path("/tmp"), Path.home()} or not connection.parent.name.startswith("k-"):
        raise SystemExit(f"autograder.sandbox: refusing to expose {connection.parent} (the connection file must "
                         "be in a private k-* folder)")
    command = [bwrap_path(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--unshare-all", "--die-with-parent", "--hostname", "grader"]
    for path in ["/tmp", "/root", "/home", *config["hide"]]:
        if Path(path).exists():
            command += ["--tmpfs", str(path)]
    for path in [sys.prefix, sys.base_prefix, *config["expose"]]:
        if Path(path).exists():
            command += ["--ro-bind", str(path), str(path)]
    command += ["--bind", str(workdir), str(workdir), "--bind", str(connection.parent), str(connection.parent),
                "--chdir", str(workdir), "--setenv", "HOME", "/tmp", "--setenv", "IPYTHONDIR", "/tmp/.ipython",
                "--setenv", "MPLCONFIGDIR", "/tmp/.mpl", "--setenv", "TMPDIR", "/tmp",
                # the kernel's parent is bwrap's init in the new PID namespace: ipykernel must not poll it
                "--unsetenv", "JPY_PARENT_PID"]
    return command + ["--", sys.executable, "-m", "ipykernel_launcher", *kernel_args]


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
    config = json.loads(options[options.index("--config") + 1])
    set_limits(config["limits"])
    send_console_output_to_log(kernel_args)
    workdir = Path.cwd()
    if config["sandbox"]:
        command = bwrap_command(config, kernel_args, workdir)
    else:
        command = [sys.executable, "-m", "ipykernel_launcher", *kernel_args]
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
