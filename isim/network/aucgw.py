"""The AuC gateway of hostapd's EAP-SIM/AKA/AKA' server: the `hlr_auc_gw` protocol.

hostapd (`eap_sim_db=unix:PATH`) sends one ASCII request per datagram on a UNIX datagram
socket and waits for one reply datagram (no newline, fields separated by one space, hex in
lower case). Requests and replies (hostap's hlr_auc_gw.c / eap_sim_db.c):

    AKA-REQ-AUTH <IMSI>            -> AKA-RESP-AUTH <IMSI> <RAND> <AUTN> <IK> <CK> <RES>
                                      | AKA-RESP-AUTH <IMSI> FAILURE
    AKA-AUTS <IMSI> <AUTS> <RAND>  -> no reply; SQN_HE resynchronised when MAC-S is right
    SIM-REQ-AUTH <IMSI> [<n>]      -> SIM-RESP-AUTH <IMSI> <Kc>:<SRES>:<RAND> ... (n of them,
                                      1..3, else 3) | SIM-RESP-AUTH <IMSI> FAILURE
    GSM-AUTH-REQ <IMSI> <RAND>:<RAND>[:...]
                                   -> GSM-AUTH-RESP <IMSI> <Kc>:<SRES>:... | ... FAILURE

EAP-AKA' uses the same AKA-REQ-AUTH (hostapd derives CK', IK' itself, RFC 5448 3.3); its
vectors need the AMF separation bit (the default AMF 8000). GSM triplets come from Milenage
through the conversion functions c2/c3 (TS 33.102 6.8.1.2), as a USIM answers a GSM-context
AUTHENTICATE.

`AucGateway.handle(datagram)` is sans-IO: request bytes -> reply bytes or None. It never
raises for any input: malformed requests are logged (never their content beyond a short,
printable command word) and ignored. Secrets (K, OPc, RES, CK, IK, Kc, SRES) are never
logged; the log names the command, the IMSI and the outcome.
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from isim.aka.gsm import c2, c3
from isim.aka.milenage import Milenage
from isim.aka.procedure import generate_vector, resync
from isim.digits import is_number
from isim.network.sqn_store import SqnStore
from isim.network.subscribers import Subscriber

__all__ = ["MAX_DATAGRAM", "AucGateway", "Stats"]

log = logging.getLogger("isim.aucgw")

MAX_DATAGRAM = 4096  # hostapd's requests are < 100 bytes; its receive buffer is 1000
MAX_SIM_CHALLENGES = 3  # EAP-SIM: at most 3 RANDs (RFC 4186 10.9); hostapd's fallback too
# An IMSI has at most 15 digits (TS 23.003 2.2); any digit string is looked up (and, when
# not a subscriber, answered FAILURE at once rather than left to hostapd's timeout).
_IMSI = re.compile(r"[0-9]{1,32}")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_WORD = re.compile(r"[A-Z][A-Z0-9-]{0,19}")
_REPLY = {"AKA-REQ-AUTH": "AKA-RESP-AUTH", "SIM-REQ-AUTH": "SIM-RESP-AUTH",
          "GSM-AUTH-REQ": "GSM-AUTH-RESP"}


class Malformed(ValueError):
    """A request that does not follow the protocol (logged, never answered)."""


@dataclass
class Stats:
    requests: int = 0
    vectors: int = 0
    triplets: int = 0
    failures: int = 0
    resyncs: int = 0
    ignored: int = 0


def _hex_field(text: str, length: int, name: str) -> bytes:
    if len(text) != 2 * length or not _HEX.fullmatch(text):
        raise Malformed(f"{name} must be {2 * length} hex digits")
    return bytes.fromhex(text)


class AucGateway:
    """Answers hlr_auc_gw requests for `subscribers`, with SQN_HE kept in `store`."""

    def __init__(self, subscribers: Mapping[str, Subscriber], store: SqnStore,
                 rand: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self.subscribers = subscribers
        self.store = store
        self.stats = Stats()
        self._rand = rand
        self._milenage: dict[str, Milenage] = {}

    def _function(self, sub: Subscriber) -> Milenage:
        m = self._milenage.get(sub.imsi)
        if m is None:
            m = self._milenage[sub.imsi] = Milenage(sub.k, sub.opc)
        return m

    # ------------------------------------------------------------------ dispatch

    def handle(self, datagram: bytes) -> bytes | None:
        """One request -> its reply (None: nothing to send). Never raises."""
        self.stats.requests += 1
        try:
            text = datagram.decode("ascii")
        except UnicodeDecodeError:
            return self._ignore(datagram, "not ASCII")
        fields = text.strip("\r\n\0").split(" ")
        handler = self._HANDLERS.get(fields[0])
        if handler is None:
            return self._ignore(datagram, "unknown command")
        if len(fields) < 2 or not _IMSI.fullmatch(fields[1]):
            return self._ignore(datagram, "missing or malformed IMSI")
        try:
            reply = handler(self, fields[1], fields[2:])
        except Malformed as exc:
            return self._ignore(datagram, str(exc))
        except (sqlite3.Error, OSError) as exc:  # the SQN store: no vector without it
            log.error("%s %s: SQN store error (%s): FAILURE", fields[0], fields[1],
                      exc.__class__.__name__)
            return self._failure(fields[0], fields[1])
        except ValueError as exc:  # e.g. SQN space exhausted
            log.error("%s %s: %s: FAILURE", fields[0], fields[1], exc)
            return self._failure(fields[0], fields[1])
        return None if reply is None else reply.encode("ascii")

    def _ignore(self, datagram: bytes, why: str) -> None:
        self.stats.ignored += 1
        head = datagram.split(b" ", 1)[0][:20].decode("ascii", "replace")
        word = head if _WORD.fullmatch(head) else "?"
        log.warning("ignored a malformed request (%d bytes, command %s): %s",
                    len(datagram), word, why)
        return None

    def _failure(self, command: str, imsi: str) -> bytes | None:
        self.stats.failures += 1
        reply = _REPLY.get(command)
        return None if reply is None else f"{reply} {imsi} FAILURE".encode("ascii")

    def _unknown(self, command: str, imsi: str) -> str:
        self.stats.failures += 1
        log.info("%s %s: unknown IMSI: FAILURE", command, imsi)
        return f"{_REPLY[command]} {imsi} FAILURE"

    # ------------------------------------------------------------------ commands

    def _aka_req_auth(self, imsi: str, args: list[str]) -> str:
        if args:
            raise Malformed("AKA-REQ-AUTH takes only the IMSI")
        sub = self.subscribers.get(imsi)
        if sub is None:
            return self._unknown("AKA-REQ-AUTH", imsi)
        sqn = self.store.take_next(imsi, sub.sqn, sub.sqn_config.ind_bits)  # committed
        v = generate_vector(self._function(sub), self._rand(16), sqn, sub.amf)
        self.stats.vectors += 1
        log.info("AKA-REQ-AUTH %s: vector with SQN %012x", imsi, sqn)
        return (f"AKA-RESP-AUTH {imsi} {v.rand.hex()} {v.autn.hex()} {v.ik.hex()} "
                f"{v.ck.hex()} {v.xres.hex()}")

    def _aka_auts(self, imsi: str, args: list[str]) -> None:
        if len(args) != 2:
            raise Malformed("AKA-AUTS takes IMSI, AUTS and RAND")
        auts = _hex_field(args[0], 14, "AUTS")
        rand = _hex_field(args[1], 16, "RAND")
        sub = self.subscribers.get(imsi)
        if sub is None:
            self.stats.ignored += 1
            log.warning("AKA-AUTS %s: unknown IMSI: ignored", imsi)
            return None
        sqn_ms = resync(self._function(sub), rand, auts)
        if sqn_ms is None:
            self.stats.ignored += 1
            log.warning("AKA-AUTS %s: MAC-S does not verify: ignored", imsi)
            return None
        sqn_he = self.store.resync(imsi, sub.sqn, sqn_ms, sub.sqn_config)
        self.stats.resyncs += 1
        log.info("AKA-AUTS %s: SQN_MS %012x, SQN_HE now %012x", imsi, sqn_ms, sqn_he)
        return None

    def _sim_req_auth(self, imsi: str, args: list[str]) -> str:
        if len(args) > 1:
            raise Malformed("SIM-REQ-AUTH takes IMSI and the number of challenges")
        count = MAX_SIM_CHALLENGES
        if args and is_number(args[0]) and 1 <= int(args[0]) <= MAX_SIM_CHALLENGES:
            count = int(args[0])
        sub = self.subscribers.get(imsi)
        if sub is None:
            return self._unknown("SIM-REQ-AUTH", imsi)
        triplets = [self._triplet(sub, self._rand(16)) for _ in range(count)]
        self.stats.triplets += count
        log.info("SIM-REQ-AUTH %s: %d triplets", imsi, count)
        return f"SIM-RESP-AUTH {imsi} " + " ".join(
            f"{kc.hex()}:{sres.hex()}:{rand.hex()}" for kc, sres, rand in triplets)

    def _gsm_auth_req(self, imsi: str, args: list[str]) -> str:
        if len(args) != 1:
            raise Malformed("GSM-AUTH-REQ takes IMSI and RAND[:RAND...]")
        rands = [_hex_field(r, 16, "RAND") for r in args[0].split(":")]
        if len(rands) > MAX_SIM_CHALLENGES:
            raise Malformed(f"at most {MAX_SIM_CHALLENGES} RANDs")
        sub = self.subscribers.get(imsi)
        if sub is None:
            return self._unknown("GSM-AUTH-REQ", imsi)
        triplets = [self._triplet(sub, rand) for rand in rands]
        self.stats.triplets += len(rands)
        log.info("GSM-AUTH-REQ %s: %d RANDs", imsi, len(rands))
        return f"GSM-AUTH-RESP {imsi} " + ":".join(
            f"{kc.hex()}:{sres.hex()}" for kc, sres, _ in triplets)

    def _triplet(self, sub: Subscriber, rand: bytes) -> tuple[bytes, bytes, bytes]:
        """(Kc, SRES, RAND): Milenage f2, f3, f4, then c3 and c2 (TS 33.102 6.8.1.2)."""
        res, ck, ik, _ = self._function(sub).with_rand(rand).f2345()
        return c3(ck, ik), c2(res), rand

    _HANDLERS: ClassVar[dict[str, Callable[[AucGateway, str, list[str]], str | None]]] = {
        "AKA-REQ-AUTH": _aka_req_auth,
        "AKA-AUTS": _aka_auts,
        "SIM-REQ-AUTH": _sim_req_auth,
        "GSM-AUTH-REQ": _gsm_auth_req,
    }
