"""Sphinx configuration for custrel."""

from __future__ import annotations

import importlib
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
            lines += [f".. {directive}:: custrel.{name}.{member}", ""]
            if directive == "autodata":
                lines += ["   :no-value:", ""]
        text = "\n".join(lines)
        target = out / f"{name}.rst"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def setup(app: object) -> None:
    app.connect("builder-inited", _write_reference)  # type: ignore[attr-defined]
