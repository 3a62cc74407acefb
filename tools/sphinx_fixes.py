"""Sphinx extension: fixes for what the browser check (tools/check_pages.py) found.

- Sphinx 7.4 writes an inline script twice when an extension adds it after the builder
  started (sphinx-thebe's ``const THEBE_JS_URL = ...``): the second copy is a JavaScript
  error on every page ("Identifier 'THEBE_JS_URL' has already been declared"). Each page
  gets every script once.
- The theme's colour mode defaults to "" and its script reports that as an error on a
  reader's first page; the book starts in light mode (the figures have white
  backgrounds), and the reader can still switch.
- Code inside a box (exercise, solution, hint) gets a slightly smaller font, so that 88
  columns fit there as in the main column (``static/wastelab.css``).
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return (
        getattr(script, "filename", None) or "",
        getattr(script, "priority", 500),
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the builder restores its own list after each page


def _light_mode(app, config) -> None:
    # pydata-sphinx-theme (under the book theme) reads the mode from the page context
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")
    config.html_context = context


def _add_static(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    app.connect("config-inited", _light_mode)
    app.connect("config-inited", _add_static)
    app.add_css_file("wastelab.css")
    app.connect("html-page-context", _unique_scripts, priority=900)  # after the others
    return {"parallel_read_safe": True, "parallel_write_safe": True}
