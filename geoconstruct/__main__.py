"""``python -m geoconstruct`` runs the command line."""

from geoconstruct.cli import main

raise SystemExit(main())
