"""How results leave the library: tables (Markdown, CSV, JSON, LaTeX) and figures."""
