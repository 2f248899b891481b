"""oauth-gateway's SQL migrations (``NNNN_name.sql``), applied by ``adapters.database.migrate``."""
