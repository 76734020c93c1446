"""gazelab: human gaze from the lab to the model.

Stages, in the order data flows (each uses only those before it):
``acquisition`` -> ``preprocessing`` -> ``datasets`` -> ``analysis`` -> ``models``, over a small
base (:mod:`gazelab.geometry`, :mod:`gazelab.errors`) and under two faces (the ``gazelab``
command, :mod:`gazelab.cli`, and the demo).
"""

from gazelab.errors import GazelabError, ParameterError, ParseError
from gazelab.geometry import Geometry, Placement

__version__ = "0.1.0"

__all__ = ["GazelabError", "Geometry", "ParameterError", "ParseError", "Placement", "__version__", "read"]


def read(path, **kwargs):  # type: ignore[no-untyped-def]
    """Read a gaze recording (see :func:`gazelab.preprocessing.read`)."""
    from gazelab.preprocessing import read as _read

    return _read(path, **kwargs)
