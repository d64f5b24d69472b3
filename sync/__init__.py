"""The generic sync engine: signed event feeds, their storage and their exchange.

``sync`` knows events, feeds, heads and version vectors; it knows nothing of dossiers, and
reads no certificate itself (certificate material reaches it as values, through the trust
policy ``node`` gives it). The pure core (``wire``, ``clock``, ``chain``, ``protocol``,
``exchange``) and the sans-IO ``session`` (the client's protocol state) and ``auth`` (the
server's request authentication) import only the standard library and each other; ``store``
and ``log`` are the peewee adapters around it, ``engine`` and ``server`` drive the exchange
over HTTP.
"""
