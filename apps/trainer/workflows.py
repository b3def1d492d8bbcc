"""The trainer's workflow runtime: every offline workflow and activity, registered under stable names."""

from __future__ import annotations

from dapr.ext.workflow import WorkflowRuntime

from apps.shared.settings import MODELS_TOPIC
from apps.trainer.settings import TrainerSettings
from workflows import cleanup, training, training_activities, training_export
from workflows import popularity_activities as popular
from workflows.popularity import POPULARITY_WORKFLOW, popularity_workflow


def build_runtime(settings: TrainerSettings) -> WorkflowRuntime:
    popular.configure(
        popular.ActivityDeps(
            mongodb_uri=settings.mongodb_uri,
            mongodb_database=settings.mongodb_database,
            state_store=settings.state_store,
        )
    )
    training_activities.configure(
        training_activities.ActivityDeps(
            mongodb_uri=settings.mongodb_uri,
            mongodb_database=settings.mongodb_database,
            artifact_uri=settings.artifact_uri,
            vector_uri=settings.milvus_uri,
            pubsub_name=settings.pubsub_name,
            models_topic=MODELS_TOPIC,
            retention_days=settings.archive_retention_days,
            device=settings.device or None,
        )
    )
    runtime = WorkflowRuntime()
    runtime.register_workflow(popularity_workflow, name=POPULARITY_WORKFLOW)
    runtime.register_activity(popular.rank_popular_items, name=popular.RANK_POPULAR)
    runtime.register_activity(popular.publish_popular_items, name=popular.PUBLISH_POPULAR)
    runtime.register_workflow(training.train_workflow, name=training.TRAIN_WORKFLOW)
    act = training_activities
    for name, activity in (
        (training_export.EXPORT, training_export.export_interactions),
        (training_export.EMBED_TEXTS, training_export.embed_item_texts),
        (act.BUILD_FEATURES, act.build_features),
        (act.TRAIN, act.train_model),
        (act.EVALUATE, act.evaluate_model),
        (act.REGISTER, act.register_model),
        (act.INDEX_VECTORS, act.index_item_vectors),
        (act.ACTIVATE, act.activate_models),
        (act.PUBLISH, act.publish_activations),
    ):
        runtime.register_activity(activity, name=name)
    runtime.register_workflow(cleanup.cleanup_workflow, name=cleanup.CLEANUP_WORKFLOW)
    runtime.register_activity(cleanup.cleanup_tenant, name=cleanup.CLEANUP_TENANT)
    return runtime
