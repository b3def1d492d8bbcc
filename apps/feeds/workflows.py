"""The feeds app's workflow runtime: the recommend workflow and its activities, under stable names."""

from __future__ import annotations

from dapr.ext.workflow import WorkflowRuntime
from dapr.ext.workflow.logger import LoggerOptions

from apps.feeds.settings import FeedsSettings
from workflows import recommend_activities as act
from workflows.recommend import RECOMMEND_WORKFLOW, recommend_workflow

# The SDK logs every workflow step at INFO; at one workflow per refreshed feed that drowns the app's own logs.
QUIET = LoggerOptions(log_level="WARNING")


def build_runtime(settings: FeedsSettings) -> WorkflowRuntime:
    act.configure(
        act.ActivityDeps(
            mongodb_uri=settings.mongodb_uri,
            mongodb_database=settings.mongodb_database,
            state_store=settings.state_store,
            apps={
                "profiles": settings.profiles_app,
                "recall": settings.recall_app,
                "ranking": settings.ranking_app,
                "rerank": settings.rerank_app,
            },
            deadlines={
                "profile": settings.profile_deadline_s,
                "recall": settings.recall_deadline_s,
                "ranking": settings.ranking_deadline_s,
                "rerank": settings.rerank_deadline_s,
                "popular": settings.popular_deadline_s,
            },
            feed_ttl_s=settings.feed_ttl_s,
            degraded_feed_ttl_s=settings.degraded_feed_ttl_s,
        )
    )
    runtime = WorkflowRuntime(
        logger_options=QUIET, maximum_concurrent_activity_work_items=settings.max_concurrent_activities
    )
    runtime.register_workflow(recommend_workflow, name=RECOMMEND_WORKFLOW)
    for name, activity in act.ACTIVITIES.items():
        runtime.register_activity(activity, name=name)
    return runtime
