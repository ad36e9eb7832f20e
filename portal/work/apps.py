from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkConfig(AppConfig):
    name = "portal.work"
    label = "work"
    verbose_name = "Durable work"

    def ready(self):
        from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

        from portal.work import heartbeat, schedules, sweeper

        schedules.register("work: sweep due work", sweeper.sweep, 1)
        # Every app's ready() has run by the time migrate sends this.
        post_migrate.connect(schedules.ensure_schedules, sender=self)
        # A task's claims are renewed while it runs and let go when it ends, in a cluster
        # and in sync mode alike (django-q2 sends both signals around every task).
        pre_execute.connect(heartbeat.task_started, dispatch_uid="portal.work.task_started")
        post_execute_in_worker.connect(heartbeat.task_ended, dispatch_uid="portal.work.task_ended")
        # Each worker process watches for claims a dead node left to run out.
        post_spawn.connect(sweeper.start_watch, dispatch_uid="portal.work.watch")
