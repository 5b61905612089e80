"""The long-running service: schedule, IDLE, signals, reconnects with backoff.

``triage run`` polls every ``poll.interval_seconds`` (via ``schedule``) and,
where the server supports IMAP IDLE, wakes as soon as new mail arrives,
re-issuing IDLE before the server's 30-minute limit (RFC 2177). SIGTERM and
SIGINT stop it between messages: a message is either finished or left in a
state the next start resumes from. Failures of one cycle (server gone,
database down) are logged once per outage and retried with backoff; they never
end the process.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import schedule

from triage import pipeline, store
from triage.errors import MailboxError, StoreError, TriageError
from triage.mailbox import Mailbox
from triage.store import MailboxLock

log = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff (1 s doubling to ``cap``) that logs an outage once:
    the first failure of a kind (IMAP, database...) at ERROR, repeats at DEBUG,
    and the recovery at WARNING."""

    def __init__(self, cap: float = 300.0, on_outage: Callable[[str], None] | None = None) -> None:
        self.cap = cap
        self.failures = 0
        self.outage: str | None = None
        self.first = ""
        self.on_outage = on_outage

    def failed(self, error: Exception) -> float:
        self.failures += 1
        delay = min(self.cap, 2.0 ** (self.failures - 1))
        kind = type(error).__name__
        if self.outage != kind:
            log.error("%s; retrying with backoff (next in %.0fs)", error, delay)
            self.outage, self.first = kind, str(error)
            if self.on_outage:
                self.on_outage(str(error))
        else:
            log.debug("still failing: %s (next in %.0fs)", error, delay)
        return delay

    def succeeded(self) -> None:
        if self.outage:
            log.warning("recovered after %d failed attempt(s) (%s)", self.failures, self.first)
        self.failures, self.outage = 0, None


class Service:
    """Owns the IMAP connection, the mailbox lock and the schedule."""

    def __init__(self, ctx: pipeline.Context, connect: Callable[[], Mailbox],
                 on_cycle: Callable[[pipeline.CycleReport], None] | None = None,
                 extra_jobs: Callable[[schedule.Scheduler], None] | None = None) -> None:
        self.ctx = ctx
        self.connect = connect
        self.on_cycle = on_cycle
        self.stopping = threading.Event()
        self.box: Mailbox | None = None
        self.lock = MailboxLock(ctx.store, ctx.inbox_key)
        self.backoff = Backoff(on_outage=self._record_outage)
        self.scheduler = schedule.Scheduler()
        self.due = True
        self.scheduler.every(ctx.config.poll.interval_seconds).seconds.do(self._mark_due)
        if extra_jobs:
            extra_jobs(self.scheduler)
        ctx.should_stop = self.stopping.is_set

    def _record_outage(self, what: str) -> None:
        """Keep the failure for the digest (when the database is reachable)."""
        kind = "auth_failed" if "login" in what or "token" in what else "imap_error"
        if "database" in what:
            return
        try:
            with self.ctx.store.transaction() as s:
                store.add_event(s, kind, what)
        except StoreError:
            log.debug("could not record the outage: database unavailable")

    def _mark_due(self) -> None:
        self.due = True

    def install_signals(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: stopping after the current message", signal.Signals(signum).name)
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self) -> None:
        """Loop until stopped."""
        log.info("triage service started (poll every %ss, IDLE %s)",
                 self.ctx.config.poll.interval_seconds, "on" if self.ctx.config.poll.idle else "off")
        try:
            while not self.stopping.is_set():
                self._run_jobs()
                if self.due and not self.stopping.is_set():
                    self.due = False
                    delay = self.cycle()
                    if delay:
                        self._sleep(delay)
                        self.due = True
                        continue
                self._wait()
        finally:
            self.close()
            log.info("triage service stopped")

    def _run_jobs(self) -> None:
        try:
            self.scheduler.run_pending()
        except Exception:  # schedule does not catch job errors; one bad job must not end the loop
            log.exception("scheduled job failed")

    def cycle(self) -> float:
        """One poll cycle; returns a backoff delay after a failure, else 0."""
        try:
            if not self.lock.acquire():
                log.info("another instance holds %s; standing by", self.ctx.inbox_key)
                return 0.0
            if self.box is None:
                self.box = self.connect()
            report = pipeline.run_cycle(self.ctx, self.box)
            if report.recorded or report.outcomes or report.corrections:
                log.info("cycle: %s", report.totals())
            if self.on_cycle:
                self.on_cycle(report)
            self.backoff.succeeded()
            return 0.0
        except MailboxError as exc:
            self._drop_connection()
            return self.backoff.failed(exc)
        except StoreError as exc:
            self.lock.release()
            return self.backoff.failed(exc)
        except TriageError as exc:
            return self.backoff.failed(exc)
        except Exception as exc:  # a bug must not end the service: log it, back off, go on
            log.exception("unexpected error in the poll cycle")
            self._drop_connection()
            return self.backoff.failed(exc)

    def _wait(self) -> None:
        """Until the next scheduled job: in IDLE when possible (new mail makes the
        next cycle due at once), else a short sleep."""
        idle_for = min(self.scheduler.idle_seconds or 1.0, self.ctx.config.poll.idle_seconds)
        if self.ctx.config.poll.idle and self.box is not None and self.box.has("IDLE"):
            try:
                if self.box.idle_until(max(0.5, idle_for), self.stopping.is_set):
                    self.due = True
            except MailboxError as exc:
                self._drop_connection()
                self._sleep(self.backoff.failed(exc))
            return
        self._sleep(max(0.2, min(idle_for, 1.0)))

    def _sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def _drop_connection(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None

    def close(self) -> None:
        self._drop_connection()
        self.lock.release()

