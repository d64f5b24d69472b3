"""District PKI (issue 7): certificate authority, enrollment, revocation, verification.

Responsibility: everything that turns keys into trust. The district CA certifies each node's
Ed25519 key (the same key ``node/signing.py`` signs with) together with its role, unit and
validity; nodes verify each other's certificates against that CA, at a trusted time, with a
CRL; revocation is also stated as a :class:`RevocationNotice` for the event log. https, which
browsers do not accept with Ed25519, has its own ECDSA P-256 chain (``certs/tlsca.py``), tied to
the district CA by the CA key's signature.

Depends on nothing of ours except the pure ``sync.wire.node_id_from_public_key``. With
``node/signing.py``, this is the only package that imports ``cryptography``; ``certs/cli.py`` is
the only module here that imports ``click`` (import it explicitly: ``from certs.cli import ca``).
"""

from certs.ca import DistrictCA, create_ca, issue_node_certificate
from certs.errors import CertificateRejected, CertsError, EnrollmentFailure, EnrollmentRefused, Reason
from certs.identity import NodeIdentity, Role, ca_fingerprint, identity_from_certificate
from certs.revocation import RevocationNotice, RevocationReason, check_not_revoked
from certs.verify import verify_node_certificate

__all__ = [
    "CertificateRejected",
    "CertsError",
    "DistrictCA",
    "EnrollmentFailure",
    "EnrollmentRefused",
    "NodeIdentity",
    "Reason",
    "RevocationNotice",
    "RevocationReason",
    "Role",
    "ca_fingerprint",
    "check_not_revoked",
    "create_ca",
    "identity_from_certificate",
    "issue_node_certificate",
    "verify_node_certificate",
]
