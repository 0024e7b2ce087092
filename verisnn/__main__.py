"""``python -m verisnn``: the same command line as ``verisnn``."""

from .cli import main

raise SystemExit(main())
