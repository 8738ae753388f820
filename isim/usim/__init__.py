"""The USIM application (3GPP TS 31.102) beside the ISIM: profile keys, EF contents,
AUTHENTICATE (3G and GSM contexts), the write guard and the checks of `isim inspect`."""
