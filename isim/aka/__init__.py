"""Authentication and key agreement at the card and the network (TS 33.102 clause 6.3): the
Milenage functions (`milenage`, TS 35.206), the SQN array of the card (`sqn`, TS 33.102
Annex C), the AKA procedure itself, card side and network side (`procedure`: authenticate,
vectors, resynchronisation), GBA_U bootstrapping and NAF derivation (`gba`, TS 33.220), the GSM
conversion functions (`gsm`, TS 33.102 clause 6.8.1.2) and the one home of the AUTHENTICATE
P2 contexts and tags (`codes`, TS 31.102 / TS 31.103 clause 7.1.2). No file or socket here:
the applications (`isim.card.isim_app`, `isim.usim`) and the network side (`isim.network`,
`isim.ims`) call it."""
