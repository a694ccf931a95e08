"""A table or function of a local run, found by the name a user knows it by.

A user names a table as their app does (``Orders``, the construct's id, or ``Orders/Table``, its path), as the
template does (its logical id, ``Stack/LogicalId`` when several stacks run), or as the run does (its table name, with
any ``--table-prefix``). The construct path comes from the template's ``aws:cdk:path`` metadata, or from the
construct tree when a test hands over the stack itself.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["UnknownName", "accepted_names", "resolve"]


class UnknownName(LookupError):
    """No resource, or more than one, answers to a name; the message lists what the run holds."""


def accepted_names(key: str, own_names: tuple[str, ...], construct_path: str | None) -> list[str]:
    """Every name ``key`` (a ``LocalApp`` key) answers to: the key, its logical id, ``own_names`` (its names here),
    and its construct path without the stack, and without ``/Resource``, and each leading part of that path."""
    names = [key, key.rpartition("/")[2], *own_names]
    if construct_path:
        path = construct_path.strip("/").removesuffix("/Resource")
        stack, _, inner = path.partition("/")
        names += [construct_path.strip("/"), path]
        parts = inner.split("/") if inner else []
        for end in range(len(parts), 0, -1):
            names.append("/".join(parts[:end]))
            names.append(f"{stack}/{'/'.join(parts[:end])}")
    return list(dict.fromkeys(name for name in names if name))


def resolve(
    name: str,
    candidates: Mapping[str, tuple[str, ...]],
    construct_paths: Mapping[str, str],
    *,
    what: str = "table",
) -> str:
    """The key of the one candidate ``name`` names.

    ``candidates`` maps each key to its own names (e.g. the table's name here); ``construct_paths`` holds the keys'
    construct paths where known. An exact key, logical id or own name wins over a construct path, and a whole path
    over a leading part of one.

    Raises UnknownName naming every candidate when none answers or several answer equally.
    """
    if name in candidates:
        return name
    tiers: list[list[str]] = [[], [], []]
    for key, own_names in candidates.items():
        if name == key.rpartition("/")[2] or name in own_names:
            tiers[0].append(key)
            continue
        path = construct_paths.get(key)
        if not path:
            continue
        whole = path.strip("/").removesuffix("/Resource")
        if name.strip("/") in (path.strip("/"), whole, whole.partition("/")[2]):
            tiers[1].append(key)
        elif name in accepted_names(key, own_names, path):
            tiers[2].append(key)
    for matched in tiers:
        if len(matched) == 1:
            return matched[0]
        if len(matched) > 1:
            listing = _listing(candidates, construct_paths, what)
            raise UnknownName(f"{what} {name!r} is ambiguous: it names {', '.join(sorted(matched))}; {listing}")
    raise UnknownName(f"no {what} {name!r}; {_listing(candidates, construct_paths, what)}")


def _listing(candidates: Mapping[str, tuple[str, ...]], construct_paths: Mapping[str, str], what: str) -> str:
    described = []
    for key, own_names in sorted(candidates.items()):
        path = construct_paths.get(key)
        known = [*own_names, path.strip("/").removesuffix("/Resource")] if path else list(own_names)
        described.append(f"{key} ({', '.join(dict.fromkeys(known))})" if known else key)
    return f"the {what}s are: {'; '.join(described) or 'none'}"
