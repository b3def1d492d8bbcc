"""A Python client for Lemo's public HTTP API (the gateway). It lives outside the domain (`lemo/`): callers of the
API need neither the models nor the stores."""

from lemo_client.client import ApiFailure, LemoClient, ModelsApi

__all__ = ["ApiFailure", "LemoClient", "ModelsApi"]
