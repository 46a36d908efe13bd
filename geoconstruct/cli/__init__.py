"""The ``geoconstruct`` command line: it parses, calls the library and prints."""

from geoconstruct.cli.commands import main

__all__ = ["main"]
