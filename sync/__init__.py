"""The generic sync engine: signed event feeds, their storage and (later) their exchange.

``sync`` knows events, feeds, heads and version vectors; it knows nothing of dossiers. The pure
core (``wire``, ``clock``, ``chain``) imports only the standard library; ``store`` and ``log``
are the peewee adapters around it.
"""
