"""motcua node: the one-stop dossier application built on the ``sync`` event engine."""

__version__ = "0.1.0"
