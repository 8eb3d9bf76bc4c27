"""Argument validation with Keras' message form, shared by every kerasbio module.

"Invalid value received for argument `rate`. Expected a float value between 0 and 1.
Received: rate=1.5". Every check rejects the wrong type as well as the wrong value: NaN never
passes a range, `True` is not a number, `2.5` is not an integer and `"false"` is not a boolean.
"""

import math
import numbers


def invalid_argument(name, expected, value):
    """The `ValueError` every check raises: argument, what was expected, what was received."""
    return ValueError(f"Invalid value received for argument `{name}`. Expected {expected}. "
                      f"Received: {name}={value!r}")


def validate_range(name, value, low=None, high=None, low_open=False, high_open=False,
                   allow_inf=False):
    """A real number (not bool, not NaN, finite unless `allow_inf`) with `low (<|<=) value
    (<|<=) high`; returned unchanged."""
    expected = f"a float value {_describe_range(low, high, low_open, high_open)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid_argument(name, expected, value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise invalid_argument(name, f"a finite float value "
                                     f"{_describe_range(low, high, low_open, high_open)}".rstrip(),
                               value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise invalid_argument(name, expected, value)
    return value


def validate_int(name, value, low=None, high=None):
    """An integer (Python or NumPy, not bool, not a float such as 2.0) within `[low, high]`;
    returned as a Python int."""
    expected = f"an integer {_describe_range(low, high, False, False)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid_argument(name, expected, value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid_argument(name, expected, value)
    return int(value)


def validate_bool(name, value):
    """A boolean (Python or NumPy); returned as a Python bool. Strings and numbers are refused."""
    if not isinstance(value, (bool, _numpy_bool())):
        raise invalid_argument(name, "a boolean (True or False)", value)
    return bool(value)


def validate_choice(name, value, choices):
    """One of `choices` (compared by equality; unhashable values are refused, not crashed on)."""
    if isinstance(value, (list, dict, set)) or value not in choices:
        raise invalid_argument(name, f"one of {', '.join(repr(c) for c in choices)}", value)
    return value


def _numpy_bool():
    import numpy as np

    return np.bool_


def _describe_range(low, high, low_open, high_open):
    if low is not None and high is not None:
        excluded = [str(bound) for bound, is_open in ((low, low_open), (high, high_open))
                    if is_open]
        return f"between {low} and {high}" + (f" ({' and '.join(excluded)} excluded)"
                                              if excluded else "")
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)


def validate_array(name, value, ndim=None, min_ndim=None, allow_nonfinite=False,
                   allow_empty=False):
    """A numeric (bool, integer or float) array, returned as NumPy (tensors are converted).

    `ndim` is the required rank (an int or a tuple of allowed ranks), `min_ndim` the least
    rank. Unless allowed, NaN or inf values and empty arrays are refused.
    """
    import numpy as np

    expected = _describe_array(ndim, min_ndim, allow_nonfinite, allow_empty)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise _invalid_array(name, expected, f"a value NumPy cannot read ({error})") from None
    if value is None or array.dtype.kind not in "biuf":
        raise _invalid_array(name, expected, f"{type(value).__name__} of dtype {array.dtype}")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if (ranks is not None and array.ndim not in ranks) or (
            min_ndim is not None and array.ndim < min_ndim):
        raise _invalid_array(name, expected, f"an array of shape {array.shape}")
    if not allow_empty and array.size == 0:
        raise _invalid_array(name, expected, f"an empty array of shape {array.shape}")
    if not allow_nonfinite and array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise _invalid_array(name, expected, "an array with NaN or inf values")
    return array


def _describe_array(ndim, min_ndim, allow_nonfinite, allow_empty):
    words = ["a", "non-empty" if not allow_empty else "", "numeric array"]
    if isinstance(ndim, int):
        words.append(f"of rank {ndim}")
    elif ndim is not None:
        words.append(f"of rank {' or '.join(str(r) for r in ndim)}")
    elif min_ndim is not None:
        words.append(f"of rank >= {min_ndim}")
    if not allow_nonfinite:
        words.append("with finite values")
    return " ".join(word for word in words if word)


def _invalid_array(name, expected, received):
    return ValueError(f"Invalid value received for argument `{name}`. Expected {expected}. "
                      f"Received: {received}")
