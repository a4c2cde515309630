"""`python -m audit ...` is `labs-audit ...`."""

from audit.cli import main

raise SystemExit(main())
