"""Transports: the I/O around the sans-IO card engine (`apdu`).

* `transport.vpcd` -- the card behind vsmartcard's vpcd (TCP; socket, threads).
* `transport.pcsc` -- the host side: a PC/SC reader through pyscard.
* `transport.gsmtap` -- APDU traces as GSMTAP over UDP (for Wireshark).

`apdu` never imports this package; this package imports `apdu`, never `isim`.
"""
