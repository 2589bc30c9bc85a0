"""The detector names (SPEC §4): ingress recognises them, routing conditions and receivers read them."""

RECADRAGE = "recadrage"
DESABO = "desabonnement_journee_tarifs"
DETECTORS = (RECADRAGE, DESABO)
