"""Argument validation with Keras' message form, shared by every kerasbio module.

"Invalid value received for argument `rate`. Expected a number >= 0 and < 1. Received: rate=1.5"
"""


def validate_range(name, value, low=None, high=None, low_open=False, high_open=False):
    """Raise a `ValueError` naming `name` unless `low (<|<=) value (<|<=) high`."""
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a number "
            f"{_describe_range(low, high, low_open, high_open)}. Received: {name}={value}"
        )
    return value


def validate_choice(name, value, choices):
    """Raise a `ValueError` naming `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected one of "
            f"{', '.join(repr(c) for c in choices)}. Received: {name}={value!r}"
        )
    return value


def _describe_range(low, high, low_open, high_open):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)
