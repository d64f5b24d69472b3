"""The district's record of what its CA issued and revoked (``issued/`` and ``revoked.json``).

The CLI and the enrollment endpoint record every certificate they issue here, so that a node
can later be revoked by node id (all its certificates at once) and the CRL can be rebuilt
from the ledger at any time.

``revoked.json``::

    {"v": 1, "crl_number": 3,
     "revoked": [{"serial": "5A0C…", "node_id": "…", "after_seq": 120,
                  "reason": "key_compromise", "revoked_at": 1779000000000}]}

Invariants
----------
* Issued certificates are write-once files named by serial.
* Revocation only tightens: revoking an already revoked serial keeps the earliest
  ``revoked_at`` and the smallest ``after_seq`` (a later finding can only invalidate more of a
  node's history, never restore any of it).
* ``crl_number`` strictly increases with each CRL written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from certs.ca import DistrictCA
from certs.errors import CertificateRejected, PkiError
from certs.identity import certificate_pem, identity_from_certificate, parse_certificate, require_utc
from certs.layout import CaLayout
from certs.revocation import RevocationNotice, RevocationReason, RevokedSerial, build_crl, crl_pem
from certs.storage import exclusive_lock, lock_path_for, read_json, replace_file, write_json, write_new_file

LEDGER_FORMAT = 1


def epoch_ms(at: datetime) -> int:
    return int(require_utc(at).timestamp() * 1000)


class Registry:
    """Issued certificates and the revocation ledger of one CA directory."""

    def __init__(self, layout: CaLayout) -> None:
        self.layout = layout

    # -- issued -----------------------------------------------------------------------------

    def record_issued(self, cert: x509.Certificate) -> None:
        """Keep a copy of an issued certificate (write-once, named by serial)."""
        self.layout.issued_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_new_file(self.layout.issued(cert.serial_number), certificate_pem(cert), mode=0o644)

    def issued(self) -> list[x509.Certificate]:
        """Every certificate recorded, oldest first."""
        if not self.layout.issued_dir.is_dir():
            return []
        certs = [parse_certificate(p.read_bytes()) for p in self.layout.issued_dir.glob("*.pem")]
        return sorted(certs, key=lambda c: (c.not_valid_before_utc, c.serial_number))

    def issued_to(self, node_id: str) -> list[x509.Certificate]:
        """The certificates recorded for ``node_id``."""
        out = []
        for cert in self.issued():
            try:
                if identity_from_certificate(cert).node_id == node_id:
                    out.append(cert)
            except CertificateRejected:
                continue
        return out

    def find_serial(self, serial: int) -> x509.Certificate | None:
        path = self.layout.issued(serial)
        return parse_certificate(path.read_bytes()) if path.exists() else None

    # -- revoked ----------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        doc = read_json(self.layout.revoked, {"v": LEDGER_FORMAT, "crl_number": 0, "revoked": []})
        if not isinstance(doc, dict) or doc.get("v") != LEDGER_FORMAT:
            raise PkiError(f"{self.layout.revoked} has an unknown format")
        return doc

    def revoke_node(self, node_id: str, *, after_seq: int, reason: RevocationReason, now: datetime) -> RevocationNotice:
        """Revoke every certificate recorded for ``node_id``; return the notice for the event log."""
        certs = self.issued_to(node_id)
        if not certs:
            raise PkiError(f"no certificate was issued to node {node_id}")
        return self._revoke(node_id, [c.serial_number for c in certs], after_seq, reason, now)

    def revoke_serial(
        self, serial: int, *, after_seq: int, reason: RevocationReason, now: datetime
    ) -> RevocationNotice:
        """Revoke the recorded certificate with ``serial`` (and only it)."""
        cert = self.find_serial(serial)
        if cert is None:
            raise PkiError(f"no certificate with serial {serial:X} was issued here")
        return self._revoke(identity_from_certificate(cert).node_id, [serial], after_seq, reason, now)

    def _revoke(
        self, node_id: str, serials: Iterable[int], after_seq: int, reason: RevocationReason, now: datetime
    ) -> RevocationNotice:
        notice = RevocationNotice(node_id, after_seq, reason, epoch_ms(now))
        with exclusive_lock(lock_path_for(self.layout.revoked)):
            doc = self._read()
            by_serial = {e["serial"]: e for e in doc["revoked"]}
            for serial in serials:
                entry = {"serial": f"{serial:X}", **notice.to_dict()}
                del entry["v"]
                old = by_serial.get(entry["serial"])
                if old is not None:
                    entry["after_seq"] = min(old["after_seq"], after_seq)
                    entry["revoked_at"] = min(old["revoked_at"], notice.revoked_at)
                by_serial[entry["serial"]] = entry
            doc["revoked"] = sorted(by_serial.values(), key=lambda e: (e["revoked_at"], e["serial"]))
            write_json(self.layout.revoked, doc)
        return notice

    def revoked_serials(self) -> list[RevokedSerial]:
        return [
            RevokedSerial(
                int(e["serial"], 16),
                datetime.fromtimestamp(e["revoked_at"] / 1000, UTC),
                RevocationReason(e["reason"]),
            )
            for e in self._read()["revoked"]
        ]

    def notices(self) -> list[RevocationNotice]:
        """One notice per revoked serial, as recorded (after_seq already tightened)."""
        return [
            RevocationNotice(e["node_id"], e["after_seq"], RevocationReason(e["reason"]), e["revoked_at"])
            for e in self._read()["revoked"]
        ]

    def write_crl(self, ca: DistrictCA, *, now: datetime, next_update_in: timedelta) -> x509.CertificateRevocationList:
        """Build, sign and write ``crl.pem`` from the ledger, with the next CRL number."""
        with exclusive_lock(lock_path_for(self.layout.revoked)):
            doc = self._read()
            doc["crl_number"] += 1
            crl = build_crl(
                ca, self.revoked_serials(), now=now, next_update_in=next_update_in, crl_number=doc["crl_number"]
            )
            write_json(self.layout.revoked, doc)
            replace_file(self.layout.crl, crl_pem(crl), mode=0o644)
        return crl
