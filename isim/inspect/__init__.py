"""`isim inspect`: read an ISIM card (a reader or an image in the in-process engine) and judge
it against specs/filesystem.yaml, the codecs and the trust-domain rule."""
