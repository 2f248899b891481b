"""No-Docker local stack."""
