"""`python3 -m autograder <command>`: set up the environment on first use, then run the CLI."""
import sys

from autograder.bootstrap import ensure_environment

ensure_environment(sys.argv[1:])

try:
    from autograder.cli import main  # noqa: E402  (needs the installed requirements)

    status = main()
except KeyboardInterrupt:   # Ctrl-C while a command starts (its imports take seconds): no traceback
    print("\nInterrupted.", file=sys.stderr)
    status = 130
sys.exit(status)
