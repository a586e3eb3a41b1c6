"""Small lookups the case templates need and Django's template language lacks."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def lookup(mapping: dict | None, key: str):
    """``mapping[key]``, or None: the form options of one action in a loop over actions."""
    return (mapping or {}).get(key)


@register.filter
def tail(text: str | None, keep: int = 4) -> str:
    """A reference shown where anyone may look (/lookup/): its last characters only."""
    text = str(text or "")
    return "*" * max(len(text) - keep, 0) + text[-keep:] if len(text) > keep else text
