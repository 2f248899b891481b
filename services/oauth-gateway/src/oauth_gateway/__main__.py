"""``python -m oauth_gateway``: serve the API and consume onboarding submissions and disconnects."""

from hub_runtime import serve

from oauth_gateway.app import create_app
from oauth_gateway.settings import GatewaySettings

if __name__ == "__main__":
    serve(GatewaySettings(), create_app)
