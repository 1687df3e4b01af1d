"""`python3 -m autograder <command>`: set up the environment on first use, then run the CLI."""
import sys

from autograder.bootstrap import ensure_environment

ensure_environment(sys.argv[1:])

from autograder.cli import main  # noqa: E402  (needs the installed requirements)

sys.exit(main())
