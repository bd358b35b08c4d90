"""The registry covers the whole public API: new functions and methods need an entry."""

from __future__ import annotations

import adv_perturb as pt
import registry


def test_every_public_callable_has_an_entry() -> None:
    covered = {k.split(".", 1)[1] for k in registry.ENTRIES}
    missing = []
    for name, obj in registry.public_names().items():
        if name in covered or name in registry.EXEMPT:
            continue
        if isinstance(obj, type):
            # a result class: covered through its methods, which must all be entries
            continue
        missing.append(name)
    assert not missing, f"public callables without a registry entry: {missing}"


def test_every_public_method_has_an_entry() -> None:
    covered = {k.split(".", 1)[1] for k in registry.ENTRIES}
    missing = [
        m for m in registry.required_method_names() if m not in covered and m not in registry.EXEMPT
    ]
    assert not missing, (
        f"public methods without a registry entry (add the class to "
        f"registry.INSTANCES and any required arguments to METHODS): {missing}"
    )


def test_exemptions_name_real_api() -> None:
    names = set(registry.public_names()) | set(registry.required_method_names())
    stale = [k for k in registry.EXEMPT if k not in names]
    assert not stale, f"EXEMPT lists names that are no longer public: {stale}"


def test_registry_tables_name_real_api() -> None:
    names = set(registry.public_names())
    methods = set(registry.required_method_names())
    stale = [n for n in registry.FUNCTIONS if n not in names]
    stale += [m for m in registry.METHODS if m not in methods]
    stale += [c for c in registry.INSTANCES if c not in names]
    assert not stale, f"registry tables name API that is no longer public: {stale}"


def test_every_kind_covers_every_family() -> None:
    for kind, table in pt.TABLES.items():
        assert set(table) == set(pt.FAMILIES), kind
        assert all(table[f] for f in pt.FAMILIES), kind
