"""{% load personal_data %}: ``{{ text|masked }}`` shows text with its ID numbers masked.

For text a person typed (a description, a comment, a result): an ID number in it is shown as
core.idnumber.mask shows a registered one. ``{{ text|masked:"phones" }}`` also masks mobile
numbers, for pages the public reads.
"""

from django import template

from yiwang.core.idnumber import mask_text

register = template.Library()


@register.filter(is_safe=True)
def masked(value: object, what: str = "") -> object:
    if not isinstance(value, str):
        return value  # a number or a yes/no from a form shows as it would unfiltered
    return mask_text(value, phones=what == "phones")
