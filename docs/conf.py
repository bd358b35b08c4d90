"""Sphinx configuration for custrel."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import custrel

project = "custrel"
author = "custrel developers"
copyright = "2026, custrel developers"
release = custrel.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
# No global doctest setup: the tutorial, how-to and explanation pages run as a reader pastes
# them, so each page imports what it uses (tests/test_docs_pasted.py checks the same outside
# Sphinx). Docstring examples run in their module's namespace under pytest; the generated
# reference pages give the Sphinx doctest builder that namespace with a per-page testsetup.
doctest_test_doctest_blocks = "default"
exclude_patterns = ["_build"]
templates_path: list[str] = []
html_theme = "alabaster"
nitpicky = False
suppress_warnings = ["ref.python"]

# The reference is generated from __all__: one page per public module.
PUBLIC_MODULES = [
    name
    for name in (
        "errors",
        "models",
        "clv",
        "btyd",
        "rfm",
        "pyramid",
        "lifecycle",
        "channels",
        "frames",
        "datasets",
        "plot",
        "report",
        "cli",
    )
    if (Path(custrel.__file__).parent / f"{name}.py").exists()
    or (Path(custrel.__file__).parent / name / "__init__.py").exists()
]


def _write_reference(app: object) -> None:
    out = Path(__file__).parent / "reference" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    for name in PUBLIC_MODULES:
        module = importlib.import_module(f"custrel.{name}")
        title = f"custrel.{name}"
        lines = [
            title,
            "=" * len(title),
            "",
            ".. testsetup:: *",
            "",
            "   import numpy as np",
            "   import custrel",
            "   from custrel import *",
            f"   from custrel.{name} import *",
            "",
            f".. automodule:: custrel.{name}",
            "   :no-members:",
            "",
        ]
        for member in getattr(module, "__all__", []):
            obj = getattr(module, member)
            if isinstance(obj, type):
                directive = "autoclass"
            elif callable(obj):
                directive = "autofunction"
            else:
                directive = "autodata"
            lines.append(f".. {directive}:: custrel.{name}.{member}")
            if directive == "autodata":
                lines.append("   :no-value:")  # an option: right below the directive
            lines.append("")
        text = "\n".join(lines)
        target = out / f"{name}.rst"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def _data_docs(module_name: str, name: str) -> list[str] | None:
    """The ``#:`` comment documenting ``name`` in a public module or, for a package, in the
    private submodule that defines it (autodoc looks only in the public module)."""
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    module = importlib.import_module(module_name)
    candidates = [module_name]
    if hasattr(module, "__path__"):
        candidates += [f"{module_name}.{m.name}" for m in pkgutil.iter_modules(module.__path__)]
    for candidate in candidates:
        docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        if ("", name) in docs:
            return list(docs["", name])
    return None


def _document_data(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Give a public constant its own ``#:`` comment, never its type's docstring (a dict's
    docstring is not valid reStructuredText, and a class's says nothing about the constant)."""
    if what != "data":
        return
    module_name, _, attr = name.rpartition(".")
    found = _data_docs(module_name, attr)
    if found is not None:
        lines[:] = found
    elif "\n".join(lines).strip() == (type(obj).__doc__ or "").strip():
        lines[:] = []


def _drop_attributes_documented_twice(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Drop an Attributes entry of a class that is also a property with its own docstring.

    Runs after napoleon has turned the Attributes section into ``.. attribute::`` blocks;
    autodoc documents the property itself, and two descriptions of one name are a warning.
    """
    if what != "class" or not isinstance(obj, type):
        return
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith(".. attribute:: "):
            attr = line.removeprefix(".. attribute:: ").strip()
            member = inspect.getattr_static(obj, attr, None)
            skipping = isinstance(member, property) and bool(member.__doc__)
        elif line and not line.startswith(" "):
            skipping = False
        if not skipping:
            out.append(line)
    lines[:] = out


def setup(app: object) -> None:
    app.connect("builder-inited", _write_reference)  # type: ignore[attr-defined]
    app.connect("autodoc-process-docstring", _document_data)  # type: ignore[attr-defined]
    app.connect(  # type: ignore[attr-defined]
        "autodoc-process-docstring", _drop_attributes_documented_twice, priority=600
    )
