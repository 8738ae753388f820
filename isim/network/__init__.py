"""The network side: the AuC gateway for hostapd (`isim auc-gw`) and its SQN store."""
