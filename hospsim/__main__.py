"""`python -m hospsim` is the `hospsim` command."""

from .cli import main

raise SystemExit(main())
