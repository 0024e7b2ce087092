"""The trusted checking kernel: re-validates certificates without trusting the engine.

Everything in this package is written afresh from the documents (``docs/semantics.md``,
``docs/properties.md``, ``docs/encoders.md``, ``docs/hardware.md``) and imports only the
standard library, numpy and jsonschema — nothing else of verisnn (a test enforces it).
It is the trusted computing base of ``verisnn check``: see ``docs/certificate.md``.
"""

from .check import ENUMERATE_MAX, Finding, bind_model, check_claims
from .guard import KernelLimit, Limits
from .network import Network

__all__ = ["ENUMERATE_MAX", "Finding", "KernelLimit", "Limits", "Network", "bind_model", "check_claims"]
