"""Sphinx fix-up for the built book: each inline script appears once per page.

Sphinx 7.4 registers an inline script that an extension adds after the builder starts
(``app.add_js_file(None, body=...)``, as sphinx-thebe and sphinx-togglebutton do) twice: once
as ``_JavaScript(None)`` and again as ``_JavaScript('')`` when it prepares writing. The copy
re-declares ``const THEBE_JS_URL`` and every page raised "Identifier 'THEBE_JS_URL' has
already been declared" in the browser (browser_tests/test_book_pages.py caught it).
"""

from __future__ import annotations


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = tuple(sorted((k, str(v)) for k, v in script.attributes.items()))
        key = (script.filename or "", script.priority, attributes)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # the builder restores its own list after each page


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
