pytest_plugins = ["hub_localstack.pytest_plugin"]
