"""Lemo Recommender's domain core: schemas, tenancy, stores, realtime profiles, recall, ranking, evaluation.

Nothing here imports dapr or fastapi; it runs and is tested without any sidecar.
"""

__version__ = "0.1.0"
