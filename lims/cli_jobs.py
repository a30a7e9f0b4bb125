"""`lims jobs …`: run the background jobs once (for cron) and show their state."""

from __future__ import annotations

from typing import Annotated

import typer

from lims.models import Job

jobs_app = typer.Typer(no_args_is_help=True, help="Background jobs (notification delivery).")


@jobs_app.command("run-once")
def run_once(limit: Annotated[int, typer.Option(help="at most this many jobs")] = 100) -> None:
    """Run every job that is due now, then stop (for cron when `lims serve` runs none)."""
    from lims.jobs import run_once as run

    typer.echo(run(limit=limit).text())


@jobs_app.command("list")
def list_jobs(status: Annotated[str | None, typer.Option(
                  help="only jobs in this state: queued, running, done, failed")] = None,
              limit: Annotated[int, typer.Option(help="how many, newest first")] = 50) -> None:
    """The newest jobs with their state, attempts, next run and last error."""
    from lims.db import session_scope
    from lims.services.jobs import JobStatus, list_jobs

    if status is not None and status not in set(JobStatus):
        raise typer.BadParameter(f"{status!r}: choose one of {', '.join(JobStatus)}")
    with session_scope() as session:
        lines = [_line(job) for job in list_jobs(session, status=status, limit=limit)]
    for line in lines or ["no jobs"]:
        typer.echo(line)


def _line(job: Job) -> str:
    error = f"  last error: {job.last_error}" if job.last_error else ""
    return (f"{job.id:>6} {job.kind:<22} {job.status:<8} attempt {job.attempts}/"
            f"{job.max_attempts}  next {job.run_at.isoformat(timespec='seconds')}{error}")[:300]
